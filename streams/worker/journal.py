"""The journal of the place stage's batch in flight, so a crash cannot leave the changelogs behind the tables.

RocksDB makes a phase's table writes at once, while their changelog messages reach the broker later; a crash
can keep some of them from it. A worker that restarts on its own tables then holds writes that its changelogs
lack, and a worker rebuilt from those changelogs later (another host, a rebalance) would place articles
differently (found by a review: 111 of 1,088 double-crash runs). So before a batch's first write the stage
records, for each table, where its changelog ends and the writes the batch makes to it, in changelog order:
each key, with a digest of the value the changelog gets. Once every phase is confirmed it clears the record.
On the next start, before faust opens the tables, the changelogs are read from the recorded ends (`landing`):

- they begin with every write of the batch: nothing was cut (the stop came before the record was cleared);
- every write they got since is one the batch makes (its key, with its value), but not all of them: the
  batch's keys are written again, with what the local tables hold, before the first batch's own writes
  (`Staging.again`, removals after values as ever), so each changelog ends with the local value of every
  key the crash may have cut (a phase written again after a failed write repeats writes of the batch, and so
  does another worker that placed the same articles meanwhile, from the same state);
- a changelog got a write the batch does not make, to another key or with another value: another worker
  placed since, and faust's recovery would mix its writes into the local tables, so they are removed and
  faust rebuilds them from the changelogs, as on a new host.

The first batch checks again before it writes (another worker may place between the start and then), and
stops the worker if the tables have gone stale meanwhile; the next start rebuilds them. Either way the
changelogs and the local tables agree again. A journal is only kept for tables on disk; it is not synced,
so it covers a process that dies, not a machine that loses power.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.kafka.admin import end_offsets
from streams.kafka.connection import client_options
from streams.kafka.topics import changelog_spec
from streams.settings import Settings

log = logging.getLogger(__name__)

JOURNAL = "batch-in-flight.json"


# How long reading the changelogs may take before the worker says it cannot (a partition without a leader).
READ_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class InFlight:
    """A batch's table writes: per table (the desk's store name), where its changelog ended before the batch,
    and the keys the batch writes to it in the order it writes them, each with the `digest` of its value."""

    starts: dict[str, int]
    keys: dict[str, list[str]]
    values: dict[str, list[str | None]]

    @classmethod
    def of(cls, starts: dict[str, int], writes: dict[str, list[tuple[str, str | None]]]) -> InFlight:
        """The journal of `writes` (store name -> (key, value digest) in write order) after `starts`."""
        keys = {store: [key for key, _ in store_writes] for store, store_writes in writes.items()}
        return cls(starts, keys, {store: [value for _, value in store_writes] for store, store_writes in writes.items()})

    @property
    def again(self) -> dict[str, list[str]]:
        """Store name -> the batch's keys, each once: what to write again after a stop cut the batch."""
        return {store: list(dict.fromkeys(keys)) for store, keys in self.keys.items() if keys}

    def writes(self, store: str) -> list[tuple[str, str | None]]:
        return list(zip(self.keys.get(store, []), self.values.get(store, [])))


def digest(value: bytes | None) -> str | None:
    """What the journal keeps of a value a changelog gets (None: a removal's tombstone)."""
    return None if value is None else hashlib.blake2b(value, digest_size=8).hexdigest()


def record(data_dir: Path, batch: InFlight) -> None:
    """Written whole or not at all (a rename), so a journal that cannot be read is not a crash's half-write."""
    path = data_dir / JOURNAL
    partial = path.with_suffix(".partial")
    partial.write_bytes(orjson.dumps({"starts": batch.starts, "keys": batch.keys, "values": batch.values}))
    os.replace(partial, path)


def clear(data_dir: Path) -> None:
    (data_dir / JOURNAL).unlink(missing_ok=True)


def read(data_dir: Path, stores: Iterable[str]) -> InFlight | None:
    """The batch a stop cut short, if any. Raises ValueError for a journal that is not one of these stores'
    (see `settle`)."""
    path = data_dir / JOURNAL
    if not path.exists():
        return None
    try:
        content = orjson.loads(path.read_bytes())
        starts, keys, values = content["starts"], content["keys"], content["values"]
        if not (
            all(isinstance(offset, int) for offset in starts.values())
            and all(isinstance(ks, list) and all(isinstance(k, str) for k in ks) for ks in keys.values())
            and keys.keys() == values.keys()
            and all(
                isinstance(vs, list) and len(vs) == len(keys[store]) and all(v is None or isinstance(v, str) for v in vs)
                for store, vs in values.items()
            )
        ):
            raise ValueError("offsets, keys or values of the wrong type")
        if unknown := (starts.keys() | keys.keys()) - set(stores):
            raise ValueError(f"stores the worker does not have: {sorted(unknown)}")
        return InFlight(starts, keys, values)
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as error:
        raise ValueError(f"{path} is not a journal of the place stage: {error!r}") from error


def stray_write(made: list[tuple[str, str | None]], on_changelog: list[tuple[str, str | None]]) -> tuple[str, str | None] | None:
    """A write (key, value digest) a changelog got since the batch's start that the batch does not make (another
    writer's), if any."""
    written = set(made)
    return next((write for write in on_changelog if write not in written), None)


def landing(batch: InFlight, found: dict[str, list[tuple[str, str | None]]], ends: dict[str, int]) -> tuple[str, str | None]:
    """How a batch's writes reached the changelogs, from the writes (key, value digest) each got since the
    batch's start (`found`, up to `ends`): ("whole", None), every write, first (whatever came after is another
    worker's later work, which faust's recovery applies to the tables too); ("cut", None), only writes the batch
    makes, some perhaps missing; or ("stray", what): another worker wrote since, or the changelog is not the one
    it was."""
    for store, start in batch.starts.items():
        if ends.get(store, 0) < start:
            return "stray", f"the {store} changelog ends before the batch began (it was made again)"
    if all(found[store][: len(keys)] == batch.writes(store) for store, keys in batch.keys.items()):
        return "whole", None
    for store, writes in found.items():
        if (stray := stray_write(batch.writes(store), writes)) is not None:
            key = stray[0]
            other = "another value for" if key in batch.keys.get(store, ()) else "a write to"
            return "stray", f"the {store} changelog has {other} {key!r}, which the batch did not write"
    return "cut", None


def changelog_topics(settings: Settings, tables: dict[str, str]) -> dict[str, str]:
    """Store name -> its table's changelog topic (`tables`: store name -> table name)."""
    return {store: changelog_spec(settings, table).name for store, table in tables.items()}


async def changelog_ends(settings: Settings, tables: dict[str, str]) -> dict[str, int]:
    """Where each table's changelog ends now (each has one partition)."""
    topics = changelog_topics(settings, tables)
    ends = await end_offsets(settings, [TopicPartition(topic, 0) for topic in topics.values()])
    return {store: ends[TopicPartition(topic, 0)] for store, topic in topics.items()}


async def changelog_messages(
    settings: Settings, tables: dict[str, str], starts: dict[str, int], ends: dict[str, int]
) -> dict[str, list[tuple[str, bytes | None]]]:
    """Each changelog's messages from `starts` up to `ends`, as (key, value), in order. Raises TimeoutError
    when that takes longer than READ_TIMEOUT_S."""
    return await asyncio.wait_for(_read(settings, changelog_topics(settings, tables), starts, ends), READ_TIMEOUT_S)


async def _read(settings: Settings, topics: dict[str, str], starts: dict[str, int], ends: dict[str, int]) -> dict:
    messages: dict[str, list] = {store: [] for store in topics}
    partitions = {TopicPartition(topics[store], 0): store for store in topics if ends[store] > starts.get(store, 0)}
    if not partitions:
        return messages
    # A start the changelog no longer has (the topic deleted or made again) reads from its beginning.
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        await consumer.start()
        consumer.assign(list(partitions))
        for tp, store in partitions.items():
            consumer.seek(tp, starts.get(store, 0))
        while [tp for tp, store in partitions.items() if await consumer.position(tp) < ends[store]]:
            for tp, batch in (await consumer.getmany(*partitions, timeout_ms=1000)).items():
                store = partitions[tp]
                # faust writes a table's keys as JSON
                messages[store] += [(orjson.loads(m.key), m.value) for m in batch if m.offset < ends[store]]
        return messages
    finally:
        await consumer.stop()


async def landed(settings: Settings, batch: InFlight, tables: dict[str, str]) -> tuple[tuple[str, str | None], dict[str, int]]:
    """`landing` of a batch, read from the changelogs now, and where they end."""
    ends = await changelog_ends(settings, tables)
    found = await changelog_messages(settings, tables, batch.starts, ends)
    writes = {store: [(key, digest(value)) for key, value in messages] for store, messages in found.items()}
    return landing(batch, writes, ends), ends


@dataclass(frozen=True)
class Settled:
    """What the place stage starts from: the batch a stop cut (None: none), whose first batch checks again how it
    landed (another worker may place meanwhile) and writes it again if cut; and what settling did, to be logged
    once the worker's logging is set up (`settle` runs before faust's)."""

    cut: InFlight | None
    note: tuple[int, str] | None = None

    def report(self) -> None:
        if self.note:
            log.log(*self.note)


async def settle(settings: Settings, data_dir: Path, tables: dict[str, str]) -> Settled:
    """Before faust opens the tables: bring them and their changelogs together again after a stop that cut a
    batch (module docstring)."""
    try:
        batch = read(data_dir, tables)
    except ValueError as error:
        _remove_tables(data_dir)
        return Settled(None, (logging.WARNING, f"{error}; rebuilding the tables from their changelogs"))
    if batch is None:
        return Settled(None)
    try:
        (how, what), _ = await landed(settings, batch, tables)
    except TimeoutError:
        raise RuntimeError(f"could not read the tables' changelogs in {READ_TIMEOUT_S:.0f}s (a partition without a leader?)") from None
    if how == "whole":
        clear(data_dir)
        return Settled(None, (logging.INFO, "the last stop came between a batch's writes, and every one of them is on the changelogs"))
    if how == "stray":
        _remove_tables(data_dir)
        return Settled(None, (
            logging.WARNING,
            f"the last stop cut a batch of table writes, and {what} (another worker's): rebuilding the tables from their changelogs",
        ))
    writes = sum(map(len, batch.again.values()))
    return Settled(batch, (
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
