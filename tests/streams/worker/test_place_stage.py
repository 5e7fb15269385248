"""The place stage's batches, without a broker: a bug placing one article costs only that article."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import weakref
from types import SimpleNamespace

import faust
import orjson
import pytest
from aiokafka.errors import KafkaTimeoutError
from faust.exceptions import PartitionsMismatch
from faust.streams import _current_event, current_event
from faust.types import TP

from schemas import DeadLetter
from streams.pipeline.prepare import prepare
from streams.settings import Settings
from streams.story.desk import DeskStores, StoryDesk
from streams.story.staging import DELETED, MAX_BATCH, Staging
from streams.tools.synthetic import REPLAYED_AT, generate
from streams.worker import context, journal, place_stage
from streams.worker.context import TABLES, ConfirmedTable
from streams.worker.counters import Counters
from streams.worker.delivery import Batched
from streams.worker.metrics import WorkerMetrics
from streams.worker.place_stage import OpenBatch, Placed
from tests.streams.story.test_rocksdb import REMOVED, tombstones_after_a_window

SETTINGS = Settings(broker="127.0.0.1:1")
PREPARED = TP("prepared", 0)


def _context() -> SimpleNamespace:
    """What the place stage reads of a worker's context; topics stand for themselves."""
    topics = SimpleNamespace(
        story_events="events", story_snapshots="snapshots", story_placements="placements", duplicates="duplicates",
        dead_letters="dead-letters",
    )
    return SimpleNamespace(
        settings=SETTINGS, staging=Staging(DeskStores()), desk=None, topics=topics, metrics=WorkerMetrics(Counters(), 60),
        placing_next={},
    )


def _events(n: int) -> list[SimpleNamespace]:
    articles = generate(n, seed=3, max_paragraphs=2).articles
    prepared = [prepare(orjson.dumps(a), None, REPLAYED_AT + i, 2_000_000) for i, a in enumerate(articles)]
    prepared = [p for p in prepared if not isinstance(p, DeadLetter)]
    return [
        SimpleNamespace(key=p.article.article_id.encode(), value=p.to_bytes(), message=SimpleNamespace(tp=PREPARED, offset=offset))
        for offset, p in enumerate(prepared)
    ]


def test_an_article_that_fails_to_place_becomes_a_dead_letter_and_its_batch_is_as_if_it_never_came(monkeypatch):
    events = _events(60)
    failing = events[37]

    calm = _context()
    calm_batch = OpenBatch()
    for event in events:
        if event is not failing:
            place_stage._place(calm, calm_batch, event)

    place = StoryDesk.place

    def place_with_a_bug(desk, prepared):
        outcome = place(desk, prepared)  # its writes are staged and the desk changed, then it fails
        if prepared.article.article_id == failing.key.decode():
            raise RuntimeError("a bug")
        return outcome

    monkeypatch.setattr(StoryDesk, "place", place_with_a_bug)
    ctx = _context()
    batch = OpenBatch()
    for event in events:
        place_stage._place(ctx, batch, event)

    letters = [p for p in batch.placed if p.outcome is None]
    assert [p.event for p in letters] == [failing]
    topic, _, value = letters[0].sends[0]
    assert topic == "dead-letters" and "internal error while placing" in orjson.loads(value)["reason"]
    others = [p for p in batch.placed if p.outcome is not None]
    assert [p.event for p in others] == [p.event for p in calm_batch.placed]
    assert [p.outcome for p in others] == [p.outcome for p in calm_batch.placed]
    assert [p.sends for p in others] == [p.sends for p in calm_batch.placed]
    assert ctx.staging.seal() == calm.staging.seal()  # the failed article's staged writes are gone


class _FetchedStream:
    """What the place agent reads of faust's stream: `noack()`, `events()`, and the queue of the events fetched
    and not yet handed over (`channel.queue`). As faust's does, it yields to the loop before each event (where a
    revocation may come; `pause_before` holds it there until `resumed` is set), and sets the event as the agent
    task's current one as it hands it over."""

    def __init__(self, pause_before: int | None = None) -> None:
        self.channel = SimpleNamespace(queue=asyncio.Queue())
        self.pause_before, self.handed = pause_before, 0
        self.paused, self.resumed = asyncio.Event(), asyncio.Event()

    def noack(self):
        return self

    async def events(self):
        while True:
            await asyncio.sleep(0)
            if self.handed == self.pause_before:
                self.paused.set()
                await self.resumed.wait()
            event = await self.channel.queue.get()
            self.handed += 1
            _current_event.set(weakref.ref(event))
            yield event


def _agent_context() -> SimpleNamespace:
    """What the place agent reads of a worker's context before it places (placing itself is recorded instead),
    with the consumer's callbacks for a flow stop (streams/worker/consumer.py)."""
    consumer = SimpleNamespace(flow_stopping=[])
    return SimpleNamespace(tables=DeskStores(), counters=Counters(), app=SimpleNamespace(consumer=consumer))


def _stop_flow(ctx: SimpleNamespace, stream: _FetchedStream) -> None:
    """What faust does at the start of a revocation or a stop: stop the flow (the consumer calls back), then
    clear the streams' queues."""
    for callback in list(ctx.app.consumer.flow_stopping):
        callback()
    while not stream.channel.queue.empty():
        stream.channel.queue.get_nowait()


class _Recorded:
    """What the place agent decoded and placed, in order (("decode" | "place", offset)), whether each article was
    placed as faust's current event, and the open batch it placed into."""

    def __init__(self) -> None:
        self.done: list[tuple[str, int]] = []
        self.as_current: list[bool] = []
        self.batch: OpenBatch | None = None

    def placed(self) -> list[int]:
        return [offset for kind, offset in self.done if kind == "place"]


async def _until_placed(recorded: _Recorded, expected: int) -> None:
    for _ in range(10_000):
        if len(recorded.placed()) >= expected:
            return
        await asyncio.sleep(0)


def _recording_agent(monkeypatch, ctx: SimpleNamespace, stream: _FetchedStream, recorded: _Recorded) -> asyncio.Task:
    """The place agent over `stream`, each article recorded and added to the open batch rather than placed (as a
    dead letter is); its writer idles."""

    def decoded(event):
        recorded.done.append(("decode", event.message.offset))
        return event.value, 0.0

    def place(ctx, batch, event, decoded=None):
        recorded.done.append(("place", event.message.offset))
        recorded.as_current.append(current_event() is event)
        recorded.batch = batch
        batch.add(Placed(event, [], None))

    async def idle(*args):
        await asyncio.Event().wait()

    monkeypatch.setattr(place_stage, "_decoded", decoded)
    monkeypatch.setattr(place_stage, "_place", place)
    monkeypatch.setattr(place_stage, "_write_batches", idle)
    return asyncio.create_task(place_stage.place_agent(ctx)(stream))


async def _stopped(agent: asyncio.Task) -> None:
    agent.cancel()
    with pytest.raises(asyncio.CancelledError):
        await agent


class _PreparedEvent(SimpleNamespace):
    """A prepared article's event as the agent reads it; faust keeps a weak reference to the current one."""

    __slots__ = ("__weakref__",)


def _offsets(offsets) -> list[_PreparedEvent]:
    return [_PreparedEvent(key=b"k", value=None, message=SimpleNamespace(tp=PREPARED, offset=o)) for o in offsets]


async def test_the_place_agent_decodes_each_chunk_of_what_was_fetched_before_placing_it_and_a_lone_article_alone(monkeypatch):
    stream, recorded = _FetchedStream(), _Recorded()
    for event in _offsets(range(300)):
        stream.channel.queue.put_nowait(event)
    agent = _recording_agent(monkeypatch, _agent_context(), stream, recorded)
    await _until_placed(recorded, 300)
    await _stopped(agent)
    chunks = [range(0, 128), range(128, 256), range(256, 300)]
    assert recorded.done == [(kind, o) for chunk in chunks for kind in ("decode", "place") for o in chunk]
    assert all(recorded.as_current)

    quiet, recorded = _FetchedStream(), _Recorded()
    agent = _recording_agent(monkeypatch, _agent_context(), quiet, recorded)
    for event in _offsets(range(3)):  # each fetched alone, once the one before is placed
        quiet.channel.queue.put_nowait(event)
        for _ in range(20):
            await asyncio.sleep(0)
    await _stopped(agent)
    assert recorded.done == [(kind, o) for o in range(3) for kind in ("decode", "place")]


async def test_a_revocation_or_a_stop_places_the_chunk_held_at_once_and_the_agent_goes_on_after_it(monkeypatch):
    """faust stops the flow (from its own task), clears the queues and waits for the acks of every event it handed
    over. A chunk held then (here 0-4, taken while more were fetched) is placed before that wait, once, in order,
    each article as the event faust handed over: left held, the agent would wait for an event faust no longer
    hands over, and faust for the chunk's acks."""
    ctx, recorded = _agent_context(), _Recorded()
    stream = _FetchedStream(pause_before=5)
    for event in _offsets(range(20)):
        stream.channel.queue.put_nowait(event)
    agent = _recording_agent(monkeypatch, ctx, stream, recorded)
    await asyncio.wait_for(stream.paused.wait(), 5)
    assert recorded.placed() == []  # 0-4 held
    _stop_flow(ctx, stream)  # in this (faust's) task, not the agent's
    assert recorded.placed() == [0, 1, 2, 3, 4] and all(recorded.as_current)
    stream.resumed.set()
    for event in _offsets(range(5, 9)):  # fetched again after the rebalance, from the committed offset
        stream.channel.queue.put_nowait(event)
    await _until_placed(recorded, 9)
    await _stopped(agent)
    assert recorded.placed() == list(range(9)) and all(recorded.as_current)
    assert ctx.app.consumer.flow_stopping == []  # the stopped agent's callback is gone


async def test_a_flow_stop_while_the_agent_waits_for_room_in_the_batch_places_the_rest_of_its_chunk(monkeypatch):
    monkeypatch.setattr(place_stage, "MAX_BATCH", 3)
    ctx, recorded, stream = _agent_context(), _Recorded(), _FetchedStream()
    for event in _offsets(range(10)):
        stream.channel.queue.put_nowait(event)
    agent = _recording_agent(monkeypatch, ctx, stream, recorded)
    await _until_placed(recorded, 3)
    for _ in range(20):
        await asyncio.sleep(0)
    assert recorded.placed() == [0, 1, 2]  # the batch is full: the agent waits for room
    _stop_flow(ctx, stream)
    assert recorded.placed() == list(range(10))
    assert [placed.event.message.offset for placed in recorded.batch.take()] == list(range(10))  # room again
    for _ in range(20):
        await asyncio.sleep(0)
    await _stopped(agent)
    assert recorded.placed() == list(range(10))  # none placed twice


async def test_a_bug_placing_a_held_chunk_at_a_flow_stop_stops_the_worker_and_not_faust_s_revocation(monkeypatch):
    stopped: list = []
    monkeypatch.setattr(place_stage, "stop_worker_for", lambda ctx, error, what: stopped.append((error, what)))
    ctx, recorded, stream = _agent_context(), _Recorded(), _FetchedStream(pause_before=2)
    for event in _offsets(range(5)):
        stream.channel.queue.put_nowait(event)
    agent = _recording_agent(monkeypatch, ctx, stream, recorded)
    await asyncio.wait_for(stream.paused.wait(), 5)
    failure = RuntimeError("a bug")

    def place_with_a_bug(ctx, batch, event, decoded=None):
        raise failure

    monkeypatch.setattr(place_stage, "_place", place_with_a_bug)
    _stop_flow(ctx, stream)  # does not raise into faust
    await _stopped(agent)
    assert [error for error, _ in stopped] == [failure]


def _tables_on(producer) -> DeskStores:
    persisted = []

    async def started():
        return SimpleNamespace(_ensure_producer=lambda: producer)

    app = SimpleNamespace(maybe_start_producer=started)
    tables = {}
    for store, name in TABLES.items():
        topic = SimpleNamespace(get_topic_name=lambda name=name: f"{name}-changelog")
        data = SimpleNamespace(set_persisted_offset=lambda tp, offset, store=store: persisted.append((store, tp, offset)))
        tables[store] = SimpleNamespace(app=app, changelog_topic=topic, data=data)
    stores = DeskStores(**tables)
    stores.persisted = persisted
    return stores


def test_prepared_articles_the_consumer_skipped_are_said_in_the_log_and_a_seek_back_is_not(caplog):
    events = _events(30)
    ctx, batch = _context(), OpenBatch()
    with caplog.at_level("WARNING", logger=place_stage.__name__):
        for event in events[:10] + events[4:12]:  # a seek back to offset 4: redeliveries
            place_stage._place(ctx, batch, event)
        assert not [r for r in caplog.records if place_stage.SKIPPED in r.getMessage()]
        for event in events[15:20] + events[12:15]:  # 12-14 handed over late
            place_stage._place(ctx, batch, event)
    skipped = [r.getMessage() for r in caplog.records if place_stage.SKIPPED in r.getMessage()]
    assert skipped == [f"{place_stage.SKIPPED} 12-14 of prepared; they are placed when they come, out of order"]
    outcomes = [placed.outcome for placed in batch.placed]
    assert sum(o.verdict.kind == "redelivery" for o in outcomes if hasattr(o, "verdict")) == 6


async def test_a_phase_is_confirmed_only_once_the_broker_has_each_changelog_batch_and_a_failure_says_so(batching_producer):
    producer = batching_producer(size=2)
    tables = _tables_on(producer)
    records = {"articles": [(b"a1", b"1"), (b"a2", b"2"), (b"a3", None)], "live": [(b"s1", b"{}")]}
    waiting = asyncio.create_task(context.send_records(tables, records))
    await _until(lambda: len(producer.batches) == 3)
    by_topic = {}
    for topic, partition, batch, ack in producer.batches:
        by_topic.setdefault((topic, partition), []).append((batch, ack))
    assert {tp: [batch for batch, _ in batches] for tp, batches in by_topic.items()} == {
        ("articles-changelog", 0): [[(b"a1", b"1"), (b"a2", b"2")], [(b"a3", None)]],
        ("live-stories-changelog", 0): [[(b"s1", b"{}")]],
    }  # each changelog's records in order, in batches
    (_, first), (_, second) = by_topic["articles-changelog", 0]
    first.set_result(SimpleNamespace(offset=10))
    by_topic["live-stories-changelog", 0][0][1].set_result(SimpleNamespace(offset=4))
    await asyncio.sleep(0.01)
    assert not waiting.done()  # the articles' second batch is not on the broker yet
    second.set_result(SimpleNamespace(offset=12))
    assert await waiting == {"articles": 13, "live": 5}
    assert sorted(tables.persisted) == [("articles", ("articles-changelog", 0), 12), ("live", ("live-stories-changelog", 0), 4)]

    failing = batching_producer(size=10)
    waiting = asyncio.create_task(context.send_records(_tables_on(failing), records))
    await _until(lambda: len(failing.batches) == 2)
    failing.batches[0][3].set_exception(KafkaTimeoutError())
    failing.batches[1][3].set_result(SimpleNamespace(offset=0))
    with pytest.raises(KafkaTimeoutError):
        await waiting


async def test_a_stage_task_that_fails_stops_the_worker_and_one_cancelled_does_not(monkeypatch):
    crashed, timers = [], []

    async def crash(reason):
        crashed.append(reason)

    monkeypatch.setattr(context, "exit_unless_stopped_within", timers.append)  # the real one would end pytest
    ctx = SimpleNamespace(app=SimpleNamespace(crash=crash))
    failure = RuntimeError("a bug in the writer")

    async def failing():
        raise failure

    writer, cancelled = asyncio.create_task(failing()), asyncio.create_task(asyncio.sleep(60))
    cancelled.cancel()
    await asyncio.gather(writer, cancelled, return_exceptions=True)
    context.stop_if_failed(ctx, cancelled, "a stopping task")
    context.stop_if_failed(ctx, writer, "the place stage's writer")
    await asyncio.sleep(0)
    assert crashed == [failure] and timers == [context.CRASH_STOP_SECONDS]


def _memory_table(tmp_path, name: str = TABLES["live"]) -> ConfirmedTable:
    app = faust.App(f"t-{name}", broker="kafka://127.0.0.1:1", store="memory://", datadir=str(tmp_path))
    return ConfirmedTable(app, name=name, default=None, beacon=app.tables.beacon, key_type=str, partitions=1)


def test_a_phase_written_again_sends_the_tombstone_of_a_key_its_first_attempt_removed(tmp_path):
    """The first attempt removed the key locally but its tombstone failed: the second must send it again."""
    table = _memory_table(tmp_path)
    table.data["s1"] = {"size": 1}
    phase = [(table, "s1", DELETED)]
    first = context.write_locally(phase, {})
    again = context.write_locally(phase, {})  # after a failed changelog write
    assert first == again == {"live": [(b'"s1"', None)]} and "s1" not in table


def test_a_value_encoded_for_the_journal_is_written_as_those_bytes_and_only_that_value(tmp_path):
    table = _memory_table(tmp_path)
    value, other = {"size": 1}, {"size": 1}
    made = (value, b"the journal's bytes")
    assert table.write_locally([("s1", value, made)]) == [(b'"s1"', b"the journal's bytes")]
    assert table.write_locally([("s1", other, made)]) == [(b'"s1"', b'{"size":1}')]  # an equal value, but not the one encoded
    assert table["s1"] is other
    assert table.write_locally([("s1", DELETED, None)]) == [(b'"s1"', None)] and "s1" not in table


def test_the_tables_on_rocksdb_compact_the_removals_of_their_windows(tmp_path):
    app = faust.App("t-rocksdb", broker="kafka://127.0.0.1:1", store="rocksdb://", datadir=str(tmp_path))
    table = ConfirmedTable(app, name=TABLES["fingerprints"], default=None, beacon=app.tables.beacon, key_type=str, partitions=1)
    options = table.data.rocksdb_options  # what faust opens each partition's database with
    assert isinstance(options, context.RemovalsCompacted)
    assert tombstones_after_a_window(tmp_path / "db", options.as_options(), settle_s=60) <= REMOVED // 10


class _Event:
    """What faust's RocksDB store reads of the event being processed: its message's partition."""

    def __init__(self, partition: int) -> None:
        self.message = SimpleNamespace(partition=partition)


class _Writes:
    """A table's RocksDB database, counting the writes of each write batch it is given."""

    def __init__(self, db) -> None:
        self.db, self.writes = db, []

    def write(self, batch) -> None:
        self.writes.append(len(batch))
        self.db.write(batch)

    def __getattr__(self, name):
        return getattr(self.db, name)


async def test_a_phase_on_rocksdb_stores_the_changelog_s_bytes_and_notes_its_end_as_the_persisted_offset(tmp_path, batching_producer):
    app = faust.App("t-rocksdb", broker="kafka://127.0.0.1:1", store="rocksdb://", datadir=str(tmp_path))
    table = ConfirmedTable(app, name=TABLES["live"], default=None, beacon=app.tables.beacon, key_type=str, partitions=1)
    prepared_partition, other_partition = _Event(0), _Event(1)  # faust holds the event by a weak reference
    token = _current_event.set(weakref.ref(prepared_partition))
    try:
        table.data["gone"] = {"size": 2}
        db = table.data._dbs[0] = _Writes(table.data._dbs[0])
        value = {"size": 1, "label": "a story"}
        encoded = {"live": {"kept": (value, b'{"size":1,"label":"a story"}')}}
        records = context.write_locally([(table, "kept", value), (table, "gone", DELETED)], encoded)
        assert records == {"live": [(b'"kept"', b'{"size":1,"label":"a story"}'), (b'"gone"', None)]}
        assert db.writes == [2], "the phase's writes to the table go to RocksDB at once"
        assert table.data._get(b'"kept"') == b'{"size":1,"label":"a story"}' and table["kept"] == value
        assert "gone" not in table

        producer = batching_producer(size=10)
        tables = _tables_on(producer)
        tables.live = SimpleNamespace(app=tables.live.app, changelog_topic=table.changelog_topic, data=table.data)
        sending = asyncio.create_task(context.send_records(tables, records))
        await _until(lambda: producer.batches)
        producer.batches[0][3].set_result(SimpleNamespace(offset=40))
        assert await sending == {"live": 42}
        assert table.data.persisted_offset(TP(table.changelog_topic.get_topic_name(), 0)) == 41  # read on from 42

        _current_event.set(weakref.ref(other_partition))
        with pytest.raises(PartitionsMismatch):  # faust would read it under another partition than its offset's
            context.write_locally([(table, "elsewhere", value)], {})
        assert table.data._db_for_partition(0).get(b'"elsewhere"') is None, "nothing written"
    finally:
        _current_event.reset(token)


@pytest.mark.parametrize("store", ["rocksdb://", "memory://"])
def test_a_table_read_gives_what_faust_s_read_gives_with_one_lookup_in_rocksdb(tmp_path, store, monkeypatch):
    app = faust.App("t-get", broker="kafka://127.0.0.1:1", store=store, datadir=str(tmp_path))
    table = ConfirmedTable(app, name=TABLES["articles"], default=None, beacon=app.tables.beacon, key_type=str, partitions=1)
    prepared_partition = _Event(0)
    token = _current_event.set(weakref.ref(prepared_partition))
    try:
        record = {"story_id": "s1", "events": [{"version": 1}], "now": 1.5}
        table.write_locally([("a1", record, None), ("gone", DELETED, None)])
        for key in ("a1", "gone", "never"):
            assert table.get(key) == faust.Table.get(table, key)
            assert table.get(key, "absent") == faust.Table.get(table, key, "absent")
        assert table.get("a1") == record and table.get("never") is None and table.get("gone", 0) == 0
        if store == "rocksdb://":
            lookups = []
            read = type(table.data)._get
            monkeypatch.setattr(type(table.data), "_get", lambda self, key: lookups.append(key) or read(self, key))
            monkeypatch.setattr(type(table.data), "_contains", lambda self, key: pytest.fail("a test before the read"))
            assert table.get("a1") == record and table.get("never") is None
            assert lookups == [b'"a1"', b'"never"']
    finally:
        _current_event.reset(token)


async def test_a_batch_s_changelog_writes_are_those_its_journal_records_and_go_as_the_journal_s_bytes(tmp_path, monkeypatch):
    """The place stage's writer with real tables: each record a changelog gets is one the journal recorded, key
    and value, in its order, and each value is encoded once, for the journal, whose bytes the tables write."""
    app = faust.App("t-journal-bytes", broker="kafka://127.0.0.1:1", store="memory://", datadir=str(tmp_path))
    tables = {
        store: ConfirmedTable(app, name=name, default=None, beacon=app.tables.beacon, key_type=str, partitions=1)
        for store, name in TABLES.items()
    }
    stores = DeskStores(**tables)
    sent = []

    async def send_records(tables, records):
        sent.extend((store, orjson.loads(key), value) for store, store_records in records.items() for key, value in store_records)
        return {}

    async def nothing(*args, **kwargs):
        return []

    async def sent_nothing(sends):
        return Batched([], [], [])

    encodings = []
    encode = ConfirmedTable.changelog_value
    monkeypatch.setattr(ConfirmedTable, "changelog_value", lambda table, value: encodings.append(value) or encode(table, value))
    monkeypatch.setattr(place_stage, "send_records", send_records)
    monkeypatch.setattr(place_stage, "send_batched_for_later", sent_nothing)
    monkeypatch.setattr(place_stage, "confirmed", nothing)
    monkeypatch.setattr(journal, "clear", lambda data_dir: None)  # the record, kept to compare with
    ctx, acked = _context(), []
    ctx.__dict__.update(
        app=app, tables=stores, staging=Staging(stores), counters=Counters(), journal_dir=tmp_path, cut_batch=None,
        changelog_ends=dict.fromkeys(TABLES, 0), acked=acked.append,
    )
    batch, events = OpenBatch(), _events(30)
    for event in events:
        place_stage._place(ctx, batch, event)
    writer = asyncio.create_task(place_stage._write_batches(ctx, SimpleNamespace(ack=nothing), batch))
    await asyncio.wait_for(_until(lambda: len(acked) == len(events)), 30)
    writer.cancel()
    recorded = journal.read(tmp_path, TABLES)
    found = {store: [(key, journal.digest(value)) for s, key, value in sent if s == store] for store in TABLES}
    assert sum(map(len, found.values())) == sum(map(len, recorded.keys.values())) > 30
    assert journal.landing(recorded, found, dict.fromkeys(TABLES, 1)) == ("whole", None)
    assert len(encodings) == len(sent), "each value encoded once, for the journal"
    for store, key, value in sent:  # and the local stores hold what the changelogs got
        assert tables[store].changelog_value(tables[store].get(key, DELETED)) == value


async def test_a_batch_is_taken_a_linger_after_its_first_article_at_once_when_full_or_when_it_waited_that_long():
    placed = Placed(event=None, sends=[], outcome=None)
    batch = OpenBatch()
    gathering = asyncio.create_task(batch.gathered(0.2))
    await asyncio.sleep(0.05)
    assert not gathering.done()  # no article yet
    batch.add(placed)
    first = time.monotonic()
    await asyncio.wait_for(gathering, 10)
    assert time.monotonic() - first >= 0.19  # a linger from its first article
    batch.take()
    batch.add(placed)
    gathering = asyncio.create_task(batch.gathered(600))
    await asyncio.sleep(0.05)
    assert not gathering.done()
    for _ in range(MAX_BATCH - 1):
        batch.add(placed)
    await asyncio.wait_for(gathering, 10)  # full: taken at once
    batch.take()
    batch.add(placed)
    batch.first_arrived -= 600  # it gathered while the batch before it was written, longer than the linger
    await asyncio.wait_for(batch.gathered(600), 10)


async def _until(done) -> None:
    while not done():
        await asyncio.sleep(0.01)


def test_an_articles_record_is_written_by_the_tables_as_json_and_read_back_as_it_was():
    """What the journal digests is what the changelog gets, and the store reads back the record the desk wrote."""
    app = faust.App("t-record", broker="kafka://127.0.0.1:1", store="memory://")
    desk = StoryDesk(SETTINGS)
    article = prepare(orjson.dumps(generate(1, seed=3).articles[0]), None, REPLAYED_AT, 2_000_000)
    desk.place(article)
    record = desk.stores.articles[article.article.article_id]
    written = app.serializers.dumps_value(None, record, serializer="json")
    assert written == orjson.dumps(record)
    assert app.serializers.loads_value(None, written, serializer="json") == record
    table = ConfirmedTable(app, name="articles", default=None, beacon=app.tables.beacon, key_type=str, partitions=1)
    assert table.changelog_value(record) == written, "what the journal digests is what the changelog gets"
    assert table.changelog_value(DELETED) is None


async def test_what_the_changelogs_say_is_asked_again_when_a_rebalance_came_while_asking():
    """Another worker may write to the changelogs during a rebalance: an answer read across one is out of date."""
    ctx = SimpleNamespace(counters=Counters())
    answers = iter(["read before the rebalance", "read after it"])

    async def question() -> str:
        answer = next(answers)
        if answer == "read before the rebalance":
            ctx.counters.rebalances += 1
        return answer

    assert await place_stage._asked(ctx, question, "asking") == "read after it"


HANGING_AFTER_A_CRASH = """
import logging, time
from streams.worker.context import exit_unless_stopped_within
logging.basicConfig()  # as the worker has it (mode gives the module's logger a handler that drops records)
exit_unless_stopped_within({seconds})
time.sleep({sleep})  # a shutdown waiting on what never comes, or one that ends in time
"""


@pytest.mark.parametrize(("sleep", "status"), [(60, 1), (0, 0)])
def test_a_worker_that_crashed_and_does_not_stop_exits_anyway_and_one_that_stops_is_not_held(sleep, status):
    """faust's shutdown once waited seven minutes on a commit its stopped consumer thread never answered."""
    script = HANGING_AFTER_A_CRASH.format(seconds=1, sleep=sleep)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=50)
    assert done.returncode == status, done.stderr
    assert ("did not stop within 1s of crashing; exiting" in done.stderr) == (status == 1), done.stderr
