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
story_changelogs = app.Table("story-changelogs", default=None, partitions=1, value_serializer="json")
# article id -> dedup fingerprint of every article placed in a story.
fingerprints = app.Table("fingerprints", default=None, partitions=1, value_serializer="json")

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
        message = event.message
        counters.received += 1
        try:
            result = prepare(event.value, event.key, message.timestamp, settings.max_article_bytes)
        except Exception as error:  # a bug must not stop the worker: the article becomes a dead letter
            log.exception("preparing an article failed")
            result = dead_letter(event.value, f"internal error while preparing: {error!r}", "process")
        if isinstance(result, DeadLetter):
            counters.dead_letters += 1
            await topics.dead_letters.send(key=_encode(result.article_id), value=result.to_bytes())
        else:
            await topics.prepared_articles.send(key=_encode(result.article.article_id), value=result.to_bytes())


@app.timer(interval=settings.stats_interval)
async def report_counters() -> None:
    log.info("counters %s", counters.as_dict())


@app.agent(topics.prepared_articles, concurrency=1)
async def place_articles(stream):
    async for payload in stream:
        try:
            await _place(PreparedArticle.from_bytes(payload))
        except Exception as error:
            log.exception("placing an article failed")
            counters.dead_letters += 1
            letter = dead_letter(payload, f"internal error while placing: {error!r}", "process")
            await topics.dead_letters.send(value=letter.to_bytes())


async def _place(prepared: PreparedArticle) -> None:
    desk = _loaded_desk()
    outcome = desk.decide(prepared, story_changelogs)
    article_id = prepared.article.article_id
    if isinstance(outcome, Appended):
        event = outcome.event
        fingerprints[article_id] = {"exact": prepared.exact, "signature": prepared.signature}
        changelog = list(story_changelogs[event.story_id] or [])
        changelog.append(event.model_dump(mode="json"))
        story_changelogs[event.story_id] = changelog
        desk.record(prepared, outcome)
        counters.appended += 1
        key = event.story_id.encode()
        await topics.story_events.send(key=key, value=event.to_bytes())
        snapshot = fold([parse_story_event(raw) for raw in changelog])
        await topics.story_snapshots.send(key=key, value=snapshot.to_bytes())
        return
    counters.duplicates += 1
    await topics.duplicates.send(key=article_id.encode(), value=outcome.verdict.to_bytes())
    if outcome.event is not None:
        await topics.story_events.send(key=outcome.event.story_id.encode(), value=outcome.event.to_bytes())


def _encode(article_id: str | None) -> bytes | None:
    return article_id.encode() if article_id else None
