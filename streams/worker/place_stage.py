"""The place stage: each prepared article is a redelivery, a duplicate, or the next entry of a story (global).

It needs a view across every story, so it reads the single-partition prepared
topic and runs on one worker at a time. It writes its tables before it sends,
and the desk recognises an article it already placed, so a message processed
twice changes no state (its story event is sent again, with the same version,
which subscribers drop). It waits for each article's story event before the
next one, so a story's events are on the broker in version order.
"""

from __future__ import annotations

import logging

from schemas import DeadLetter, DuplicateVerdict, PreparedArticle
from streams.pipeline.prepare import dead_letter
from streams.story.desk import Appended, Duplicate, StoryDesk, fingerprint_of
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
    """The desk's indexes, rebuilt from the tables the first time after a start or a rebalance."""
    if ctx.desk is None:
        desk = ctx.desk = StoryDesk(ctx.settings)
        desk.load(dict(ctx.tables.story_changelogs.items()), dict(ctx.tables.fingerprints.items()))
        stories, articles = len(desk.stories.stories), len(desk.placed)
        log.info("story desk loaded: %d stories, %d articles", stories, articles, extra={"stories": stories, "articles": articles})
    return ctx.desk


async def _place_one(ctx: WorkerContext, payload: bytes) -> None:
    try:
        prepared = PreparedArticle.from_bytes(payload)
        desk = loaded_desk(ctx)
        outcome = _seen_duplicate(ctx, prepared, desk) or desk.decide(prepared, ctx.tables.story_changelogs)
    except Exception as error:
        log.exception("placing an article failed")
        await _send_dead_letter(ctx, dead_letter(payload, f"internal error while placing: {error!r}", "process"))
        return
    # Sends and table writes stay outside the guard: a Kafka failure is retried, never acked.
    try:
        if isinstance(outcome, Appended):
            await _append(ctx, desk, prepared, outcome.event)
        else:
            await _report_duplicate(ctx, desk, prepared, outcome)
    except SIZE_ERRORS as error:  # e.g. a huge story's snapshot: say so, and go on with the next article
        log.error("a message for article %s is too large for Kafka: %r", prepared.article.article_id, error)
        reason = f"an output message is larger than Kafka accepts ({error!r}); raise the topics' max.message.bytes"
        await _send_dead_letter(ctx, dead_letter(payload, reason, "process", prepared.article.article_id))


def _seen_duplicate(ctx: WorkerContext, prepared: PreparedArticle, desk: StoryDesk) -> Duplicate | None:
    """A redelivery of an article that was judged a duplicate before (the desk knows only placed ones)."""
    article_id = prepared.article.article_id
    if article_id in desk.placed:
        return None
    earlier = ctx.tables.verdicts.get(article_id)
    if earlier is None:
        return None
    verdict = DuplicateVerdict(
        article_id=article_id,
        duplicate_of=article_id,
        similarity=1.0,
        kind="redelivery",
        story_id=earlier.get("story_id"),
    )
    return Duplicate(verdict)


async def _append(ctx: WorkerContext, desk: StoryDesk, prepared: PreparedArticle, event) -> None:
    """Write the tables first, then publish: a crash in between is healed by the redelivery path."""
    tables, topics = ctx.tables, ctx.topics
    tables.fingerprints[prepared.article.article_id] = fingerprint_of(prepared).to_json()
    changelog = [*(tables.story_changelogs.get(event.story_id) or []), event.model_dump(mode="json")]
    tables.story_changelogs[event.story_id] = changelog
    desk.record(prepared, Appended(event))
    key = event.story_id.encode()
    snapshot = desk.snapshot(event.story_id)  # the desk keeps each story's fold: no re-fold of the changelog
    await deliver_all(
        (topics.story_events, key, event.to_bytes()),
        (topics.story_snapshots, key, snapshot.to_bytes()),
    )
    ctx.counters.appended += 1


async def _report_duplicate(ctx: WorkerContext, desk: StoryDesk, prepared: PreparedArticle, outcome: Duplicate) -> None:
    tables, topics = ctx.tables, ctx.topics
    article_id = prepared.article.article_id
    verdict = outcome.verdict
    if verdict.kind == "redelivery":
        ctx.counters.redeliveries += 1
        if article_id in desk.placed and tables.fingerprints.get(article_id) is None:
            # The story entry reached the table but its fingerprint did not (a crash between the two
            # writes): restore it, or later copies of this article would not be recognised.
            fingerprint = fingerprint_of(prepared)
            tables.fingerprints[article_id] = fingerprint.to_json()
            desk.duplicates.add(article_id, fingerprint)
    else:
        tables.verdicts[article_id] = verdict.model_dump(mode="json")
    sends = [(topics.duplicates, article_id.encode(), verdict.to_bytes())]
    if outcome.event is not None:  # a placed article again: re-send the entry it made (subscribers drop repeats)
        sends.append((topics.story_events, outcome.event.story_id.encode(), outcome.event.to_bytes()))
    await deliver_all(*sends)
    ctx.counters.duplicates += 1


async def _send_dead_letter(ctx: WorkerContext, letter: DeadLetter) -> None:
    await deliver_all(dead_letter_send(ctx.topics.dead_letters, letter))
    ctx.counters.dead_letters += 1
