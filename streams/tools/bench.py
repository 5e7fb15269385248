"""`storywire bench`: throughput, latency, ceilings and clustering cost, measured in one run.

- Warm-up: untimed end-to-end runs of BROKER_WARM_UP_RUN_ARTICLES articles, first, until the local broker's JIT
  compilers take at most a tenth of its CPU over a run (at most BROKER_WARM_UP_MAX_RUNS runs; a fixed
  BROKER_WARM_UP_UNSEEN_RUNS where the bench cannot see the broker's compiler threads: a broker given in the
  settings, no /proc, a JVM that names them otherwise). A broker started moments before spends much of its CPU
  compiling its own code (Java's JIT): with HotSpot's two compilers, for 30,000 articles and more of this
  stream, 32-52 % of the broker's CPU in the first seven runs of 3,000. The local broker runs the quick one
  alone (`LocalKafka`), which took 23-25 % in the first run and 4-10 % from the second or third. A deployment's
  broker has run for months.
- Then a rehearsal: the end-to-end run as it is timed (the worker's history, then the stream), untimed. The
  warm-up's runs have small histories; on the 2-core host (2026-12-02), the first run after them with a history
  of 20,000 gave under 1,000 articles/s 5 times in 8 (six sittings of runs on one broker, two bench runs; median
  956), the runs that followed it in 2 of 18 (median 1,070), the worker's and the broker's CPU per article higher
  in the first.
- A steady worker: each timed worker has a history behind it, as a long-lived worker has: `--history` articles
  of a synthetic stream with long-running stories (`steady_stream`), replayed through it untimed until each is
  placed. The articles timed are the ones that follow in the same stream, whose stories go on and whose time
  runs on at the history's pace.
- End to end: the real worker on a real broker, with its history, then the stream that follows it
  replayed as fast as possible; throughput is
  articles over the time from the start of the replay to the broker timestamp of the last outcome. Meanwhile,
  the CPU each process takes per article (`cpu_ms_per_article`): the worker's, its children's, the local
  broker's, the bench's own (it replays the stream): on one machine they share its cores.
- Latency: a second worker on fresh topics, with the same history, the stream that follows it replayed at a
  fixed rate; per article, the story event's broker timestamp minus the raw message's.
- I/O ceiling: plain aiokafka consume-and-produce of the same raw messages on the same broker.
- Every run's topics are deleted after it (`throwaway_topics`): the broker is timed holding one run's topics, as a
  deployment's holds its own, not the topics of every run before it.
- Steady state in one process: before the in-process figures, the same history is placed into a desk whose
  tables are in RocksDB, as a long-lived worker's are; the in-process figures time the stream that follows it
  (the end-to-end stream), with the worker's garbage collector thresholds (GC_THRESHOLDS).
- The global stage alone: placing prepared articles on that desk (decode, dedup, candidates, scoring, the index,
  table writes, the bytes it sends), articles per second: it caps every deployment, however many workers prepare.
  The tables are written as a busy worker writes them: in batches of MAX_BATCH articles, each key once a batch.
- The story stage alone (`story_per_s`): folding what the global stage sent for those articles (decode, fold,
  entries, snapshots, rows written), messages per second on one partition; the workers share its partitions.
- A worker's placing: a third worker on fresh topics, with the same history, fed the stream's articles already prepared
  (`worker_place_per_s`): the global stage with its Kafka traffic, and the story stage, as one worker runs both.
- Compute ceiling: preparing, placing and folding on that desk, in this process, no broker; and preparing alone
  (`prepare_per_s`), which a worker does in child processes (`STORYWIRE_PREPARE_PROCESSES`).
- Clustering cost: time to retrieve, score and decide on an article against 1k, 10k and 100k live stories, stories and
  articles dated as the desk dates them, and resident memory per 1,000 live stories.
"""

from __future__ import annotations

import itertools
import math
import os
import statistics
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas import DeadLetter, PreparedArticle
from schemas.placing import parse_to_story
from streams.kafka.connection import client_options
from streams.kafka.replay import replay
from streams.kafka.topics import ARTICLES, PREPARED
from streams.pipeline.cluster import StoryIndex
from streams.pipeline.features import features
from streams.pipeline.prepare import prepare, prepare_many
from streams.settings import Settings
from streams.story.desk import StoryDesk, collecting_as_the_worker
from streams.story.fold import snapshot, snapshot_due
from streams.story.shelf import StoredRows, StoryShelf
from streams.story.staging import MAX_BATCH, Staging, write_open_batch
from streams.tools.broker import process_stat
from streams.tools.cluster import local_nodes
from streams.tools.harness import (
    Outcomes,
    broker_for,
    outcome_ends,
    running_worker,
    throwaway_topics,
    watch_outcomes,
)
from streams.tools.soak import RocksStores, rss_mb
from streams.tools.synthetic import REPLAYED_AT, generate, stream_over_days
from streams.worker.processes import CHUNK

WARM_UP_ARTICLES = 50  # the short history of each untimed run that warms the broker up
# A worker placing its history is given 10 minutes, and a second more for every 20 articles: 20,000 articles took
# about 30 seconds on a quick two-core host, and about 140 would at the slowest host's 141 articles/s.
HISTORY_TIMEOUT_S, HISTORY_MIN_PER_S = 600.0, 20
STREAM_PER_DAY = 2_000  # the pace of the bench's steady stream, in articles per day of publication time
HOST_LOOP_ADDITIONS = 10_000_000  # the loop that times the host's own speed (`host_loop_seconds`)
BROKER_WARM_UP_RUN_ARTICLES = 3_000  # each untimed run: the JIT's work is the broker's, whatever --articles says
BROKER_WARM_UP_MAX_RUNS = 8  # however busy the broker's compilers stay
BROKER_WARM_UP_UNSEEN_RUNS = 2  # where the compilers cannot be seen
# How HotSpot names its compiler threads, as Linux shows them (cut to 15 characters): C1's, C2's.
JIT_COMPILER_THREADS = ("C1 CompilerThre", "C2 CompilerThre")
JIT_QUIET_SHARE = 0.10  # the broker is warm once its JIT compilers took at most this share of its CPU over a run
PROBE_ROUNDS = 5  # clustering cost is the fastest of this many rounds over the probes: other load only adds time


def host_loop_seconds() -> float:
    """Seconds a fixed loop of pure Python takes: the host's own speed at the time. On a shared machine it moves
    every other figure by a third from one hour to the next, so runs are compared on it too."""
    started = time.perf_counter()
    total = 0
    for number in range(HOST_LOOP_ADDITIONS):
        total += number
    return time.perf_counter() - started


def write_feed(articles: list[dict], directory: Path, name: str) -> Path:
    path = directory / f"{name}.jsonl"
    path.write_bytes(b"".join(orjson.dumps(a) + b"\n" for a in articles))
    return path


async def on_steady_worker(
    base: Settings, purpose: str, history: Path, send: Callable[[Settings], Awaitable[int]], timeout: float, progress,
    broker_pids: Sequence[int] = (),
) -> tuple[Outcomes, float, dict[str, float]]:
    """A worker on fresh topics, deleted after it (`throwaway_topics`), with a history behind it: the `history`
    feed replayed through it first, untimed, until every article of it has an outcome, as a long-lived worker has placed
    thousands before the ones timed (a worker just started has an empty desk, and its first articles wait for its
    group join, its child processes and its first desk load). Then `send(settings)`, which returns how many
    articles it sent, and a wait for their outcomes, read from where the history's outcomes end. Returns them
    (with the latencies of the articles `send` sent), articles per second from the start of `send` to the broker
    timestamp of the last outcome, and the CPU milliseconds per article sent that each process took meanwhile
    (`CpuMeter`; the brokers' if `broker_pids` says where they run)."""
    async with throwaway_topics(base, purpose, progress) as settings, running_worker(settings, progress) as (worker, _):
        history_progress = _history(progress)
        placed = (await replay([history], settings, progress=history_progress)).sent
        timeout_s = HISTORY_TIMEOUT_S + placed / HISTORY_MIN_PER_S
        await watch_outcomes(settings, placed, timeout=timeout_s, worker=worker, progress=history_progress)
        history_ends = await outcome_ends(settings)
        meter = CpuMeter({
            "worker": lambda: [worker.pid],
            "preparing": lambda: children_of(worker.pid),
            "broker": lambda: list(broker_pids),
            "bench": lambda: [os.getpid()],
        })
        meter.start()
        started_ms = time.time() * 1000
        sent = await send(settings)
        outcomes = await watch_outcomes(settings, sent, timeout=timeout, worker=worker, since_ms=started_ms, after=history_ends)
        cpu = {role: round(1000 * seconds / sent, 2) for role, seconds in meter.stop().items()}
    return outcomes, sent / ((outcomes.last_ms - started_ms) / 1000), cpu


def _history(progress):
    return lambda line: progress(f"history: {line}")


class CpuMeter:
    """CPU time (user and system, from /proc: Linux only) that processes took over a window, summed by role. Each
    role's processes are listed when the window starts and when it ends: one started within it counts from zero,
    one that ended within it is missed. A role with no process is left out, and so is every role without /proc."""

    def __init__(self, roles: dict[str, Callable[[], list[int]]]) -> None:
        self.roles = roles
        self.started: dict[int, float] = {}

    def _taken(self) -> dict[str, dict[int, float]]:
        if not Path("/proc/self/stat").exists():
            return {}
        taken: dict[str, dict[int, float]] = {}
        for role, pids in self.roles.items():
            seconds = {pid: cpu_seconds(pid) for pid in pids()}
            taken[role] = {pid: s for pid, s in seconds.items() if s is not None}  # gone since it was listed: missed
        return taken

    def start(self) -> None:
        self.started = {pid: seconds for taken in self._taken().values() for pid, seconds in taken.items()}

    def stop(self) -> dict[str, float]:
        """Seconds of CPU per role since `start`."""
        return {
            role: sum(seconds - self.started.get(pid, 0.0) for pid, seconds in taken.items())
            for role, taken in self._taken().items()
            if taken
        }


def cpu_seconds(pid: int, thread: int | None = None) -> float | None:
    """The CPU time a process has taken so far, its threads' included, or one of its threads' own (None if it is
    gone)."""
    fields = process_stat(pid, thread)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def children_of(parent: int) -> list[int]:
    """The processes whose parent is `parent` (a worker's: the child processes it prepares in, spawned)."""
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and (fields := process_stat(int(entry.name))) is not None and int(fields[1]) == parent
    ]


def local_broker_pids(base: Settings) -> list[int]:
    """The JVMs of the local broker or cluster the bench runs on (`broker_for` with no broker given), checked to be
    those brokers (`node_status`), for their CPU; none for a broker given in the settings, which may run anywhere."""
    if base.broker is not None:
        return []
    return [pid for node in local_nodes(base) if (pid := node.node_status()["pid"]) is not None]


def jit_compiler_threads(pid: int) -> dict[int, str]:
    """The threads of a JVM that compile Java to machine code ("C1 CompilerThread0", "C2 CompilerThread1": Linux
    shows a thread's name cut to 15 characters), their names by thread id; none if it is gone, or there is no /proc."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return {}
    threads = {}
    for task in tasks:
        try:
            name = task.joinpath("comm").read_text()
        except OSError:
            continue  # ended since it was listed
        if name.startswith(JIT_COMPILER_THREADS):
            threads[int(task.name)] = name.strip()
    return threads


def jit_compiling_seconds(pids: Sequence[int]) -> dict[int, float]:
    """CPU seconds so far of each JIT compiler thread of these JVMs (`jit_compiler_threads`), by thread id. A
    thread's own figures are under /proc/<pid>/task/<id>: /proc/<id> reads as the whole process."""
    seconds = {}
    for pid in pids:
        for thread in jit_compiler_threads(pid):
            if (taken := cpu_seconds(pid, thread)) is not None:
                seconds[thread] = taken
    return seconds


def broker_cpu_seconds(pids: Sequence[int]) -> tuple[float, dict[int, float]]:
    """The brokers' CPU seconds so far, and their JIT compiler threads' by thread id (`jit_compiling_seconds`)."""
    return sum(seconds for pid in pids if (seconds := cpu_seconds(pid)) is not None), jit_compiling_seconds(pids)


async def warm_up_broker(
    run: Callable[[], Awaitable[object]], rehearsal: Callable[[], Awaitable[object]], broker_pids: Sequence[int], progress
) -> tuple[int, float | None]:
    """Untimed end-to-end runs (`run`) until the brokers' JIT compilers took at most JIT_QUIET_SHARE of their CPU over
    one, as in a broker that has run for a while; then one `rehearsal`: the timed run made untimed, as a deployment's
    broker has handled its like before (see the module docstring). Returns the runs made before it and the
    compilers' share in the last (None where they cannot be seen: BROKER_WARM_UP_UNSEEN_RUNS runs then). A compiler
    thread that ends within a run is missed (HotSpot removes the extra ones it starts on hosts with more cores),
    which understates the share."""
    made, share = await _until_compilers_quiet(run, broker_pids, progress)
    progress("a rehearsal: the end-to-end run, untimed, as it is made timed")
    await rehearsal()
    return made, share


async def _until_compilers_quiet(run: Callable[[], Awaitable[object]], broker_pids: Sequence[int], progress) -> tuple[int, float | None]:
    for made in range(1, BROKER_WARM_UP_MAX_RUNS + 1):
        broker_before, compiling_before = broker_cpu_seconds(broker_pids)
        await run()
        broker_after, compiling_after = broker_cpu_seconds(broker_pids)
        if broker_after <= broker_before or not (compiling_before or compiling_after):
            progress(f"the broker's JIT compilers cannot be seen: {BROKER_WARM_UP_UNSEEN_RUNS} warm-up runs")
            for _ in range(made, BROKER_WARM_UP_UNSEEN_RUNS):
                await run()
            return max(made, BROKER_WARM_UP_UNSEEN_RUNS), None
        compiling = sum(seconds - compiling_before.get(thread, 0.0) for thread, seconds in compiling_after.items())
        share = compiling / (broker_after - broker_before)
        progress(f"warm-up run {made}: the broker's JIT compilers took {share:.0%} of its CPU")
        if share <= JIT_QUIET_SHARE:
            break
    else:
        progress(f"the broker's compilers are still busy after {BROKER_WARM_UP_MAX_RUNS} warm-up runs: timing anyway")
    return made, share


async def end_to_end(
    base: Settings, feed: Path, history: Path, progress, broker_pids: Sequence[int] = ()
) -> tuple[float, dict[str, float]]:
    """Articles per second the worker prepares and places, replayed as fast as possible, and the CPU per
    article each process took meanwhile."""

    async def send(settings: Settings) -> int:
        return (await replay([feed], settings, progress=progress)).sent

    _, articles_per_s, cpu = await on_steady_worker(base, "bench", history, send, 1800, progress, broker_pids)
    return articles_per_s, cpu


async def latency(base: Settings, feed: Path, history: Path, rate: float, progress) -> list[float]:
    """Publish-to-story-event latencies of a stream replayed at `rate` to a worker with a history behind it."""

    async def send(settings: Settings) -> int:
        return (await replay([feed], settings, rate, progress)).sent

    outcomes, _, _ = await on_steady_worker(base, "latency", history, send, 600, progress)
    return outcomes.latencies


async def worker_placing(base: Settings, prepared: list[PreparedArticle], history: Path, progress) -> float:
    """Articles per second the place stage of a running worker places when fed prepared articles directly, so
    none of its time goes to preparing: what one worker places for a deployment whose other workers prepare."""

    async def send(settings: Settings) -> int:
        producer = AIOKafkaProducer(**client_options(settings), acks="all", linger_ms=5)
        await producer.start()
        try:
            for article in prepared:
                await producer.send(settings.topic(PREPARED), article.to_bytes(), key=article.article.article_id.encode())
            await producer.flush()
        finally:
            await producer.stop()
        return len(prepared)

    _, articles_per_s, _ = await on_steady_worker(base, "place", history, send, 1800, progress)
    return articles_per_s


async def io_ceiling(base: Settings, feed: Path, progress) -> float:
    """Plain consume-and-produce of the feed's raw messages, replayed first (untimed) to topics of its own."""
    async with throwaway_topics(base, "io-ceiling", progress) as settings:
        expected = (await replay([feed], settings, progress=progress)).sent
        return await _consume_and_produce(settings, expected)


async def _consume_and_produce(settings: Settings, expected: int) -> float:
    """Messages per second that one consumer and one producer move from the raw topic to another, `expected` of them."""
    consumer = AIOKafkaConsumer(
        settings.topic(ARTICLES),
        **client_options(settings),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=settings.topic("io-ceiling"),
    )
    producer = AIOKafkaProducer(**client_options(settings), acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    try:
        moved, started = 0, None
        while moved < expected:
            batches = await consumer.getmany(timeout_ms=1000)
            started = started or time.perf_counter()
            for messages in batches.values():
                for message in messages:
                    await producer.send(settings.topic("io-ceiling-out"), message.value, key=message.key)
                    moved += 1
        await producer.flush()
        return moved / (time.perf_counter() - started)
    finally:
        await consumer.stop()
        await producer.stop()


def steady_stream(history: int, following: int, seed: int) -> tuple[list[dict], list[dict]]:
    """A long-lived worker's history: `history` articles with long-running stories; and the `following` articles
    of the same stream, to be timed. They go on where the history stops, at its pace, STREAM_PER_DAY whatever
    the history's length (a stream that started later would expire the whole history on its first article and
    meet an empty desk)."""
    stream = stream_over_days(history + following, (history + following) / STREAM_PER_DAY, seed=seed, max_paragraphs=12)
    return list(itertools.islice(stream, history)), list(stream)


def received_after(history: int) -> int:
    """The broker time given to the first article after an in-process history of `history` articles, each of
    which has the one before it plus one."""
    return REPLAYED_AT + history + 1


class SteadyDesk:
    """Both placing stages as a long-lived, busy worker has them: a history of articles (`steady_stream`) already
    placed and folded, their tables in RocksDB, written in the worker's batches. `place` is the global stage's work
    for one article, `fold` the story stage's for the messages placing sent since (one partition holds them all)."""

    def __init__(self, settings: Settings, history: list[dict], directory: Path, progress) -> None:
        self.rocks = RocksStores(directory / "tables")
        self.staging = Staging(self.rocks.stores)
        self.desk = StoryDesk(settings, self.staging.stores)
        self.placed = 0  # articles of the open batch
        self.rows = self.rocks.rows  # the story stage's table
        self.shelf = StoryShelf(StoredRows(self.rows))
        self.placements: list[bytes] = []  # sent by placing, not folded yet
        for number, raw in enumerate(history, start=1):
            prepared = prepare(orjson.dumps(raw), None, REPLAYED_AT + number, settings.max_article_bytes)
            if not isinstance(prepared, DeadLetter):
                self.place(prepared.to_bytes())
            if number % 10_000 == 0:
                self.fold()
                progress(f"history: {number:,} of {len(history):,} articles placed")
        self.write()
        self.fold()

    def place(self, message: bytes) -> None:
        """The global stage's work for one prepared article's message, as the worker does it: decode, place, the
        bytes of what it sends, and (every MAX_BATCH articles, as a busy worker) the batch's table writes."""
        outcome = self.desk.place(PreparedArticle.from_bytes(message))
        self.placements.extend(value for kind, _, value in self.desk.messages(outcome) if kind == "story")
        self.placed += 1
        if self.placed == MAX_BATCH:
            self.write()

    def write(self) -> None:
        write_open_batch(self.staging)
        self.placed = 0

    def fold(self) -> int:
        """The story stage's work for the messages placing sent (and the handovers they make): decode, fold, the
        entries' bytes, and per MAX_BATCH messages its snapshots and rows, written. Returns the messages taken."""
        pending, taken, entries = deque(self.placements), 0, []
        self.placements = []
        while pending:
            for done in self.shelf.receive(parse_to_story(pending.popleft())):
                entries.extend(done.entries)
                for entry in done.entries:
                    entry.to_bytes()
                pending.extend(handover.to_bytes() for handover in done.handovers)
            taken += 1
            if taken % MAX_BATCH == 0 or not pending:
                for story_id in {entry.story_id for entry in entries if snapshot_due(entry)}:
                    snapshot(story_id, self.shelf.state(story_id)).to_bytes()
                self.rows.write_all(self.shelf.written())
                entries = []
        return taken

    def close(self) -> None:
        self.desk = self.staging = self.shelf = None
        self.rocks.close()


def place_rate(steady: SteadyDesk, messages: list[bytes]) -> tuple[float, float]:
    """Articles per second the global stage alone places (the prepared articles' messages made beforehand, as a
    child process makes them), and messages per second the story stage alone folds of what it sent."""
    started = time.perf_counter()
    for message in messages:
        steady.place(message)
    steady.write()
    placed = time.perf_counter()
    taken = steady.fold()
    return len(messages) / (placed - started), taken / (time.perf_counter() - placed)


def compute_ceiling(steady: SteadyDesk, payloads: list[bytes], received_from: int, settings: Settings) -> tuple[float, float]:
    """The worker's work per article without a broker, in one process: articles per second preparing and
    placing, and preparing alone. Prepared a chunk at a time, as a worker's child prepares a busy stream."""
    preparing = 0.0
    started = time.perf_counter()
    for first in range(0, len(payloads), CHUNK):
        work = [(payload, None, received_from + index) for index, payload in enumerate(payloads[first : first + CHUNK], first)]
        before = time.perf_counter()
        results = prepare_many(work, settings.max_article_bytes)
        preparing += time.perf_counter() - before
        for prepared, _ in results:
            if isinstance(prepared, Exception):
                raise prepared  # a bug, which a worker would dead-letter: not to be timed past
            if not isinstance(prepared, DeadLetter):
                steady.place(prepared.to_bytes())  # the child's work in a worker
    steady.write()
    steady.fold()
    return len(payloads) / (time.perf_counter() - started), len(payloads) / preparing


def clustering_cost(sizes: list[int], probes: int, seed: int, progress) -> dict:
    """Microseconds to retrieve, score and decide on one article with N live stories, and RSS per 1,000 live stories.

    Each size has an index of its own, built with merging off, so that N stories added are N live: the synthetic
    stream's stories are alike, and with merging on, 100,000 added left 38,772 live. Stories and probes are dated
    by their articles' publication times, as the desk dates them (`article_days`), so scoring reads each
    candidate's days as a worker's does. The probes time retrieving, scoring and deciding, which do not merge.
    The sizes are timed in turn, round after round, each after an untimed pass (as an index in use is warm), and
    each size's figure is its fastest round: a machine whose speed drifts (other load, a neighbour's) slows every
    size alike, where timing each size once as one index grew compared the smallest with the largest a minute
    later."""
    largest = max(sizes)
    stream = generate(largest + probes, seed=seed, duplicate_rate=0.0, mean_story_size=1.0, max_paragraphs=1)
    vectors = [features(a["title"], a["text"]) for a in stream.articles]
    days = [{datetime.fromisoformat(a["published_at"]).timestamp() / 86400} for a in stream.articles]
    indexes: dict[int, StoryIndex] = {}
    for size in sorted(sizes, reverse=True):  # the largest first, so its memory is measured alone
        rss_before = rss_mb()
        index = indexes[size] = StoryIndex(half_life_days=1.5, window_seconds=10**9, merge_threshold=math.inf)
        for number, (vector, dated) in enumerate(zip(vectors[:size], days), start=1):
            index.add(f"s{number}", vector, float(number), dated)
        if size == largest:
            rss_per_1k = (rss_mb() - rss_before) / (index.live / 1000)
        progress(f"clustering: an index of {index.live:,} live stories built")
    per_article = {size: math.inf for size in sorted(sizes)}
    probing = list(zip(vectors[largest:], days[largest:]))
    for _ in range(PROBE_ROUNDS):
        for size in per_article:
            _place_time(indexes[size], probing)
            per_article[size] = min(per_article[size], _place_time(indexes[size], probing))
    for size, us in per_article.items():
        progress(f"clustering with {indexes[size].live:,} live stories: {us:.0f} µs per article")
    live = {size: indexes[size].live for size in per_article}
    return {"us_per_article": per_article, "live_stories": live, "rss_mb_per_1k_stories": rss_per_1k}


def _place_time(index: StoryIndex, probes: list[tuple[dict, set[float]]]) -> float:
    """Mean microseconds to retrieve, score and decide for each probe article (its vector and days)."""
    started = time.perf_counter()
    for vector, days in probes:
        index.decision(vector, days, 0.3)
    return (time.perf_counter() - started) / len(probes) * 1e6


def prepared_only(results: list) -> list[PreparedArticle]:
    return [result for result in results if not isinstance(result, DeadLetter)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def run_bench(base: Settings, articles: int, seed: int, rate: float, history: int, progress) -> dict:
    loop_before = host_loop_seconds()
    latency_articles = max(1, round(rate * 10))  # ten seconds of the rate, or one article
    past, following = steady_stream(history, max(articles, latency_articles), seed)
    stream = following[:articles]
    broker_warm_up_stream = generate(BROKER_WARM_UP_RUN_ARTICLES, seed=seed + 3)
    warm_up_stream = generate(WARM_UP_ARTICLES, seed=seed + 2)
    with tempfile.TemporaryDirectory() as tmp:
        feed = write_feed(stream, Path(tmp), "stream")
        latency_feed = write_feed(following[:latency_articles], Path(tmp), "latency")
        history_feed = write_feed(past, Path(tmp), "history")
        warm_up = [{**a, "id": f"warm-up-{a['id']}"} for a in warm_up_stream.articles]  # ids of their own
        warm_up_feed = write_feed(warm_up, Path(tmp), "warm-up")
        broker_warm_up_feed = write_feed(broker_warm_up_stream.articles, Path(tmp), "broker-warm-up")
        payloads = [orjson.dumps(a) for a in stream]
        # Broker times after the in-process desk's history. The place-only worker's history came with the broker's
        # own: these only move its estimate of how far the stream runs behind, as every synthetic article is dated.
        received_from = received_after(history)
        results = [prepare(payload, None, received_from + i, base.max_article_bytes) for i, payload in enumerate(payloads)]
        async with broker_for(base, progress) as settings:
            broker_pids = local_broker_pids(base)
            progress(f"warming up the broker: untimed runs of {BROKER_WARM_UP_RUN_ARTICLES:,} articles until its compilers are quiet")
            warm_up_runs, compiling_share = await warm_up_broker(
                lambda: end_to_end(settings, broker_warm_up_feed, warm_up_feed, progress),
                lambda: end_to_end(settings, feed, history_feed, progress),
                broker_pids,
                progress,
            )
            progress(f"end to end: {articles:,} articles, on a worker with a history of {history:,}")
            articles_per_s, cpu = await end_to_end(settings, feed, history_feed, progress, broker_pids)
            progress(f"end to end: {articles_per_s:,.0f} articles/s; I/O ceiling next")
            io_per_s = await io_ceiling(settings, feed, progress)
            progress(f"latency at {rate:g} articles/s, on a worker with a history of {history:,}")
            latencies = await latency(settings, latency_feed, history_feed, rate, progress)
            progress(f"a worker's place stage fed prepared articles, on a worker with a history of {history:,}")
            worker_place_per_s = await worker_placing(settings, prepared_only(results), history_feed, progress)
    progress(f"steady state: placing a history of {history:,} articles")
    with collecting_as_the_worker():  # with the defaults, collecting the history's heap dominated
        with tempfile.TemporaryDirectory() as tmp:
            steady = SteadyDesk(base, past, Path(tmp), progress)
            half = articles // 2
            progress("the global stage alone, then the compute ceiling")
            place_per_s, story_per_s = place_rate(steady, [article.to_bytes() for article in prepared_only(results[:half])])
            compute_per_s, prepare_per_s = compute_ceiling(steady, payloads[half:], received_from + half, base)
            steady.close()
    cost = clustering_cost([1_000, 10_000, 100_000], probes=300, seed=seed, progress=progress)
    loop_after = host_loop_seconds()
    lower = min(io_per_s, compute_per_s)
    return {
        "articles": articles,
        "seed": seed,
        "history_articles": history,
        "place_per_s": round(place_per_s, 1),
        "story_per_s": round(story_per_s, 1),
        "prepare_per_s": round(prepare_per_s, 1),
        "worker_place_per_s": round(worker_place_per_s, 1),
        "articles_per_s": round(articles_per_s, 1),
        "io_ceiling_per_s": round(io_per_s, 1),
        "compute_ceiling_per_s": round(compute_per_s, 1),
        "ratio_to_ceiling": round(articles_per_s / lower, 3),
        "latency_rate_per_s": rate,
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "cluster_us_per_article": {str(k): round(v, 1) for k, v in cost["us_per_article"].items()},
        "cost_ratio_100k_vs_1k": round(cost["us_per_article"][100_000] / cost["us_per_article"][1_000], 2),
        "rss_mb_per_1k_stories": round(cost["rss_mb_per_1k_stories"], 2),
        "host_loop_s": [round(loop_before, 2), round(loop_after, 2)],
        "cpu_ms_per_article": cpu,
        "broker_warm_up_articles": warm_up_runs * BROKER_WARM_UP_RUN_ARTICLES + history + articles,  # the rehearsal's too
        "broker_compiling_share": None if compiling_share is None else round(compiling_share, 2),
    }


def format_bench(figures: dict) -> str:
    cluster = figures["cluster_us_per_article"]
    loop_before, loop_after = figures["host_loop_s"]
    compiling = figures["broker_compiling_share"]
    return "\n".join(
        [
            f"end to end            {figures['articles_per_s']:>10,.1f} articles/s  ({figures['articles']:,} articles, seed {figures['seed']})",
            f"I/O ceiling           {figures['io_ceiling_per_s']:>10,.1f} messages/s (aiokafka consume + produce)",
            f"compute ceiling       {figures['compute_ceiling_per_s']:>10,.1f} articles/s (prepare + place, one process, after {figures['history_articles']:,} articles)",
            f"global stage alone    {figures['place_per_s']:>10,.1f} articles/s (placing, tables in RocksDB, after {figures['history_articles']:,} articles)",
            f"story stage alone     {figures['story_per_s']:>10,.1f} messages/s (folding what placing sent, on one partition)",
            f"preparing alone       {figures['prepare_per_s']:>10,.1f} articles/s per process",
            f"a worker's placing    {figures['worker_place_per_s']:>10,.1f} articles/s (its place stage fed prepared articles, on the broker)",
            f"ratio to lower        {figures['ratio_to_ceiling']:>10.3f}",
            f"latency p50 / p99     {figures['p50_ms']:>7,.1f} / {figures['p99_ms']:,.1f} ms at {figures['latency_rate_per_s']:g} articles/s",
            "clustering per article " + ", ".join(f"{int(k):,} stories: {v:,.0f} µs" for k, v in cluster.items()),
            f"cost ratio 100k / 1k  {figures['cost_ratio_100k_vs_1k']:>10.2f}",
            f"memory                {figures['rss_mb_per_1k_stories']:>10.2f} MB RSS per 1,000 live stories",
            f"host speed            {HOST_LOOP_ADDITIONS:,} additions in pure Python: {loop_before:.2f} s before, "
            f"{loop_after:.2f} s after",
            "CPU per article       "
            + (", ".join(f"{role} {ms:.2f} ms" for role, ms in figures["cpu_ms_per_article"].items()) or "not measured (no /proc)")
            + " (end to end)",
            f"broker warm-up        {figures['broker_warm_up_articles']:>10,} articles (untimed; "
            + ("its JIT compilers not seen" if compiling is None
               else f"in its last run of {BROKER_WARM_UP_RUN_ARTICLES:,} its JIT compilers took {compiling:.0%} of its CPU")
            + "; then the rehearsal)",
        ]
    )
