"""What the agents of one worker process share: its settings, app, topics, tables, desk and counters."""

from __future__ import annotations

from dataclasses import dataclass, field

import faust

from streams.settings import Settings
from streams.story.desk import StoryDesk
from streams.worker.acks import InOrderAcks
from streams.worker.counters import Counters
from streams.worker.topics import Topics


@dataclass
class Tables:
    # story id -> the story's changelog: its append-only list of events (JSON), the source of truth.
    story_changelogs: faust.Table
    # article id -> dedup fingerprint of every article placed in a story.
    fingerprints: faust.Table
    # article id -> the duplicate verdict it got (JSON), so that a duplicate delivered again (a redelivery
    # after a crash, a feed replayed twice) is reported as a redelivery instead of a second exact/near verdict.
    verdicts: faust.Table


def declare_tables(app: faust.App) -> Tables:
    return Tables(
        story_changelogs=app.Table("story-changelogs", default=None, key_type=str, partitions=1),
        fingerprints=app.Table("fingerprints", default=None, key_type=str, partitions=1),
        verdicts=app.Table("duplicate-verdicts", default=None, key_type=str, partitions=1),
    )


@dataclass
class WorkerContext:
    settings: Settings
    app: faust.App
    topics: Topics
    tables: Tables
    counters: Counters = field(default_factory=Counters)
    # Next offset to process per input partition held by this worker (for the lag counters).
    next_offsets: dict = field(default_factory=dict)
    desk: StoryDesk | None = None  # derived from the tables; None until the first article after a rebalance
    prepare_acks: InOrderAcks | None = None  # the running prepare agent's, so a rebalance can reset it

    def acked(self, event) -> None:
        self.next_offsets[event.message.tp] = event.message.offset + 1
