"""`storywire soak`: a long-lived worker's state over a long stream, without a broker.

It runs the worker's real per-article work past preparing (`StoryDesk.place`,
the story stage's fold of what it sends, the entry and snapshot bytes) over a
synthetic stream spread over many days of event time, with both stages' tables
in RocksDB as the worker keeps them and the worker's garbage-collector thresholds, and reports at each quarter of the stream: resident memory, the
time a restarted worker takes to rebuild its state from the stores, and what
each appended article writes (tables and topics), for small and large stories.
"""

from __future__ import annotations

import gc
import resource
import shutil
import tempfile
import time
from collections.abc import Iterator, MutableMapping
from dataclasses import fields
from pathlib import Path

import orjson
from rocksdict import ColumnFamily, Options, Rdict, WriteBatch

from schemas import DeadLetter
from schemas.placing import parse_to_story
from streams.pipeline.prepare import prepare
from streams.settings import Settings
from streams.story.desk import Decided, DeskStores, StoryDesk, collecting_as_the_worker
from streams.story.fold import snapshot, snapshot_due
from streams.story.rocksdb import compacting_removals
from streams.story.shelf import StoredRows, StoryShelf
from streams.story.staging import DELETED
from streams.tools.synthetic import stream_over_days

SMALL_STORY = 10  # articles: at most this is a small story
LARGE_STORY = 1000  # at least this is a large one


class RocksStore(MutableMapping):
    """A RocksDB column of JSON values, as a faust table keeps it, counting the bytes written."""

    def __init__(self, db: Rdict, family: ColumnFamily) -> None:
        self.db, self.family = db, family
        self.written = 0
        self.largest = 0

    def __getitem__(self, key: str):
        value = self.db.get(key.encode())
        if value is None:
            raise KeyError(key)
        return orjson.loads(value)

    def get(self, key: str, default=None):
        """One lookup, as the worker's tables read (`ConfirmedTable.get`): Mapping's own `get` raises and catches a
        KeyError for a key the store lacks, and the desk asks for every new article's record, which it lacks."""
        value = self.db.get(key.encode())
        return default if value is None else orjson.loads(value)

    def __setitem__(self, key: str, value) -> None:
        self.db[key.encode()] = self._counted(key, value)

    def _counted(self, key: str, value) -> bytes:
        """The value's JSON, counted as written under the key."""
        data = orjson.dumps(value)
        self.written += len(data) + len(key)
        self.largest = max(self.largest, len(data))
        return data

    def write_all(self, writes: list[tuple[str, object]]) -> None:
        """Each (key, value or DELETED) as one RocksDB write batch, as the worker's tables write a batch's phase
        (`ConfirmedTable.write_locally`): a removal is written whether or not the store has the key."""
        batch = WriteBatch()
        batch.set_default_column_family(self.family)
        for key, value in writes:
            if value is DELETED:
                self.written += len(key)  # a tombstone
                batch.delete(key.encode())
            else:
                batch.put(key.encode(), self._counted(key, value))
        self.db.write(batch)

    def __contains__(self, key) -> bool:
        return isinstance(key, str) and key.encode() in self.db  # without decoding the value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self.written += len(key)  # a tombstone
        del self.db[key.encode()]

    def __iter__(self) -> Iterator[str]:
        return (key.decode() for key in self.db.keys())

    def __len__(self) -> int:
        return sum(1 for _ in self.db.keys())

    def items(self):
        return ((key.decode(), orjson.loads(value)) for key, value in self.db.items())


class RocksStores:
    """The desk's stores, one RocksDB column family each, under one directory; closed and reopened for a restart.
    Counts the bytes written over every opening."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db: Rdict | None = None
        self.stores: DeskStores | None = None
        self._closed_written = self._closed_largest = 0  # what the stores of earlier openings wrote
        self.open()

    def open(self) -> DeskStores:
        self.db = Rdict(str(self.path), options=self._options())
        self.stores = DeskStores(**{name: self._store(name) for name in (f.name for f in fields(DeskStores))})
        self.rows = self._store("story-rows")
        return self.stores

    def _store(self, name: str) -> RocksStore:
        return RocksStore(self._family(name), self.db.get_column_family_handle(name))

    def _family(self, name: str) -> Rdict:
        try:
            return self.db.get_column_family(name)
        except Exception:  # noqa: BLE001 - rocksdict raises a plain exception for a missing family
            return self.db.create_column_family(name, self._options())

    @staticmethod
    def _options() -> Options:
        """As the worker's tables have them (streams/story/rocksdb.py)."""
        return compacting_removals(Options())

    def _open_stores(self) -> list[RocksStore]:
        return [*vars(self.stores).values(), self.rows] if self.stores else []

    def close(self) -> None:
        """Close the database; every handle on it (the stores, a desk using them) must be dropped first."""
        if self.db is None:
            return
        self._closed_written, self._closed_largest = self.written(), self.largest()
        self.stores = self.rows = None
        gc.collect()  # column family handles keep the database open until collected
        self.db.close()
        self.db = None

    def written(self) -> int:
        """Bytes written so far, over every opening."""
        return self._closed_written + sum(store.written for store in self._open_stores())

    def largest(self) -> int:
        """The largest value written so far, over every opening."""
        return max([self._closed_largest, *(store.largest for store in self._open_stores())])


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def run_soak(settings: Settings, articles: int, days: float, seed: int, progress) -> dict:
    quarters = {round(articles * q / 4) for q in (1, 2, 3, 4)}
    directory = Path(tempfile.mkdtemp(prefix="storywire-soak-"))
    rocks = RocksStores(directory / "tables")
    desk, shelf = _stages(settings, rocks)
    figures: dict = {"articles": articles, "event_days": days, "seed": seed, "rss_mb": {}, "restart_s": {}}
    appended: dict[str, list[int]] = {"small": [0, 0], "large": [0, 0]}  # bytes, appends
    largest_message = 0
    with collecting_as_the_worker():  # as the worker collects garbage, restarts included
        started = time.monotonic()
        try:
            for number, raw in enumerate(stream_over_days(articles, days, seed), start=1):
                prepared = prepare(orjson.dumps(raw), None, time.time(), settings.max_article_bytes)
                if not isinstance(prepared, DeadLetter):
                    before = rocks.written()
                    outcome = desk.place(prepared)
                    # What the stages send for it as batches of their own (a quiet stream's): the placements and
                    # verdicts, the entries, the handovers and the snapshots they make due; and the rows written.
                    messages = [value for _, _, value in desk.messages(outcome)]
                    messages += _folded(shelf, [value for kind, _, value in desk.messages(outcome) if kind == "story"])
                    rocks.rows.write_all(shelf.written())
                    if isinstance(outcome, Decided):
                        largest_message = max(largest_message, *map(len, messages))
                        size = shelf.state(outcome.record["story_id"]).articles
                        kind = "small" if size <= SMALL_STORY else "large" if size >= LARGE_STORY else None
                        if kind:
                            appended[kind][0] += rocks.written() - before + sum(map(len, messages))
                            appended[kind][1] += 1
                if number in quarters:
                    figures["rss_mb"][str(number)] = round(rss_mb(), 1)
                    desk = shelf = None
                    rocks.close()
                    restart_started = time.monotonic()
                    rocks.open()
                    desk, shelf = _stages(settings, rocks)
                    desk.load()
                    figures["restart_s"][str(number)] = round(time.monotonic() - restart_started, 3)
                    progress(
                        f"{number:,} articles in {time.monotonic() - started:.0f}s: RSS {figures['rss_mb'][str(number)]} MB, "
                        f"restart {figures['restart_s'][str(number)]}s, {desk.stories.live:,} live stories, "
                        f"{len(desk.duplicates):,} recent fingerprints"
                    )
        finally:
            desk = shelf = None
            rocks.close()
            shutil.rmtree(directory, ignore_errors=True)
    for kind, (total, count) in appended.items():
        figures[f"append_bytes_{kind}_story"] = round(total / count) if count else None
        figures[f"appends_{kind}_story"] = count
    figures["largest_message_bytes"] = max(largest_message, rocks.largest())
    figures["seconds"] = round(time.monotonic() - started, 1)
    return figures


def _stages(settings: Settings, rocks: RocksStores) -> tuple[StoryDesk, StoryShelf]:
    """The global stage's desk over its stores, and the story stage's shelf over its rows (the `stories` store)."""
    return StoryDesk(settings, rocks.stores), StoryShelf(StoredRows(rocks.rows))


def _folded(shelf: StoryShelf, placements: list[bytes]) -> list[bytes]:
    """What the story stage sends for these messages (one partition holds every story here): the entries, the
    handovers (taken in turn), and the snapshots the entries make due, as of the last."""
    sent, pending, due = [], list(placements), set()
    while pending:
        for done in shelf.receive(parse_to_story(pending.pop(0))):
            sent += [entry.to_bytes() for entry in done.entries] + [handover.to_bytes() for handover in done.handovers]
            pending += [handover.to_bytes() for handover in done.handovers]
            due.update(entry.story_id for entry in done.entries if snapshot_due(entry))
            due.update(handover.absorbed_story_id for handover in done.handovers)
    return sent + [snapshot(story_id, shelf.state(story_id)).to_bytes() for story_id in due]


def format_soak(figures: dict) -> str:
    rows = [f"{figures['articles']:,} articles over {figures['event_days']:g} days of event time ({figures['seconds']}s)"]
    for key in figures["rss_mb"]:
        rows.append(f"  at {int(key):>9,}: RSS {figures['rss_mb'][key]:>8.1f} MB   restart {figures['restart_s'][key]:.2f}s")
    rows.append(
        f"bytes written per appended article: small stories {figures['append_bytes_small_story']}, "
        f"large stories {figures['append_bytes_large_story']}"
    )
    rows.append(f"largest message or table value: {figures['largest_message_bytes']:,} bytes")
    return "\n".join(rows)
