"""What the agents of one worker process share: its settings, app, topics, tables, desk and counters."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import faust
from aiokafka.errors import IllegalOperation
from faust import current_event
from faust.exceptions import PartitionsMismatch
from faust.stores.base import SerializedStore
from faust.stores.rocksdb import RocksDBOptions
from faust.stores.rocksdb import Store as RocksDBStore
from faust.types import TP
from rocksdict import WriteBatch

from streams.kafka.topics import replication_config, story_rows_changelog_spec
from streams.settings import Settings
from streams.story.desk import DeskStores, StoryDesk
from streams.story.rocksdb import compacting_removals
from streams.story.staging import DELETED, Staging
from streams.worker.acks import InOrderAcks
from streams.worker.counters import Counters
from streams.worker.delivery import Record, batch_producer, confirmed, send_batches
from streams.worker.journal import InFlight
from streams.worker.metrics import WorkerMetrics
from streams.worker.topics import Topics

log = logging.getLogger(__name__)

# How long a worker that crashed may take to stop before it exits anyway. faust's shutdown can wait forever on an
# offset commit that its consumer thread, stopped first, never answers: seen once in CI, a worker that crashed two
# seconds after it started hung for seven minutes. Exiting is a crash like any other (its batches are not acked).
CRASH_STOP_SECONDS = 120.0

# The desk's stores (see streams/story/desk.py), each a table backed by a compacted changelog topic.
# None of their values grows with a story's size; `live` and `fingerprints` hold only their windows.
TABLES = {
    "articles": "articles",  # article id -> the entries it made, or the verdict it got
    "live": "live-stories",  # story id -> clustering profile, hot window only
    "fingerprints": "recent-fingerprints",  # article id -> dedup fingerprint, dedup window only
    "meta": "desk-meta",  # the log position, the stream's lag behind the broker, the latest dated article's date
}
STORE_OF = {table: store for store, table in TABLES.items()}
# The story stage's table: story id -> its row (streams/story/shelf.py), partitioned as the story placements topic.
STORY_ROWS = "story-rows"
# Failures of a table write that no retry changes (a bug, or a topic with more partitions than the tables): they
# stop the worker, where the broker's refusals are retried.
WRITE_BUGS = (PartitionsMismatch, IllegalOperation, TypeError, ValueError)
# Each table has one partition (`declare_tables`), as the prepared topic its writes are filed under.
CHANGELOG_PARTITION = 0

Encoded = dict[str, dict[str, tuple[object, bytes | None]]]  # store name -> key -> (value, its changelog bytes)


class RemovalsCompacted(RocksDBOptions):
    """faust's RocksDB options, and files full of removals compacted (streams/story/rocksdb.py)."""

    def as_options(self):
        return compacting_removals(super().as_options())


def _on_rocksdict(store) -> bool:
    """Whether a table's store is faust's RocksDB store on rocksdict, whose options and databases the tables use."""
    return isinstance(store, RocksDBStore) and store.use_rocksdict


class ConfirmedTable(faust.Table):
    """A faust table the place stage writes itself, a phase of a batch at a time: its local store (`write_locally`),
    then its changelog, whose records go to the producer as whole batches, each one's ack awaited (`send_records`).

    faust's own path for a table write (the changelog message through its buffer, a future, a callback and a
    RocksDB write of the offset per message, and the value encoded again for the store) was a tenth of a placing
    worker's process; and faust's producer flush is no barrier between phases: it returns once its queue has let
    no message go for 0.1 s, and it does not report a changelog write that failed.
    """

    def _new_store_by_url(self, url):
        """faust's store; on RocksDB (with rocksdict), with the removals of the desk's windows compacted away."""
        store = super()._new_store_by_url(url)
        if _on_rocksdict(store):
            store.rocksdb_options = RemovalsCompacted(**store.options, use_rocksdict=True)
        return store

    def get(self, key, default=None):
        """The key's value in the local store (`default` if it has none: the tables have no default factory), one
        lookup. faust's own `get` looks a key the store has up twice in RocksDB (a test, then a read), raises and
        catches a KeyError for one it lacks, and calls the sensors on the way: the place stage asks for every
        article's record, which a new article lacks, and that was 4.5 % of a place-only worker's busy time (py-spy)."""
        store = self.data
        if not isinstance(store, SerializedStore):  # in memory: the objects
            return store.get(key, default)
        value = store._get(self._key_bytes(key))
        return default if value is None else store._decode_value(value)

    def changelog_value(self, value) -> bytes | None:
        """The bytes the changelog gets for a write of `value` (None: a removal's tombstone), as faust makes them."""
        if value is DELETED:
            return None
        return self.app.serializers.dumps_value(self.value_type, value, serializer=self.value_serializer)

    def write_locally(
        self, writes: list[tuple[object, object, tuple[object, bytes | None] | None]], partition: int = CHANGELOG_PARTITION
    ) -> list[Record]:
        """Write each (key, value, made) in the local store (DELETED removes the key), all at once; returns the
        changelog's record of each write (`changelog_records`), the bytes RocksDB got."""
        records = self.changelog_records(writes)
        self.store_records(writes, records, partition)
        return records

    def changelog_records(self, writes: list[tuple[object, object, tuple[object, bytes | None] | None]]) -> list[Record]:
        """The changelog's record of each (key, value, made). A value `made` already (encoded for the batch's
        journal: the very object, with its bytes) is not encoded again."""
        return [(self._key_bytes(key), self._value_bytes(value, made)) for key, value, made in writes]

    def store_records(self, writes: list[tuple[object, object, object]], records: list[Record], partition: int) -> None:
        """Make the writes, whose changelog `records` these are, in the local store. A removal is made whether or
        not the store still has the key: a phase written again after a failed changelog write removed it already,
        but its tombstone never reached the broker.

        On RocksDB the writes go as one write batch to the partition: a put per key through faust's store (which
        also notes each key's partition in an LRU cache) took 15 us, in a batch 4 (500 keys at a time)."""
        store = self.data
        if _on_rocksdict(store):
            batch = WriteBatch(raw_mode=True)
            for key_bytes, value_bytes in records:
                if value_bytes is None:
                    batch.delete(key_bytes)
                else:
                    batch.put(key_bytes, value_bytes)
            store._db_for_partition(partition).write(batch)
        else:  # in memory (memory://): the objects
            for key, value, _ in writes:
                if value is DELETED:
                    store.pop(key, None)
                else:
                    store[key] = value

    def _key_bytes(self, key) -> bytes:
        return self.app.serializers.dumps_key(self.key_type, key, serializer=self.key_serializer)

    def _value_bytes(self, value, made: tuple[object, bytes | None] | None) -> bytes | None:
        return made[1] if made is not None and made[0] is value else self.changelog_value(value)


def declare_story_rows(app: faust.App, settings: Settings) -> ConfirmedTable:
    """The story stage's table, one partition per story placements partition (its changelog's too), its changelog
    configured as the worker creates it (`story_rows_changelog_spec`)."""
    config = story_rows_changelog_spec(settings, STORY_ROWS).config
    return app.tables.add(
        ConfirmedTable(
            app, name=STORY_ROWS, default=None, beacon=app.tables.beacon, key_type=str, partitions=settings.partitions,
            extra_topic_configs=config,
        )
    )


async def write_after_changelog(table: ConfirmedTable, partition: int, writes: list[tuple[object, object, None]]) -> None:
    """Write one partition of a table: its changelog records first, in order, each confirmed by the broker, and
    only then its local store, with where the changelog ends as the store's persisted offset. The store is never
    ahead of its changelog, so a crash leaves nothing in it that a worker rebuilt from the changelog would lack
    (what the place stage's journal mends for its tables, written store first), whichever worker writes the
    partition next: a crash before the store's write leaves it behind, and faust's recovery reads the rest."""
    records = table.changelog_records(writes)
    if not records:
        return
    tp = TP(table.changelog_topic.get_topic_name(), partition)
    ends = await send_confirmed(table.app, {tp: records})
    table.store_records(writes, records, partition)
    table.data.set_persisted_offset(tp, ends[tp] - 1)


async def send_confirmed(app: faust.App, records: dict[TP, list[Record]]) -> dict[TP, int]:
    """Send each changelog partition's records, in order, as whole batches straight to the app's aiokafka producer
    (`send_batches`), the partitions side by side, and wait until the broker has every one (raising the first
    failure); returns where each partition ends now (the offset after its last record)."""
    producer = await batch_producer(app)
    sent = await send_batches(producer, records)
    acks = [(ack, tp.topic) for tp, batches in sent.items() for ack, _ in batches]
    await confirmed([ack for ack, _ in acks], [topic for _, topic in acks])
    ends = {}
    for tp, batches in sent.items():
        ack, count = batches[-1]
        ends[tp] = ack.result().offset + count
    return ends


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


def write_locally(phase: list[tuple[ConfirmedTable, object, object]], encoded: Encoded) -> dict[str, list[Record]]:
    """Write one phase of a sealed batch (streams/story/staging.py) to the tables' local stores, each table's
    writes at once, with the bytes the batch's values were `encoded` to, where they were; returns each table's
    changelog records for it (store name -> records), in the phase's order. Made in the context of an event of
    the prepared partition, which must be the tables' one: faust reads a table under the event's partition, while
    the writes here go to the tables' partition."""
    event = current_event()
    if event is not None and event.message.partition != CHANGELOG_PARTITION:
        raise PartitionsMismatch(f"a table write filed under partition {event.message.partition}; the tables have one")
    writes: dict[str, tuple[ConfirmedTable, list]] = {}
    for table, key, value in phase:
        store = STORE_OF[table.name]
        writes.setdefault(store, (table, []))[1].append((key, value, encoded.get(store, {}).get(key)))
    return {store: table.write_locally(table_writes) for store, (table, table_writes) in writes.items()}


async def send_records(tables: DeskStores, records: dict[str, list[Record]]) -> dict[str, int]:
    """Send each table's changelog records, in order, and wait until the broker has every one; raises the first
    failure (the phase is then written again; `send_confirmed`). Returns where each changelog written to ends now
    (store name -> the offset after its last record), which is also noted as its store's persisted offset, so that
    faust's recovery of the local store reads the changelog on from there."""
    names = [store for store, store_records in records.items() if store_records]
    if not names:
        return {}
    tps = {store: TP(getattr(tables, store).changelog_topic.get_topic_name(), CHANGELOG_PARTITION) for store in names}
    sent_ends = await send_confirmed(tables.articles.app, {tps[store]: records[store] for store in names})
    ends: dict[str, int] = {}
    for store in names:
        ends[store] = sent_ends[tps[store]]
        getattr(tables, store).data.set_persisted_offset(tps[store], ends[store] - 1)
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
    # Per prepared partition, the offset after the furthest article handed to the place stage since the last
    # rebalance (`place_stage._note_order`).
    placing_next: dict = field(default_factory=dict)
    desk: StoryDesk | None = None  # derived from the tables; None until the first article after a rebalance
    staging: Staging = field(init=False)  # the place stage's writes not yet in the tables; the desk reads through it
    prepare_acks: InOrderAcks | None = None  # the running prepare agent's, so a rebalance can reset it
    # The story stage's table, and its shelves: story placements partition -> StoryShelf (made again after a
    # rebalance, from the table).
    story_rows: ConfirmedTable | None = None
    shelves: dict = field(default_factory=dict)
    # Per story placements partition, the rows its batches gave to be written and not confirmed yet (story id ->
    # JSON): a shelf made again meanwhile reads them before the table.
    unwritten_rows: dict = field(default_factory=dict)
    # A bug the story stage cannot make a dead letter of stopped the worker: it takes, writes and acks nothing more
    # while the worker stops, so that what it had not acked comes again on the next start.
    story_stage_stopped: bool = False
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


def stop_if_failed(ctx: WorkerContext, task: asyncio.Task, what: str) -> None:
    """A stage's own task that failed (a bug: Kafka errors are retried) stops the worker, which exits with an error
    (a done callback). Left alone, the stage's agent would wait on it for good, a worker alive that does nothing;
    what it had not acked comes again on the next start."""
    if not task.cancelled() and task.exception() is not None:
        stop_worker_for(ctx, task.exception(), what)


def stop_worker_for(ctx: WorkerContext, error: BaseException, what: str) -> None:
    """Stop the worker, which exits with an error, for a bug in `what`; exit anyway if it has not stopped within
    CRASH_STOP_SECONDS."""
    log.error("%s failed; stopping the worker", what, exc_info=error)
    asyncio.ensure_future(ctx.app.crash(error))
    exit_unless_stopped_within(CRASH_STOP_SECONDS)


def exit_unless_stopped_within(seconds: float) -> threading.Timer:
    """Exit the process with status 1 if it still runs `seconds` from now. A daemon timer thread: it fires even when
    the event loop waits on something that never comes, and holds no process that stops in time."""

    def exit_now() -> None:
        log.error("the worker did not stop within %.0fs of crashing; exiting", seconds)
        logging.shutdown()
        os._exit(1)

    timer = threading.Timer(seconds, exit_now)
    timer.daemon = True
    timer.start()
    return timer
