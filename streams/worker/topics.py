"""The worker's topics as faust declares them, from the one list in `streams.kafka.topics`.

Values are raw bytes: the schemas/ models encode and decode them. Raw bytes at
the edge, so a payload no codec understands still reaches the prepare stage and
becomes a dead letter instead of stopping the worker.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust

from streams.kafka import topics as names
from streams.settings import Settings


@dataclass(frozen=True)
class Topics:
    raw_articles: faust.TopicT
    prepared_articles: faust.TopicT
    story_placements: faust.TopicT
    dead_letters: faust.TopicT
    duplicates: faust.TopicT
    story_events: faust.TopicT
    story_snapshots: faust.TopicT


def declare_topics(app: faust.App, settings: Settings) -> Topics:
    specs = names.topic_specs(settings)

    def topic(name: str) -> faust.TopicT:
        spec = specs[name]
        return app.topic(
            spec.name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=spec.partitions,
            config=spec.config or None,
            internal=True,  # faust creates it at start with these partitions and config, before subscribing
        )

    return Topics(
        raw_articles=topic(names.ARTICLES),
        prepared_articles=topic(names.PREPARED),
        story_placements=topic(names.STORY_PLACEMENTS),
        dead_letters=topic(names.DEAD_LETTERS),
        duplicates=topic(names.DUPLICATES),
        story_events=topic(names.STORY_EVENTS),
        story_snapshots=topic(names.STORY_SNAPSHOTS),
    )
