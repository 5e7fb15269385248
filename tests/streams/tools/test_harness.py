"""A run's throwaway topics are gone after it, and only they: on a real broker. A cluster that keeps them gets a
line saying which they are, and the run goes on."""

from __future__ import annotations

import asyncio

from aiokafka.errors import KafkaError

from streams.kafka.admin import delete_topics, ensure_topics, topic_names
from streams.kafka.topics import TopicSpec
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
        await ensure_topics(run, [TopicSpec(name, 2) for name in made])
        assert set(made) <= set(await topic_names(run))
    left = await listed_after_deletion(settings, made)
    assert not set(made) & left
    assert other in left
    assert lines == []
    await delete_topics(settings, [other, other + "-never-made"])  # one already gone is no matter
    assert other not in await listed_after_deletion(settings, [other])


async def test_a_cluster_that_keeps_the_topics_gets_a_line_naming_them(settings: Settings, monkeypatch):
    async def refuse(settings, topics, timeout=30.0):
        raise KafkaError("TopicDeletionDisabledError")

    monkeypatch.setattr(harness, "delete_topics", refuse)
    lines: list[str] = []
    async with harness.throwaway_topics(settings, "run", lines.append) as run:
        await ensure_topics(run, [TopicSpec(run.topic("articles"), 1)])
    assert len(lines) == 1 and "TopicDeletionDisabledError" in lines[0] and f"{run.topic_prefix}-*" in lines[0]
    await delete_topics(settings, [run.topic("articles")])
