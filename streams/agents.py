"""The wiring: two agents that move messages between topics and tables. The work is in the pure modules.

    raw articles --prepare_articles--> prepared articles --place_articles--> story events, snapshots,
       (partitioned, parallel)                              (one partition)      duplicates
       \\--> dead letters                                                        \\--> dead letters

Processing is at-least-once. `place_articles` writes its tables before it
sends, and the desk recognises an article it already placed, so a message
processed twice changes no state (its story event is sent again, with the
same version, which subscribers drop).
"""

from __future__ import annotations

import logging

from schemas import DeadLetter, PreparedArticle, parse_story_event
from streams import topics
from streams.app import app, settings
from streams.desk import Appended, StoryDesk
from streams.metrics import counters
from streams.prepare import dead_letter, prepare
from streams.story import fold

log = logging.getLogger(__name__)

# story id -> the story's changelog: its append-only list of events (JSON), the source of truth.
story_changelogs = app.Table("story-changelogs", default=None, key_type=str, partitions=1)
# article id -> dedup fingerprint of every article placed in a story.
fingerprints = app.Table("fingerprints", default=None, key_type=str, partitions=1)

_desk: StoryDesk | None = None


def _loaded_desk() -> StoryDesk:
    """The desk's indexes, rebuilt from the tables the first time after a start or a rebalance."""
    global _desk
    if _desk is None:
        _desk = StoryDesk(settings)
        _desk.load(dict(story_changelogs.items()), dict(fingerprints.items()))
        log.info("story desk loaded: %d stories, %d articles", len(_desk.stories.stories), len(_desk.placed))
    return _desk


@app.on_partitions_revoked.connect
async def _forget_desk(app_, revoked, **kwargs) -> None:
    global _desk
    _desk = None


@app.agent(topics.raw_articles)
async def prepare_articles(stream):
    async for event in stream.events():
        counters.received += 1
        try:
            result = prepare(event.value, event.key, event.message.timestamp, settings.max_article_bytes)
        except Exception as error:  # a bug in the pure work must not stop the worker: dead-letter the article
            log.exception("preparing an article failed")
            result = dead_letter(event.value, f"internal error while preparing: {error!r}", "process")
        if isinstance(result, DeadLetter):
            await _send_dead_letter(result)
        else:
            await topics.prepared_articles.send(key=result.article.article_id.encode(), value=result.to_bytes())


@app.agent(topics.prepared_articles, concurrency=1)
async def place_articles(stream):
    async for payload in stream:
        try:
            prepared = PreparedArticle.from_bytes(payload)
            desk = _loaded_desk()
            outcome = desk.decide(prepared, story_changelogs)
        except Exception as error:
            log.exception("placing an article failed")
            await _send_dead_letter(dead_letter(payload, f"internal error while placing: {error!r}", "process"))
            continue
        # Sends and table writes stay outside the guard: if Kafka fails here the agent must not ack the message.
        if isinstance(outcome, Appended):
            await _append(desk, prepared, outcome.event)
        else:
            counters.duplicates += 1
            await topics.duplicates.send(key=prepared.article.article_id.encode(), value=outcome.verdict.to_bytes())
            if outcome.event is not None:
                await topics.story_events.send(key=outcome.event.story_id.encode(), value=outcome.event.to_bytes())


async def _append(desk: StoryDesk, prepared: PreparedArticle, event) -> None:
    """Write the tables first, then publish: a crash in between is healed by the redelivery path."""
    fingerprints[prepared.article.article_id] = {"exact": prepared.exact, "signature": prepared.signature}
    changelog = [*(story_changelogs.get(event.story_id) or []), event.model_dump(mode="json")]
    story_changelogs[event.story_id] = changelog
    desk.record(prepared, Appended(event))
    counters.appended += 1
    key = event.story_id.encode()
    await topics.story_events.send(key=key, value=event.to_bytes())
    snapshot = fold([parse_story_event(raw) for raw in changelog])
    await topics.story_snapshots.send(key=key, value=snapshot.to_bytes())


async def _send_dead_letter(letter: DeadLetter) -> None:
    counters.dead_letters += 1
    key = letter.article_id.encode() if letter.article_id else None
    await topics.dead_letters.send(key=key, value=letter.to_bytes())


@app.timer(interval=settings.stats_interval)
async def report_counters() -> None:
    log.info("counters %s", counters.as_dict())
