"""The journal of the place stage's batch in flight, so a crash cannot leave the changelogs behind the tables.

RocksDB makes a phase's table writes at once, while their changelog messages reach the broker later; a crash
can keep some of them from it. A worker that restarts on its own tables then holds writes that its changelogs
lack, and a worker rebuilt from those changelogs later (another host, a rebalance) would place articles
differently (found by a review: 111 of 1,088 double-crash runs). So before a batch's first write the stage
records, for each table, where its changelog ends and which keys the batch writes to it, in changelog order;
once every phase is confirmed it clears the record. On the next start, before faust opens the tables:

- every write the changelogs got since those ends is to a key the batch writes: the batch's keys are sent
  again, with what the local tables hold, phase by phase, before the first batch's own writes
  (`Staging.again`), so each changelog ends with the local value of every key the crash may have cut (a
  phase written again after a failed write, or the same batch placed by another worker meanwhile, only
  repeats keys of the batch);
- a changelog got a write to another key (another worker placed further since): the local tables are
  stale, so they are removed and faust rebuilds them from the changelogs, as on a new host.

Either way the changelogs and the local tables agree again. A journal is only kept for tables on disk.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.kafka.connection import client_options
from streams.kafka.topics import changelog_spec
from streams.settings import Settings

log = logging.getLogger(__name__)

JOURNAL = "batch-in-flight.json"


@dataclass(frozen=True)
class InFlight:
    """A batch's table writes: per table (the desk's store name), where its changelog ended before the batch
    and the keys the batch writes to it, in order."""

    starts: dict[str, int]
    keys: dict[str, list[str]]

    @property
    def again(self) -> dict[str, list[str]]:
        """Store name -> the batch's keys, each once, in order: what to write again after a stop cut the batch."""
        return {store: list(dict.fromkeys(keys)) for store, keys in self.keys.items() if keys}


def record(data_dir: Path, batch: InFlight) -> None:
    """Written whole or not at all (a rename), so a journal that cannot be read is not a crash's half-write."""
    path = data_dir / JOURNAL
    partial = path.with_suffix(".partial")
    partial.write_bytes(orjson.dumps({"starts": batch.starts, "keys": batch.keys}))
    os.replace(partial, path)


def clear(data_dir: Path) -> None:
    (data_dir / JOURNAL).unlink(missing_ok=True)


def read(data_dir: Path) -> InFlight | None:
    """The batch a stop cut short, if any. Raises ValueError for a journal that is not one (see `settle`)."""
    path = data_dir / JOURNAL
    if not path.exists():
        return None
    try:
        content = orjson.loads(path.read_bytes())
        return InFlight({k: int(v) for k, v in content["starts"].items()}, {k: list(v) for k, v in content["keys"].items()})
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as error:
        raise ValueError(f"{path} is not a journal of the place stage: {error!r}") from error


def stray_key(journaled: list[str], on_changelog: list[str]) -> str | None:
    """A key a changelog got since the batch's start that the batch does not write (another writer's), if any."""
    written = set(journaled)
    return next((key for key in on_changelog if key not in written), None)


def changelog_topics(settings: Settings, tables: dict[str, str]) -> dict[str, str]:
    """Store name -> its table's changelog topic (`tables`: store name -> table name)."""
    return {store: changelog_spec(settings, table).name for store, table in tables.items()}


async def changelog_ends(settings: Settings, tables: dict[str, str]) -> dict[str, int]:
    """Where each table's changelog ends now (each has one partition)."""
    topics = changelog_topics(settings, tables)
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, 0) for topic in topics.values()])
        return {store: ends[TopicPartition(topic, 0)] for store, topic in topics.items()}
    finally:
        await consumer.stop()


async def changelog_keys(settings: Settings, tables: dict[str, str], starts: dict[str, int], ends: dict[str, int]) -> dict[str, list[str]]:
    """The keys of each changelog's messages from `starts` up to `ends`, in order."""
    topics = changelog_topics(settings, tables)
    keys: dict[str, list[str]] = {store: [] for store in topics}
    partitions = {TopicPartition(topics[store], 0): store for store in topics if ends[store] > starts.get(store, 0)}
    if not partitions:
        return keys
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(partitions))
        for tp, store in partitions.items():
            consumer.seek(tp, starts.get(store, 0))
        while [tp for tp, store in partitions.items() if await consumer.position(tp) < ends[store]]:
            for tp, messages in (await consumer.getmany(*partitions, timeout_ms=1000)).items():
                store = partitions[tp]
                keys[store] += [orjson.loads(m.key) for m in messages if m.offset < ends[store]]  # faust's JSON keys
        return keys
    finally:
        await consumer.stop()


async def stray_write(settings: Settings, batch: InFlight, tables: dict[str, str], ends: dict[str, int]) -> tuple[str, str] | None:
    """A write the changelogs got since `batch` started to a key it does not write, as (store, key), if any."""
    found = await changelog_keys(settings, tables, batch.starts, ends)
    for store in tables:
        if (key := stray_key(batch.keys.get(store, []), found[store])) is not None:
            return store, key
    return None


@dataclass(frozen=True)
class Settled:
    """What the place stage starts from: the batch a stop cut, whose writes go to the changelogs again first
    (None: nothing to send again), where the changelogs end (None: unknown, asked at the first batch), and what
    settling did, to be logged once the worker's logging is set up (`settle` runs before faust's)."""

    cut: InFlight | None
    ends: dict[str, int] | None
    note: tuple[int, str] | None = None

    def report(self) -> None:
        if self.note:
            log.log(*self.note)


async def settle(settings: Settings, data_dir: Path, tables: dict[str, str]) -> Settled:
    """Before faust opens the tables: bring them and their changelogs together again after a stop that cut a
    batch (module docstring)."""
    try:
        batch = read(data_dir)
    except ValueError as error:
        _remove_tables(data_dir)
        return Settled(None, None, (logging.WARNING, f"{error}; rebuilding the tables from their changelogs"))
    if batch is None:
        return Settled(None, None)
    ends = await changelog_ends(settings, tables)
    if stray := await stray_write(settings, batch, tables, ends):
        _remove_tables(data_dir)
        return Settled(None, ends, (
            logging.WARNING,
            f"the last stop cut a batch of table writes, and the {stray[0]} changelog has a write to {stray[1]!r} "
            "since, which the batch did not make (another worker's): rebuilding the tables from their changelogs",
        ))
    writes = sum(map(len, batch.again.values()))
    return Settled(batch, ends, (
        logging.INFO,
        f"the last stop cut a batch of table writes: its {writes} keys go to the changelogs again before the next batch",
    ))


def _remove_tables(data_dir: Path) -> None:
    """Everything faust keeps in the directory, and the journal: faust recovers the tables from the changelogs."""
    for entry in data_dir.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
