"""A second worker takes a real share of the work: the partitioned prepare stage spreads, the global stage doesn't."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import orjson
import pytest
from test_robustness import _wait_for_log

from streams.kafka.replay import replay
from streams.settings import Settings
from streams.tools.harness import start_worker, stop_worker, wait_for_outcomes
from streams.tools.synthetic import generate

# Outcome waits of up to 420 s on a loaded host, and two workers to start: longer than the default.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

_COUNTERS = re.compile(r"counters received=(\d+) prepared=(\d+) appended=(\d+)")


def _last_counters(log: Path) -> tuple[int, int, int]:
    found = _COUNTERS.findall(log.read_text(errors="replace"))
    return tuple(int(n) for n in found[-1]) if found else (0, 0, 0)


async def test_two_workers_share_the_preparing_and_one_places(kafka_bootstrap, topic_prefix, tmp_path, monkeypatch):
    monkeypatch.setenv("STORYWIRE_STATS_INTERVAL", "1")
    settings = Settings(broker=kafka_bootstrap, topic_prefix=topic_prefix, home=tmp_path, partitions=4)
    stream = generate(60, seed=11, max_paragraphs=2)
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"".join(orjson.dumps(a) + b"\n" for a in stream.articles))
    logs = [tmp_path / "worker-a.log", tmp_path / "worker-b.log"]
    first = start_worker(settings, logs[0])
    second = start_worker(settings, logs[1])  # same home: each claims its own table directory
    try:
        # Both in the group before anything arrives, so the partitions are split between them.
        for worker, log in zip((first, second), logs):
            await _wait_for_log(log, "Worker ready", worker)
        summary = await replay([feed], settings, progress=lambda _: None)
        state = await wait_for_outcomes(settings, summary.sent, first, timeout=420, progress=lambda _: None)
        await asyncio.sleep(3)  # one more counter line from each
    finally:
        stop_worker(first)
        stop_worker(second)
    entries = [e for s in state["stories"] for e in s["changelog"] if e["kind"] != "merged"]
    placed = len(entries) + len(state["duplicates"])
    assert placed == 60
    counts = [_last_counters(log) for log in logs]
    received = [c[0] for c in counts]
    appended = [c[2] for c in counts]
    assert all(r > 0 for r in received), f"each worker prepares a share: {counts}"
    assert sum(received) == 60
    assert sorted(a > 0 for a in appended) == [False, True], f"one worker places: {counts}"
