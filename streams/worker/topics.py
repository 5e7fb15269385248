"""Every topic storywire reads or writes. Values are raw bytes: the schemas/ models encode and decode them.

Raw bytes at the edge, so a payload no codec understands still reaches the
cleaning agent and becomes a dead letter instead of stopping the worker.
"""

from __future__ import annotations

from streams.kafka.admin import TopicSpec, ensure_topics, raw_articles_spec
from streams.worker.app import app, settings


ALL = []


def _topic(name: str, partitions: int | None = None, **config: str):
    topic = app.topic(
        settings.topic(name),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        config=config or None,
        internal=True,  # faust creates it at start with these partitions and config, before subscribing
    )
    ALL.append(topic)
    return topic


# Raw articles as published (schemas.RawArticle), keyed by article id. Its message limit lets an
# oversized article reach the worker, to be dead-lettered with a reason.
raw_articles = _topic("articles", **raw_articles_spec(settings).config)
# Cleaned articles with facts and fingerprints (schemas.PreparedArticle), keyed by article id.
# One partition: placing an article in a story needs a view across all stories.
prepared_articles = _topic("prepared", partitions=1, **{"max.message.bytes": str(settings.max_prepared_bytes)})
# Payloads that could not be used (schemas.DeadLetter), keyed by article id when known.
dead_letters = _topic("dead-letters", partitions=1)
# Duplicate verdicts (schemas.DuplicateVerdict), keyed by article id.
duplicates = _topic("duplicates", partitions=1)
# Each changelog entry as it is appended (schemas.StoryStarted | schemas.ArticleJoined), keyed by story id.
story_events = _topic("story-events", partitions=1)
# Latest state per story (schemas.StorySnapshot), keyed by story id, compacted.
story_snapshots = _topic("story-snapshots", partitions=1, **{"cleanup.policy": "compact"})


async def create_all(bootstrap: str) -> None:
    """Create every topic with its partitions and config (faust only creates the topics it consumes)."""
    specs = [TopicSpec(t.get_topic_name(), t.partitions or settings.partitions, dict(t.config or {})) for t in ALL]
    await ensure_topics(bootstrap, specs)
