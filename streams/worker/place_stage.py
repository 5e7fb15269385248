"""The place stage: each prepared article is a redelivery, a duplicate, or the next entry of a story (global).

It needs a view across every story, so it reads the single-partition prepared
topic and runs on one worker at a time. The desk writes its tables (the
article's record first) before anything is sent, and recognises an article it
already placed, so a message processed twice changes no state (its entries are
sent again, with the same versions, which subscribers drop). It waits for each
article's entries before the next one, so a story's events are on the broker
in version order.
"""

from __future__ import annotations

import logging
import time

from schemas import DeadLetter, PreparedArticle
from streams.pipeline.prepare import dead_letter
from streams.story.desk import Appended, StoryDesk
from streams.worker.context import WorkerContext
from streams.worker.delivery import SIZE_ERRORS, dead_letter_send, deliver_all

log = logging.getLogger(__name__)


def place_agent(ctx: WorkerContext):
    """The agent: one prepared article at a time, acked when its outcome is on the broker."""

    async def place_articles(stream):
        prepared_stream = stream.noack()
        async for event in prepared_stream.events():
            await _place_one(ctx, event.value)
            await prepared_stream.ack(event)
            ctx.acked(event)

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


async def _place_one(ctx: WorkerContext, payload: bytes) -> None:
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
        await _send_dead_letter(ctx, dead_letter(payload, f"internal error while placing: {error!r}", "process"))
        return
    # Sends stay outside the guard: a Kafka failure is retried, never acked.
    try:
        await deliver_all(ctx.counters, *sends)
    except SIZE_ERRORS as error:  # an output larger than the broker takes: say so, and go on with the next article
        log.error("a message for article %s is too large for Kafka: %r", prepared.article.article_id, error)
        reason = f"an output message is larger than Kafka accepts ({error!r}); raise the topics' max.message.bytes"
        await _send_dead_letter(ctx, dead_letter(payload, reason, "process", prepared.article.article_id))
        return
    if isinstance(outcome, Appended):
        ctx.counters.appended += 1
    else:
        ctx.counters.duplicates += 1
        ctx.counters.redeliveries += outcome.verdict.kind == "redelivery"


async def _send_dead_letter(ctx: WorkerContext, letter: DeadLetter) -> None:
    await deliver_all(ctx.counters, dead_letter_send(ctx.topics.dead_letters, letter))
    ctx.counters.dead_letters += 1
