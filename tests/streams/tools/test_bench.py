"""The bench times workers and a desk in their steady state, with a history behind them, not empty ones; its
clustering cost is timed with as many live stories as it says, and its text output shows every figure."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from schemas import DeadLetter
from streams.kafka.replay import replay
from streams.pipeline.prepare import prepare
from streams.settings import Settings
from streams.tools import bench
from streams.tools.bench import (
    CpuMeter,
    SteadyDesk,
    children_of,
    clustering_cost,
    cpu_seconds,
    format_bench,
    jit_compiling_seconds,
    received_after,
    steady_stream,
)


def test_the_timed_articles_meet_the_history_s_live_stories_and_extend_them(tmp_path):
    settings = Settings(home=tmp_path)
    history, following = steady_stream(1500, 100, 7)
    steady = SteadyDesk(settings, history, tmp_path, lambda _: None)
    desk = steady.desk
    sizes = {story_id: profile.size for story_id, profile in desk.stories.stories.items()}
    fingerprints = len(desk.duplicates)
    assert len(sizes) > 100 and len(history) == 1500 and len(following) == 100
    assert not {article["id"] for article in history} & {article["id"] for article in following}
    for offset, article in enumerate(following[:50]):
        prepared = prepare(orjson.dumps(article), None, received_after(len(history)) + offset, settings.max_article_bytes)
        if not isinstance(prepared, DeadLetter):
            steady.place(prepared.to_bytes())
    # A stream that started after the history's window would have expired it all on its first article.
    assert desk.stories.live >= 0.8 * len(sizes)
    assert len(desk.duplicates) >= 0.8 * fingerprints
    grown = [story_id for story_id, size in sizes.items() if story_id in desk.stories.stories and desk.stories.stories[story_id].size > size]
    assert grown, "the history's stories go on in the timed articles"
    # The story stage folded the history's articles, and folds the timed ones on from there.
    versions = {story_id: steady.shelf.state(story_id).version for story_id in grown}
    assert steady.fold() >= 40 and all(steady.shelf.state(s).version > v for s, v in versions.items())
    steady.close()


def test_a_short_history_is_followed_at_the_stream_s_own_pace():
    """A short history does not spread the timed articles over weeks (they would meet only one-article stories)."""
    for history in (10, 1500):
        _, following = steady_stream(history, 200, 7)
        times = sorted(datetime.fromisoformat(article["published_at"]) for article in following)
        assert (times[-1] - times[0]).days < 7  # a story's articles go on for a day or two after the stream's last day


async def test_a_timed_worker_places_its_history_first_and_is_timed_on_the_articles_that_follow_only(settings: Settings, tmp_path):
    history, following = steady_stream(60, 20, 7)
    history_feed = bench.write_feed(history, tmp_path, "history")
    feed = bench.write_feed(following, tmp_path, "following")

    async def send(run: Settings) -> int:
        return (await replay([feed], run)).sent

    lines: list[str] = []
    outcomes, articles_per_s, cpu = await bench.on_steady_worker(settings, "steady", history_feed, send, 120, lines.append)
    assert "history: processed 60/60 articles" in lines
    assert {article_id for _, article_id in outcomes.seen} == {article["id"] for article in following}
    assert 0 < len(outcomes.latencies) <= 20 and articles_per_s > 0 and cpu["worker"] > 0


def test_the_clustering_cost_is_timed_with_as_many_live_stories_as_it_says():
    """The synthetic stream's one-article stories are alike: with merging on, they merge as they are added."""
    cost = clustering_cost([200, 600], probes=5, seed=7, progress=lambda _: None)
    assert cost["live_stories"] == {200: 200, 600: 600}
    assert set(cost["us_per_article"]) == {200, 600} and all(us > 0 for us in cost["us_per_article"].values())


def test_the_text_output_shows_every_figure_of_the_json():
    figures = {
        "articles": 3001, "seed": 17, "history_articles": 20003, "place_per_s": 1234.5, "story_per_s": 4321.9, "prepare_per_s": 456.7,
        "worker_place_per_s": 890.1, "articles_per_s": 321.9, "io_ceiling_per_s": 9876.5,
        "compute_ceiling_per_s": 234.6, "ratio_to_ceiling": 1.372, "latency_rate_per_s": 100.0, "p50_ms": 23.4,
        "p99_ms": 187.6, "cluster_us_per_article": {"1000": 65.1, "10000": 73.4, "100000": 85.5},
        "cost_ratio_100k_vs_1k": 1.31, "rss_mb_per_1k_stories": 5.21, "host_loop_s": [2.31, 2.79],
        "cpu_ms_per_article": {"worker": 3.91, "preparing": 5.01, "broker": 1.83, "bench": 0.72},
        "broker_warm_up_articles": 9003, "broker_compiling_share": 0.18,
    }
    text = format_bench(figures)
    shown = ["3,001", "seed 17", "20,003", "1,234.5", "4,321.9", "456.7", "890.1", "321.9", "9,876.5", "234.6", "1.372", "100 ",
             "23.4", "187.6", "65 µs", "73 µs", "86 µs", "1.31", "5.21", "2.31 s before, 2.79 s after",
             "worker 3.91 ms", "preparing 5.01 ms", "broker 1.83 ms", "bench 0.72 ms", "9,003 articles", "18% of its CPU"]
    assert [figure for figure in shown if figure not in text] == []


BUSY_WITH_A_CHILD = """
import subprocess, sys, time
burn = "import sys, time\\nend = time.process_time() + {seconds}\\nwhile time.process_time() < end: pass\\n"
sys.stdin.readline()  # the test's go, once its meter has started
subprocess.Popen([sys.executable, "-c", burn.format(seconds=0.6) + "print(flush=True)\\nsys.stdin.read()"])  # shares this one's stdin, stdout
exec(burn.format(seconds=0.4))
print(flush=True)
sys.stdin.read()  # stays, idle, until the test has read the meter
"""


def test_the_cpu_meter_sums_each_role_s_processes_a_child_started_within_the_window_included():
    idle = subprocess.Popen(
        [sys.executable, "-c", "import sys; print(flush=True); sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    busy = subprocess.Popen([sys.executable, "-c", BUSY_WITH_A_CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert idle.stdout.readline() == "\n"  # its interpreter has started: idle from here on
        meter = CpuMeter({"busy": lambda: [busy.pid], "its child": lambda: children_of(busy.pid), "idle": lambda: [idle.pid], "none": list})
        meter.start()
        busy.stdin.write("go\n")
        busy.stdin.flush()
        assert [busy.stdout.readline(), busy.stdout.readline()] == ["\n", "\n"]  # both burnt (pytest's timeout bounds this)
        taken = meter.stop()
    finally:
        for process in (idle, busy):
            process.stdin.close()
            process.wait(timeout=10)
    assert set(taken) == {"busy", "its child", "idle"}  # a role with no process is left out
    assert taken["busy"] >= 0.35 and taken["its child"] >= 0.55 and taken["idle"] < 0.1  # the child: from zero


SPINNING_JAVA = """
public class Spin {
    static long step(long x) { return x * 6364136223846793005L + 1442695040888963407L; }
    public static void main(String[] args) throws Exception {
        long x = 0;
        for (int i = 0; i < 50_000_000; i++) x = step(x);  // hot enough for both compilers
        System.out.println(x);
        System.in.read();  // stays until the test has looked
    }
}
"""


@pytest.mark.skipif(shutil.which("javac") is None, reason="a single-file Java program needs a JDK's compiler")
def test_the_jit_compiler_threads_of_a_running_jvm_are_found_with_their_own_cpu(tmp_path):
    source = tmp_path / "Spin.java"
    source.write_text(SPINNING_JAVA)
    jvm = subprocess.Popen(["java", str(source)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    python = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        assert jvm.stdout.readline().strip().lstrip("-").isdigit()  # compiled, run, and now waiting
        all_threads = {int(task.name) for task in Path(f"/proc/{jvm.pid}/task").iterdir()}
        compiling = jit_compiling_seconds([jvm.pid, python.pid])
        jvm_seconds = cpu_seconds(jvm.pid)
        assert jit_compiling_seconds([python.pid]) == {}
    finally:
        for process in (jvm, python):
            process.stdin.close()
            process.wait(timeout=30)
    assert compiling and set(compiling) < all_threads  # some of the JVM's threads, not all
    assert 0 < sum(compiling.values()) < jvm_seconds  # they compiled the source and the hot loop, within the JVM's CPU


def warm_up(monkeypatch, readings, pids=(101,)):
    """The broker warmed up with `broker_cpu_seconds` giving these (broker seconds, compilers' seconds by thread)
    in turn: the runs it says it made, the share, and the runs made."""
    figures = iter(readings)
    monkeypatch.setattr(bench, "broker_cpu_seconds", lambda pids: next(figures))
    runs = []

    async def run():
        runs.append(len(runs))

    async def rehearsal():
        pass

    made, share = asyncio.run(bench.warm_up_broker(run, rehearsal, pids, lambda _: None))
    return made, share, len(runs)


def readings_of(shares):
    """Readings before and after each run: the broker takes 10 s a run, its compilers `share` of it."""
    readings, broker, compiler = [], 0.0, 0.0
    for share in shares:
        readings.append((broker, {7: compiler}))
        broker, compiler = broker + 10.0, compiler + 10.0 * share
        readings.append((broker, {7: compiler}))
    return readings


def test_the_broker_is_warmed_until_its_compilers_take_a_tenth_of_its_cpu_at_most(monkeypatch):
    assert warm_up(monkeypatch, readings_of([0.6, 0.25, 0.1])) == (3, pytest.approx(0.1), 3)
    assert warm_up(monkeypatch, readings_of([0.05])) == (1, 0.05, 1)


def test_a_broker_whose_compilers_stay_busy_is_warmed_a_bounded_number_of_runs(monkeypatch):
    made, share, runs = warm_up(monkeypatch, readings_of([0.6] * bench.BROKER_WARM_UP_MAX_RUNS))
    assert (made, runs) == (bench.BROKER_WARM_UP_MAX_RUNS, bench.BROKER_WARM_UP_MAX_RUNS) and share == pytest.approx(0.6)


def test_a_broker_whose_compilers_cannot_be_seen_gets_a_fixed_warm_up(monkeypatch):
    unseen = bench.BROKER_WARM_UP_UNSEEN_RUNS
    assert warm_up(monkeypatch, [(0.0, {}), (0.0, {})], pids=()) == (unseen, None, unseen)  # a broker given: no pids
    assert warm_up(monkeypatch, [(5.0, {}), (15.0, {})]) == (unseen, None, unseen)  # a JVM naming them otherwise


def test_the_warm_up_ends_with_one_rehearsal_of_the_timed_run(monkeypatch):
    figures = iter(readings_of([0.6, 0.05]))
    monkeypatch.setattr(bench, "broker_cpu_seconds", lambda pids: next(figures))
    made = []

    async def run():
        made.append("warm-up")

    async def rehearsal():
        made.append("rehearsal")

    assert asyncio.run(bench.warm_up_broker(run, rehearsal, (101,), lambda _: None)) == (2, 0.05)
    assert made == ["warm-up", "warm-up", "rehearsal"]
