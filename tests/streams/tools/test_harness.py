"""A run's throwaway topics are gone after it, and only they: on a real broker. A cluster that keeps them gets a
line saying which they are, and the run goes on; its answer names the topic and the error code (a stand-in admin
client plays it). Outcomes are read from where a worker's history ended, when asked."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from streams.kafka import admin
from streams.kafka.admin import delete_topics, ensure_topics, topic_names
from streams.kafka.connection import client_options
from streams.kafka.topics import DUPLICATES, STORY_EVENTS, TopicSpec
from streams.settings import Settings
from streams.tools import harness


async def listed_after_deletion(settings: Settings, deleted: list[str], seconds: float = 10.0) -> set[str]:
    """The topics listed once none of `deleted` is (the broker learns of a deletion from the controller a moment
    after it answers), or after `seconds`."""
    for _ in range(int(seconds * 10)):
        listed = set(await topic_names(settings))
        if not listed & set(deleted):
            break
        await asyncio.sleep(0.1)
    return listed


async def test_a_run_s_topics_are_deleted_after_it_and_no_other(settings: Settings):
    other = settings.topic("kept")
    await ensure_topics(settings, [TopicSpec(other, 1)])
    lines: list[str] = []
    async with harness.throwaway_topics(settings, "run", lines.append) as run:
        made = [run.topic("articles"), run.topic("events"), f"{run.topic_prefix}-stories-changelog"]
        sibling = f"{run.topic_prefix}0-articles"  # its prefix and then more: another run's
        await ensure_topics(run, [TopicSpec(name, 2) for name in [*made, sibling]])
        assert set(made) <= set(await topic_names(run))
    left = await listed_after_deletion(settings, made)
    assert not set(made) & left
    assert {other, sibling} <= left
    assert lines == []
    await delete_topics(settings, [other, sibling, other + "-never-made"])  # one already gone is no matter
    assert not {other, sibling} & await listed_after_deletion(settings, [other, sibling])


async def test_a_cluster_that_keeps_the_topics_gets_a_line_naming_them(settings: Settings, monkeypatch):
    async def refuse(settings, topics, timeout=30.0):
        raise KafkaError("TopicDeletionDisabledError")

    monkeypatch.setattr(harness, "delete_topics", refuse)
    lines: list[str] = []
    async with harness.throwaway_topics(settings, "run", lines.append) as run:
        await ensure_topics(run, [TopicSpec(run.topic("articles"), 1)])
    assert len(lines) == 1 and "TopicDeletionDisabledError" in lines[0] and f"{run.topic_prefix}-*" in lines[0]
    await delete_topics(settings, [run.topic("articles")])


class AnsweringAdmin:
    """An admin client whose delete answer is given: (topic, error code) per topic."""

    answers: list = []

    def __init__(self, **_options) -> None:
        self._client = SimpleNamespace(force_metadata_update=self._refresh)

    async def _refresh(self) -> None:
        pass

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def delete_topics(self, topics):
        return SimpleNamespace(topic_error_codes=self.answers.pop(0))


async def test_the_cluster_s_refusal_names_the_topic_and_its_error_code(monkeypatch):
    monkeypatch.setattr(admin, "AIOKafkaAdminClient", AnsweringAdmin)
    AnsweringAdmin.answers = [[("t-a", 0), ("t-b", 3), ("t-c", 73)]]  # deleted, gone already, deletion turned off
    with pytest.raises(KafkaError, match=r"t-c: UnknownError \(error code 73\)") as refused:
        await delete_topics(Settings(), ["t-a", "t-b", "t-c"])
    assert "t-a" not in str(refused.value) and "t-b" not in str(refused.value)
    AnsweringAdmin.answers = [[("t-a", 7)], [("t-a", 0)]]  # a request timed out (retriable): asked again
    await delete_topics(Settings(), ["t-a"])
    assert AnsweringAdmin.answers == []


async def test_outcomes_are_read_from_where_the_history_ended_when_asked(settings: Settings):
    async def outcomes(producer: AIOKafkaProducer, entries: list[str], duplicates: list[str]) -> None:
        for article_id in entries:
            entry = {"kind": "joined", "article_id": article_id, "time": "2026-01-01T00:00:00+00:00"}
            await producer.send_and_wait(settings.topic(STORY_EVENTS), orjson.dumps(entry))
        for article_id in duplicates:
            await producer.send_and_wait(settings.topic(DUPLICATES), orjson.dumps({"article_id": article_id}))

    await harness.watch_outcomes(settings, 0, timeout=10)  # makes the outcome topics, as the worker would
    producer = AIOKafkaProducer(**client_options(settings))
    await producer.start()
    try:
        await outcomes(producer, ["history-1", "history-2"], ["history-3"])
        history_ends = await harness.outcome_ends(settings)
        await outcomes(producer, ["timed-1"], ["timed-2"])
    finally:
        await producer.stop()
    after = await harness.watch_outcomes(settings, 2, timeout=30, after=history_ends)
    assert {article_id for _, article_id in after.seen} == {"timed-1", "timed-2"} and len(after.latencies) == 1
    assert sum(history_ends.values()) == 3
    everything = await harness.watch_outcomes(settings, 5, timeout=30)  # the history is there, from the start
    assert {article_id for _, article_id in everything.seen} == {"history-1", "history-2", "history-3", "timed-1", "timed-2"}
