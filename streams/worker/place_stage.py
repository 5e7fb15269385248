"""The place stage: each prepared article is a redelivery, a duplicate, or the next entry of a story (global).

It needs a view across every story, so it reads the single-partition prepared
topic and runs on one worker at a time. The desk writes its tables (the
article's record first) before anything is sent, and recognises an article it
already placed, so a message processed twice changes no state (its entries are
sent again, with the same versions, which subscribers drop).

It does not wait for the broker between articles: it hands each article's
messages to the producer and goes on. The producer is idempotent
(`producer.py`), so they land in the order they were handed over, a story's
versions included; after a crash, what landed is a prefix of it, and what
follows is placed again from the last committed offset. An article is acked
once its messages and those of every earlier article are confirmed
(`InOrderAcks`; up to `place_in_flight` at a time).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from schemas import DeadLetter, PreparedArticle
from streams.pipeline.prepare import dead_letter
from streams.story.desk import Appended, Outcome, StoryDesk
from streams.worker.acks import InOrderAcks
from streams.worker.context import WorkerContext
from streams.worker.delivery import (
    SIZE_ERRORS,
    Send,
    confirmed,
    dead_letter_send,
    deliver_all,
    send_for_later,
)

log = logging.getLogger(__name__)


@dataclass
class Handed:
    """An article's messages as handed to the producer, their pending acks, and the outcome they publish
    (None: a dead letter)."""

    payload: bytes
    sends: list[Send]
    pending: list
    outcome: Outcome | None
    article_id: str | None = None


def place_agent(ctx: WorkerContext):
    """The agent: one prepared article at a time, acked when its outcome (and every earlier one) is on the broker."""

    async def place_articles(stream):
        prepared_stream = stream.noack()
        acks = ctx.place_acks = InOrderAcks(prepared_stream, ctx.acked)
        in_flight = asyncio.Semaphore(ctx.settings.place_in_flight)
        settling: set[asyncio.Task] = set()
        try:
            async for event in prepared_stream.events():
                await in_flight.acquire()
                entry = acks.expect(event)
                handed = await _place_one(ctx, event.value)
                task = asyncio.create_task(_ack_when_delivered(ctx, acks, entry, handed, in_flight))
                settling.add(task)
                task.add_done_callback(settling.discard)
        finally:  # stopping: what is not confirmed stays unacked, and is placed again (recognised) on the next start
            for task in settling:
                task.cancel()

    return place_articles


def loaded_desk(ctx: WorkerContext) -> StoryDesk:
    """The desk's indexes, rebuilt from the tables' windows the first time after a start or a rebalance."""
    if ctx.desk is None:
        started = time.monotonic()
        desk = ctx.desk = StoryDesk(ctx.settings, ctx.tables)
        desk.load()
        stories, articles = desk.stories.live, len(desk.duplicates)
        log.info(
            "story desk loaded in %.1fs: %d live stories, %d recent fingerprints",
            time.monotonic() - started, stories, articles, extra={"stories": stories, "articles": articles},
        )
    return ctx.desk


async def _place_one(ctx: WorkerContext, payload: bytes) -> Handed:
    """Place the article (its tables written) and hand what it publishes to the producer, without waiting."""
    try:
        with ctx.metrics.stage_seconds.labels("place").time():
            prepared = PreparedArticle.from_bytes(payload)
            desk = loaded_desk(ctx)
            outcome = desk.place(prepared)
            topics = {"event": ctx.topics.story_events, "snapshot": ctx.topics.story_snapshots, "duplicate": ctx.topics.duplicates}
            sends = [(topics[kind], key.encode(), value) for kind, key, value in desk.messages(outcome)]
    except Exception as error:
        log.exception("placing an article failed")
        ctx.desk = None  # it may have changed part of its state: the next article rebuilds it from the tables
        sends = [dead_letter_send(ctx.topics.dead_letters, dead_letter(payload, f"internal error while placing: {error!r}", "process"))]
        return Handed(payload, sends, await send_for_later(sends), None)
    return Handed(payload, sends, await send_for_later(sends), outcome, prepared.article.article_id)


async def _ack_when_delivered(ctx: WorkerContext, acks: InOrderAcks, entry: list, handed: Handed, in_flight) -> None:
    """Ack the article once the broker has its messages; count its outcome.

    An output larger than the broker takes becomes a dead letter. Any other failure (the idempotent producer
    retries whatever can be retried, so this is a broker refusing for good: authorisation, a deleted topic)
    is logged and the messages are sent again until they land; subscribers that saw later versions first
    skip these. Nothing but cancellation ends this without the ack: an ack missing for good would stop every
    commit on the partition.
    """
    try:
        try:
            await confirmed(handed.pending, [topic for topic, _, _ in handed.sends])
        except SIZE_ERRORS as error:
            log.error("a message for article %s is too large for Kafka: %r", handed.article_id, error)
            reason = f"an output message is larger than Kafka accepts ({error!r}); raise the topics' max.message.bytes"
            await _send_dead_letter(ctx, dead_letter(handed.payload, reason, "process", handed.article_id))
            handed.outcome = None
        except Exception as failure:
            log.error("the broker refused article %s's messages (%r); sending them again", handed.article_id, failure,
                      extra={"error": repr(failure)})
            await deliver_all(ctx.counters, *handed.sends)
        _count(ctx, handed.outcome)
        await acks.confirmed(entry)
    finally:
        in_flight.release()


def _count(ctx: WorkerContext, outcome: Outcome | None) -> None:
    if outcome is None:
        ctx.counters.dead_letters += 1
    elif isinstance(outcome, Appended):
        ctx.counters.appended += 1
    else:
        ctx.counters.duplicates += 1
        ctx.counters.redeliveries += outcome.verdict.kind == "redelivery"


async def _send_dead_letter(ctx: WorkerContext, letter: DeadLetter) -> None:
    await deliver_all(ctx.counters, dead_letter_send(ctx.topics.dead_letters, letter))
