"""Reading what the worker publishes: story events as they happen, and the current state of everything.

Both read topics only, never the worker's tables: `stories` is a fold of the
story events topic, so what a subscriber sees and what `stories` prints agree.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import DeadLetter, DuplicateVerdict, StoryMerged, parse_story_event
from streams.kafka.connection import client_options
from streams.kafka.topics import DEAD_LETTERS, DUPLICATES, STORY_EVENTS
from streams.settings import Settings
from streams.story.fold import StoryEventModel, fold_log, snapshot


async def subscribe(
    settings: Settings,
    story_id: str | None = None,
    from_beginning: bool = False,
    on_ready: Callable[[], object] | None = None,
) -> AsyncIterator[StoryEventModel]:
    """Story events as they are appended, each (story, version) once, in version order per story.

    `on_ready` is called once the subscription is positioned (at the topic's end, unless `from_beginning`): an
    event appended after that is delivered, one appended before it is not. Positioning waits for the topic to
    exist, which a worker creates as it starts."""
    consumer = AIOKafkaConsumer(
        settings.topic(STORY_EVENTS),
        **client_options(settings),
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        if not from_beginning:
            await _pin_to_end(consumer)
        if on_ready is not None:
            on_ready()
        delivered: dict[str, int] = defaultdict(int)
        async for message in consumer:
            event = parse_story_event(message.value)
            if story_id and story_id not in (event.story_id, getattr(event, "absorbed_story_id", None)):
                continue
            if event.version <= delivered[event.story_id]:
                continue  # a redelivery of an entry already seen
            delivered[event.story_id] = event.version
            yield event
    finally:
        await consumer.stop()


async def tail(settings: Settings, *names: str) -> AsyncIterator[tuple[str, bytes]]:
    """Every message of the topics as (name, value): from their beginning, then each one as it is appended.

    Read without a consumer group, so each reader gets everything and commits nothing. Topics that do not
    exist yet are waited for until the worker creates them: subscribing to a missing topic would have a
    broker that auto-creates topics create it, with its defaults rather than storywire's.
    """
    topics = {settings.topic(name): name for name in names}
    consumer = AIOKafkaConsumer(**client_options(settings), auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        while not set(topics) <= await consumer.topics():
            await asyncio.sleep(1)
        consumer.subscribe(list(topics))
        async for message in consumer:
            yield topics[message.topic], message.value
    finally:
        await consumer.stop()


async def _pin_to_end(consumer: AIOKafkaConsumer) -> None:
    """Wait for the assignment, then start at the end: 'latest' means from now on, even for a new topic."""
    while not consumer.assignment():
        await asyncio.sleep(0.05)
        await consumer.getmany(timeout_ms=50)
    await consumer.seek_to_end()


async def read_topic(settings: Settings, name: str, idle_timeout: float = 30.0) -> list[bytes]:
    """Every message on a topic from the beginning up to its end when called (never a silent part of it)."""
    topic = settings.topic(name)
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()  # noqa: SLF001 - aiokafka has no public refresh
            partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            return []
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        values: list[bytes] = []
        remaining = {tp for tp in assigned if ends[tp] > 0}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + idle_timeout
        while remaining:
            batches = await consumer.getmany(timeout_ms=200)
            if batches:
                deadline = loop.time() + idle_timeout  # a long topic takes long: only silence is a failure
            for tp, messages in batches.items():
                values.extend(m.value for m in messages if m.offset < ends[tp])
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
            if remaining and loop.time() > deadline:
                raise TimeoutError(f"{topic}: no messages for {idle_timeout:.0f}s before its end offsets")
        return values
    finally:
        await consumer.stop()


def _each_verdict_once(verdicts) -> list[dict]:
    """An article's verdict once, though a redelivery after a crash sends it again; redeliveries all (each
    says an article came again)."""
    seen: set[str] = set()
    kept = []
    for verdict in verdicts:
        if verdict.kind != "redelivery":
            if verdict.article_id in seen:
                continue
            seen.add(verdict.article_id)
        kept.append(verdict.model_dump(mode="json"))
    return kept


async def current_state(settings: Settings) -> dict:
    """Stories (a fold of the whole log), duplicates and dead letters, as the `--json` output shape.

    A story that absorbed others lists their articles and entries with its own; an absorbed story is listed
    under `merged`, with the story it went into.
    """
    by_key: dict[tuple[str, int], StoryEventModel] = {}
    for value in await read_topic(settings, STORY_EVENTS):
        event = parse_story_event(value)
        by_key.setdefault((event.story_id, event.version), event)  # a repeat (a redelivery) counts once
    log = sorted(by_key.values(), key=lambda e: (e.position, e.story_id, e.version))
    states = fold_log(log)
    entries: dict[str, list[StoryEventModel]] = defaultdict(list)
    for event in log:
        entries[event.story_id].append(event)
        if isinstance(event, StoryMerged):
            entries[event.story_id].extend(entries.pop(event.absorbed_story_id, []))
    stories = []
    for story_id, changelog in entries.items():
        changelog.sort(key=lambda e: e.position)
        stories.append(
            {
                **snapshot(story_id, states[story_id]).model_dump(mode="json"),
                "article_ids": [e.article_id for e in changelog if not isinstance(e, StoryMerged)],
                "changelog": [e.model_dump(mode="json", exclude={"facts"}) for e in changelog],
            }
        )
    stories.sort(key=lambda s: (s["first_seen"], s["story_id"]))
    merged = [{"story_id": sid, "merged_into": state.merged_into} for sid, state in states.items() if state.merged_into]
    duplicates = _each_verdict_once(DuplicateVerdict.from_bytes(v) for v in await read_topic(settings, DUPLICATES))
    dead = [DeadLetter.from_bytes(v).model_dump(mode="json") for v in await read_topic(settings, DEAD_LETTERS)]
    return {"stories": stories, "merged": merged, "duplicates": duplicates, "dead_letters": dead}
