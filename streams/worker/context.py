"""What the agents of one worker process share: its settings, app, topics, tables, desk and counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import faust
from faust.types import FutureMessage

from streams.kafka.topics import replication_config
from streams.settings import Settings
from streams.story.desk import DeskStores, StoryDesk
from streams.story.staging import DELETED, Staging
from streams.worker.acks import InOrderAcks
from streams.worker.counters import Counters
from streams.worker.delivery import confirmed
from streams.worker.journal import InFlight
from streams.worker.metrics import WorkerMetrics
from streams.worker.topics import Topics

# The desk's stores (see streams/story/desk.py), each a table backed by a compacted changelog topic.
# None of their values grows with a story's size; `live` and `fingerprints` hold only their windows.
TABLES = {
    "stories": "story-states",  # story id -> bounded story state
    "articles": "articles",  # article id -> the entries it made, or the verdict it got
    "live": "live-stories",  # story id -> clustering profile, hot window only
    "fingerprints": "recent-fingerprints",  # article id -> dedup fingerprint, dedup window only
    "meta": "desk-meta",  # the log position and the stream's lag behind the broker
}


class ConfirmedTable(faust.Table):
    """A faust table whose changelog writes can be waited for, each one, with its failure if it failed.

    The place stage writes in phases, each on the broker before the next (streams/story/staging.py), and
    faust's own producer flush is no such barrier: it returns once its queue has let no message go for
    0.1 s, and it does not report a changelog write that failed.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.unconfirmed: list[FutureMessage] = []
        # key -> (value, the changelog's bytes for it): made before a batch's first write, for its journal
        self.encoded: dict[str, tuple[object, bytes | None]] = {}

    def send_changelog(self, partition, key, value, key_serializer=None, value_serializer=None) -> FutureMessage:
        """Send the write; a value encoded for the batch's journal (`encoded`, the same object) goes as those bytes."""
        made = self.encoded.get(key)
        if made is not None and made[0] is value and value_serializer is None:
            value, value_serializer = made[1], "raw"
        written = super().send_changelog(partition, key, value, key_serializer, value_serializer)
        self.unconfirmed.append(written)
        return written

    def changelog_value(self, value) -> bytes | None:
        """The bytes the changelog gets for a write of `value` (None: a removal's tombstone), as faust makes them."""
        if value is DELETED:
            return None
        return self.app.serializers.dumps_value(self.value_type, value, serializer=self.value_serializer)

    def pop(self, key, *default):
        """Remove the key, and send its tombstone even when the store no longer has it: a phase written again
        after a failed changelog write removed it already, but its tombstone never reached the broker."""
        if key in self:
            return super().pop(key, *default)
        self.on_key_del(key)
        if default:
            return default[0]
        raise KeyError(key)


def declare_tables(app: faust.App, settings: Settings) -> DeskStores:
    """The tables; their changelogs get the app's replication factor and the settings' min.insync.replicas."""
    config = replication_config(settings)
    return DeskStores(
        **{
            field: app.tables.add(
                ConfirmedTable(
                    app, name=name, default=None, beacon=app.tables.beacon, key_type=str, partitions=1,
                    extra_topic_configs=config,
                )
            )
            for field, name in TABLES.items()
        }
    )


async def changelogs_confirmed(tables: DeskStores) -> dict[str, int]:
    """Wait until the broker has every changelog write made so far; raises the first that failed. Returns where
    each changelog written to ends now (store name -> the offset after its last write)."""
    waiting = [(name, table.changelog_topic, written) for name, table in vars(tables).items() for written in table.unconfirmed]
    for table in vars(tables).values():
        table.unconfirmed = []
    if not waiting:
        return {}
    await confirmed([written for _, _, written in waiting], [topic for _, topic, _ in waiting])
    ends: dict[str, int] = {}
    for name, _, written in waiting:
        ends[name] = max(ends.get(name, 0), written.result().offset + 1)
    return ends


@dataclass
class WorkerContext:
    settings: Settings
    app: faust.App
    topics: Topics
    tables: DeskStores
    counters: Counters = field(default_factory=Counters)
    # Next offset to process per input partition held by this worker (for the lag counters).
    next_offsets: dict = field(default_factory=dict)
    desk: StoryDesk | None = None  # derived from the tables; None until the first article after a rebalance
    staging: Staging = field(init=False)  # the place stage's writes not yet in the tables; the desk reads through it
    prepare_acks: InOrderAcks | None = None  # the running prepare agent's, so a rebalance can reset it
    # The place stage's journal (streams/worker/journal.py): its directory (None: tables in memory, no journal),
    # the batch the last stop cut (checked again, and written again, by the first batch), and where each
    # changelog ends (None: unknown, after a rebalance: another worker may have written).
    journal_dir: Path | None = None
    cut_batch: InFlight | None = None
    changelog_ends: dict[str, int] | None = None
    metrics: WorkerMetrics = field(init=False)  # Prometheus: reads the counters, times the stages

    def __post_init__(self) -> None:
        self.metrics = WorkerMetrics(self.counters, self.settings.health_max_commit_age)
        self.staging = Staging(self.tables)

    def acked(self, event) -> None:
        self.next_offsets[event.message.tp] = event.message.offset + 1
