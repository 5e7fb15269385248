"""The whole pipeline on a real Kafka: replay -> worker -> story events, subscribers, restarts, the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from streams.kafka.read import subscribe
from streams.kafka.replay import replay
from streams.kafka.topics import STORY_EVENTS
from streams.settings import Settings
from streams.tools.demo import SEEDS
from streams.tools.harness import start_worker, stop_worker, wait_for_outcomes

# Each test waits for outcomes twice at most, up to 420 s each on a loaded host: longer than the default.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

SEED_FILES = sorted(SEEDS.glob("*.txt"))


async def _replay(settings: Settings, paths: list[Path]) -> list[str]:
    """The ids of the articles sent."""
    summary = await replay(paths, settings, progress=lambda _: None)
    return summary.ids


async def _settle(settings: Settings, expected: int, worker) -> dict:
    return await wait_for_outcomes(settings, expected, worker, timeout=420, progress=lambda _: None)


async def test_subscribers_see_the_five_seed_entries_in_version_order(settings, worker, cli_env):
    """Two subscribers from now on, through the API and through `storywire subscribe --json`: nothing is replayed
    until each says it is positioned at the end (the worker creates the topic meanwhile), and each sees every
    entry of the replay."""
    received = []
    positioned = asyncio.Event()

    async def listen():
        async for event in subscribe(settings, on_ready=positioned.set):
            received.append(event)
            if len(received) == 5:
                return

    listener = asyncio.create_task(listen())
    command = subprocess.Popen(
        [sys.executable, "-m", "streams.cli", "--broker", settings.bootstrap, "subscribe", "--json"],
        env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        waiting = asyncio.create_task(positioned.wait())
        await asyncio.wait([listener, waiting], timeout=420, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        assert positioned.is_set(), listener.exception() if listener.done() else "the subscriber was never positioned"
        said = await asyncio.wait_for(asyncio.to_thread(_line_starting, command.stderr, "following "), 420)
        assert said.startswith(f"following {settings.topic(STORY_EVENTS)} from now on"), said
        await _replay(settings, SEED_FILES)
        await asyncio.wait_for(listener, 420)  # the worker starts meanwhile, as in `_settle`
        printed = [orjson.loads(await asyncio.wait_for(asyncio.to_thread(command.stdout.readline), 60)) for _ in range(5)]
    finally:
        command.terminate()
        command.communicate(timeout=60)
    assert [e.version for e in received] == [1, 2, 3, 4, 5]
    assert len({e.story_id for e in received}) == 1
    assert received[0].kind == "started" and all(e.kind == "joined" for e in received[1:])
    assert [(e["story_id"], e["version"], e["kind"]) for e in printed] == [(e.story_id, e.version, e.kind) for e in received]


def _line_starting(stream, prefix: str) -> str:
    """The first line that starts with `prefix` (the lines before it, and the stream's end, fail)."""
    before = []
    for line in stream:
        if line.startswith(prefix):
            return line
        before.append(line)
    raise AssertionError(f"no line starting {prefix!r}; before the end: {''.join(before)}")


async def test_a_restarted_worker_loses_nothing_and_doubles_nothing(settings, worker, tmp_path):
    first = await _replay(settings, SEED_FILES[:3])
    await _settle(settings, len(first), worker)
    stop_worker(worker)

    restarted = start_worker(settings, tmp_path / "worker-2.log")
    try:
        again = await _replay(settings, SEED_FILES)  # the first three again, then the last two
        state = await _settle(settings, len(first) + len(again), restarted)
    finally:
        stop_worker(restarted)

    (story,) = state["stories"]
    assert [e["version"] for e in story["changelog"]] == [1, 2, 3, 4, 5]
    assert len(set(story["article_ids"])) == 5
    redelivered = sorted(d["article_id"] for d in state["duplicates"])
    assert redelivered == sorted(first)
    assert all(d["kind"] == "redelivery" for d in state["duplicates"])


async def test_bad_payloads_become_dead_letters_and_good_ones_still_flow(settings, worker):
    from aiokafka import AIOKafkaProducer

    from streams.kafka.admin import ensure_topics
    from streams.kafka.topics import ARTICLES, topic_specs

    await ensure_topics(settings, [topic_specs(settings)[ARTICLES]])
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap)
    await producer.start()
    try:
        topic = settings.topic("articles")
        await producer.send_and_wait(topic, b"", key=b"empty")
        await producer.send_and_wait(topic, b'{"id": "broken", "title": ', key=b"broken")
        await producer.send_and_wait(topic, b'{"id": "typed", "title": 42}', key=b"typed")
        await producer.send_and_wait(topic, bytes(range(256)) * 4, key=b"binary")
    finally:
        await producer.stop()
    sent = 4 + len(await _replay(settings, SEED_FILES[:1]))
    state = await _settle(settings, sent, worker)
    reasons = {d["article_id"]: d["reason"] for d in state["dead_letters"]}
    assert set(reasons) == {"empty", "broken", "typed", "binary"}
    assert "empty" in reasons["empty"] and "JSON" in reasons["broken"]
    assert "title" in reasons["typed"] and "binary" in reasons["binary"]
    assert len(state["stories"]) == 1


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def cli_env(settings: Settings) -> dict:
    return {**os.environ, "STORYWIRE_HOME": str(settings.home), "STORYWIRE_TOPIC_PREFIX": settings.topic_prefix}


def test_demo_on_the_seeds_gives_one_labelled_story_of_five_entries(settings, cli_env):
    result = _cli("--broker", settings.bootstrap, "demo", "--json", env=cli_env)
    assert result.returncode == 0, result.stderr
    assert "not found in cluster metadata" not in result.stderr  # the outcome topics are made before they are read
    state = orjson.loads(result.stdout)
    (story,) = state["stories"]
    assert len(story["article_ids"]) == 5 and len(story["changelog"]) == 5
    for word in ("NATO", "Russia", "Council", "Jan", "2022"):
        assert word in story["label"]
    assert story["event_date"] == "2022-01-12"
    assert set(story["article_event_dates"].values()) == {"2022-01-12"}
    assert len(story["outlets"]) == 5
    assert state["duplicates"] == [] and state["dead_letters"] == []


def test_demo_on_the_seeds_twice_reports_each_second_copy_as_already_seen(settings, cli_env):
    result = _cli("--broker", settings.bootstrap, "demo", "--json", str(SEEDS), str(SEEDS), env=cli_env)
    assert result.returncode == 0, result.stderr
    state = orjson.loads(result.stdout)
    (story,) = state["stories"]
    assert len(story["changelog"]) == 5
    assert sorted(d["duplicate_of"] for d in state["duplicates"]) == sorted(story["article_ids"])
