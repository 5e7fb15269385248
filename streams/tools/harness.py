"""What demo, bench, evaluate and the tests share: a broker, a worker process, fresh topics, and the wait
until every article has an outcome."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from streams.kafka.admin import delete_topics, end_offsets, ensure_topics, topic_names
from streams.kafka.connection import client_options, connection_env, security_options
from streams.kafka.read import current_state
from streams.kafka.replay import replay
from streams.kafka.topics import OUTCOMES, STORY_EVENTS, topic_specs
from streams.settings import Settings
from streams.tools.broker import wait_for_broker
from streams.tools.cluster import local_nodes


class RunFailed(Exception):
    """A run of the pipeline that could not finish: the worker died, or articles were not processed in time."""


def start_worker(settings: Settings, log_path: Path) -> subprocess.Popen:
    """The real worker, as a separate process, on the settings' topics, connecting as the settings do."""
    env = {
        **os.environ,
        **connection_env(settings),
        "STORYWIRE_BROKER": settings.bootstrap,
        "STORYWIRE_TOPIC_PREFIX": settings.topic_prefix,
        "STORYWIRE_HOME": str(settings.home),
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )


def stop_worker(worker: subprocess.Popen, timeout: float = 120.0) -> None:
    """SIGTERM first, so the worker commits its offsets and flushes its tables; SIGKILL if it has not exited
    within `timeout` seconds (leaving its group and finishing a batch can take tens of them on a loaded host)."""
    if worker.poll() is not None:
        return
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


@dataclass
class Outcomes:
    """What watching the outcome topics saw: one outcome per (topic, article), the last one's broker time,
    and per story event its publish-to-event latency (ms)."""

    seen: set[tuple[str, str]] = field(default_factory=set)
    last_ms: int = 0
    latencies: list[float] = field(default_factory=list)


async def watch_outcomes(
    settings: Settings,
    expected: int,
    timeout: float,
    worker: subprocess.Popen | None = None,
    progress: Callable[[str], None] = lambda _: None,
    since_ms: float = 0,
    after: dict[TopicPartition, int] | None = None,
) -> Outcomes:
    """Consume the outcome topics until `expected` articles have an outcome (an entry, a duplicate verdict or a
    dead letter; a repeat of the same outcome counts once). Latencies are those of the entries of articles
    sent at or after `since_ms` (epoch milliseconds). From the start of each topic, or from the offsets `after`
    gives (`outcome_ends`): a worker's history is not read again while a run that follows it is timed.

    The outcome topics are made first if the worker has not made them yet (as it would: same specs), so that the
    consumer does not log, for each, that it is not in the cluster's metadata."""
    names = {settings.topic(name): name for name in OUTCOMES}
    specs = topic_specs(settings)
    await ensure_topics(settings, [specs[name] for name in OUTCOMES])
    options = dict(client_options(settings), auto_offset_reset="earliest", enable_auto_commit=False, metadata_max_age_ms=1000)
    consumer = AIOKafkaConsumer(**options) if after is not None else AIOKafkaConsumer(*names, **options)
    await consumer.start()
    outcomes = Outcomes()
    deadline = time.monotonic() + timeout
    reported, last_report = -1, 0.0
    try:
        if after is not None:
            consumer.assign(list(after))
            for partition, offset in after.items():
                consumer.seek(partition, offset)
        while len(outcomes.seen) < expected:
            if worker is not None and worker.poll() is not None:
                raise RunFailed(f"the worker exited with code {worker.returncode}")
            if time.monotonic() > deadline:
                raise RunFailed(f"only {len(outcomes.seen)} of {expected} articles processed after {timeout:.0f}s")
            for tp, messages in (await consumer.getmany(timeout_ms=500)).items():
                for message in messages:
                    value = orjson.loads(message.value)
                    name = names[tp.topic]
                    if value.get("kind") == "merged":
                        continue  # a story absorbed another: not an article's outcome
                    key = (name, value.get("article_id") or f"offset {message.offset}")
                    if key in outcomes.seen:
                        continue
                    outcomes.seen.add(key)
                    outcomes.last_ms = max(outcomes.last_ms, message.timestamp)
                    if name == STORY_EVENTS:
                        raw_ms = datetime.fromisoformat(value["time"]).timestamp() * 1000
                        if raw_ms >= since_ms:
                            outcomes.latencies.append(message.timestamp - raw_ms)
            now = time.monotonic()
            if len(outcomes.seen) != reported and (now - last_report >= 1.0 or len(outcomes.seen) >= expected):
                reported, last_report = len(outcomes.seen), now
                progress(f"processed {reported}/{expected} articles")
    finally:
        await consumer.stop()
    return outcomes


async def outcome_ends(settings: Settings) -> dict[TopicPartition, int]:
    """Where each outcome topic's partitions end now (made as `topic_specs` says, by the worker or by
    `watch_outcomes`): outcomes that come later are read from there on."""
    specs = topic_specs(settings)
    return await end_offsets(settings, [TopicPartition(specs[name].name, number) for name in OUTCOMES for number in range(specs[name].partitions)])


async def wait_for_outcomes(settings: Settings, expected: int, worker: subprocess.Popen, timeout: float, progress) -> dict:
    """Wait until every article has an outcome, then read the stories, duplicates and dead letters back."""
    await watch_outcomes(settings, expected, timeout, worker, progress)
    return await current_state(settings)


@asynccontextmanager
async def broker_for(base: Settings, progress) -> AsyncIterator[Settings]:
    """The given broker, the local one if it already runs, or a local one started now and stopped after."""
    if base.broker is not None:
        await wait_for_broker(base.bootstrap, 15, security_options(base))
        yield base
        return
    nodes = local_nodes(base)
    running = [node.bootstrap for node in nodes if node.node_status()["running"]]
    if running:  # someone else's (`broker up`, perhaps with --nodes): leave it running afterwards
        yield base.model_copy(update={"broker": ",".join(running)})
        return
    progress("starting a local Kafka broker")
    broker = nodes[0]
    bootstrap = broker.up(progress=progress)
    try:
        yield base.model_copy(update={"broker": bootstrap})
    finally:
        progress("stopping the local Kafka broker")
        broker.down()


@asynccontextmanager
async def running_worker(settings: Settings, progress) -> AsyncIterator[tuple[subprocess.Popen, Path]]:
    """A worker on the settings' topics, stopped (and its local table state removed) afterwards."""
    log_path = settings.home / "logs" / f"{settings.topic_prefix}.log"
    worker = start_worker(settings, log_path)
    progress(f"worker started (log: {log_path})")
    try:
        yield worker, log_path
    finally:
        stop_worker(worker)
        shutil.rmtree(settings.worker_dir, ignore_errors=True)


def fresh_topics(base: Settings, purpose: str) -> Settings:
    """Settings on topics no earlier run has used."""
    return base.model_copy(update={"topic_prefix": f"{base.topic_prefix}-{purpose}-{uuid.uuid4().hex[:8]}"})


@asynccontextmanager
async def throwaway_topics(base: Settings, purpose: str, progress) -> AsyncIterator[Settings]:
    """Fresh topics (`fresh_topics`) for a run nobody reads after it, deleted when it ends: every topic named
    after its prefix, its worker's changelogs included. A broker keeps every topic it was given, and one holding
    a hundred or more of runs gone by is not a deployment's broker, and was slower (docs/performance-log.md). A
    cluster that does not let them be deleted gets a line saying which to delete."""
    settings = fresh_topics(base, purpose)
    try:
        yield settings
    finally:
        mine = f"{settings.topic_prefix}-"
        try:
            await delete_topics(settings, [topic for topic in await topic_names(settings) if topic.startswith(mine)])
        except (KafkaError, TimeoutError) as error:
            progress(f"the run's topics were not deleted ({error}): they are named {mine}*")


async def run_once(
    base: Settings,
    paths: list[Path],
    progress,
    timeout: float,
    purpose: str,
    while_up: Callable[[dict, Settings], Awaitable[None]] | None = None,
) -> tuple[dict, Settings, int]:
    """On fresh topics: a broker if none is given, a worker, a replay of the paths, a wait for every
    article, then stop. Returns the state read back, the settings used and how many articles were sent.
    `while_up(state, settings)`, if given, runs before the stop, with the broker and the worker still up
    (`demo --web` serves the story desk there until Ctrl-C)."""
    async with broker_for(fresh_topics(base, purpose), progress) as settings:
        async with running_worker(settings, progress) as (worker, log_path):
            summary = await replay(paths, settings, progress=progress)
            progress(f"replayed {summary.sent} articles")
            try:
                state = await wait_for_outcomes(settings, summary.sent, worker, timeout, progress)
            except RunFailed as failure:
                tail = log_path.read_text(errors="replace").splitlines()[-15:]
                raise RunFailed(f"{failure}; last lines of {log_path}:\n" + "\n".join(tail)) from None
            if while_up is not None:
                await while_up(state, settings)
    return state, settings, summary.sent
