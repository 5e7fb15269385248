"""The place stage's batches, without a broker: a bug placing one article costs only that article."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import faust
import orjson
import pytest
from aiokafka.errors import KafkaTimeoutError

from schemas import DeadLetter
from streams.pipeline.prepare import prepare
from streams.settings import Settings
from streams.story.desk import DeskStores, StoryDesk, recorded_events
from streams.story.staging import DELETED, Staging, write
from streams.tools.synthetic import REPLAYED_AT, generate
from streams.worker import journal, place_stage
from streams.worker.context import TABLES, ConfirmedTable, changelogs_confirmed
from streams.worker.counters import Counters
from streams.worker.metrics import WorkerMetrics
from streams.worker.place_stage import OpenBatch

SETTINGS = Settings(broker="127.0.0.1:1")


def _context() -> SimpleNamespace:
    """What the place stage reads of a worker's context; topics stand for themselves."""
    topics = SimpleNamespace(
        story_events="events", story_snapshots="snapshots", duplicates="duplicates", dead_letters="dead-letters"
    )
    return SimpleNamespace(
        settings=SETTINGS, staging=Staging(DeskStores()), desk=None, topics=topics, metrics=WorkerMetrics(Counters(), 60)
    )


def _events(n: int) -> list[SimpleNamespace]:
    articles = generate(n, seed=3, max_paragraphs=2).articles
    prepared = [prepare(orjson.dumps(a), None, REPLAYED_AT + i, 2_000_000) for i, a in enumerate(articles)]
    return [SimpleNamespace(key=p.article.article_id.encode(), value=p.to_bytes()) for p in prepared if not isinstance(p, DeadLetter)]


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
    assert ctx.staging.open == calm.staging.open  # the failed article's staged writes are gone


async def test_a_phase_is_confirmed_only_once_the_broker_has_each_changelog_write_and_a_failure_says_so():
    loop = asyncio.get_running_loop()
    topic = SimpleNamespace(get_topic_name=lambda: "articles-changelog")
    first, second = loop.create_future(), loop.create_future()
    tables = DeskStores(**{name: SimpleNamespace(changelog_topic=topic, unconfirmed=[]) for name in vars(DeskStores())})
    tables.articles.unconfirmed = [first, second]
    waiting = asyncio.create_task(changelogs_confirmed(tables))
    first.set_result(None)
    await asyncio.sleep(0.01)
    assert not waiting.done()  # the second write is not on the broker yet
    second.set_exception(KafkaTimeoutError())
    with pytest.raises(KafkaTimeoutError):
        await waiting
    assert tables.articles.unconfirmed == []  # taken: a phase written again is waited for afresh


async def test_a_writer_that_fails_stops_the_worker():
    crashed = []

    async def crash(reason):
        crashed.append(reason)

    ctx = SimpleNamespace(app=SimpleNamespace(crash=crash))
    failure = RuntimeError("a bug in the writer")

    async def failing():
        raise failure

    writer = asyncio.create_task(failing())
    await asyncio.gather(writer, return_exceptions=True)
    place_stage._stop_if_failed(ctx, writer)
    await asyncio.sleep(0)
    assert crashed == [failure]


def test_a_phase_written_again_sends_the_tombstone_of_a_key_its_first_attempt_removed(tmp_path):
    """The first attempt removed the key locally but its tombstone failed: the second must send it again."""
    app = faust.App("t-tombstone", broker="kafka://127.0.0.1:1", store="memory://", datadir=str(tmp_path))
    table = ConfirmedTable(app, name="live", default=None, beacon=app.tables.beacon, key_type=str, partitions=1)
    sent = []
    table.partition_for_key = lambda key: 0

    def send_changelog(partition, key, value=None, *args, **kwargs):
        sent.append((key, value))
        return SimpleNamespace(message=SimpleNamespace(partition=partition))

    table.send_changelog = send_changelog
    table.data["s1"] = {"size": 1}
    phase = [(table, "s1", DELETED)]
    write(phase)
    write(phase)  # again, after a failed changelog write
    assert sent == [("s1", None), ("s1", None)] and "s1" not in table


def test_a_value_encoded_for_the_journal_goes_to_the_changelog_as_those_bytes_and_only_that_value(tmp_path):
    app = faust.App("t-encoded", broker="kafka://127.0.0.1:1", store="memory://", datadir=str(tmp_path))
    table = ConfirmedTable(app, name="live", default=None, beacon=app.tables.beacon, key_type=str, partitions=1)
    value, other = {"size": 1}, {"size": 1}
    table.encoded = {"s1": (value, table.changelog_value(value))}
    sent = []
    table._changelog_topic = SimpleNamespace(send_soon=lambda **kw: sent.append((kw["value"], kw["value_serializer"])))
    table.send_changelog(0, "s1", value)
    table.send_changelog(0, "s1", other)  # an equal value, but not the one encoded: faust encodes it
    table.send_changelog(0, "s1", None, None, "raw")  # a removal, as faust sends it
    assert sent == [(b'{"size":1}', "raw"), (other, table.value_serializer), (None, "raw")]


async def test_a_batch_s_changelog_writes_are_those_its_journal_records_and_go_as_the_journal_s_bytes(tmp_path, monkeypatch):
    """The place stage's writer with real tables: each write a changelog gets (its final bytes, as faust makes
    them) is one the journal recorded, key and value, in its order, and each value goes as the journal's bytes."""
    app = faust.App("t-journal-bytes", broker="kafka://127.0.0.1:1", store="memory://", datadir=str(tmp_path))
    sent = []
    tables = {}
    for store, name in TABLES.items():
        table = tables[store] = ConfirmedTable(app, name=name, default=None, beacon=app.tables.beacon, key_type=str, partitions=1)
        table.partition_for_key = lambda key: 0

        def send_soon(store=store, **kw):
            sent.append((store, kw["key"], app.serializers.dumps_value(None, kw["value"], serializer=kw["value_serializer"]), kw["value_serializer"]))
            return SimpleNamespace(message=SimpleNamespace(partition=0))

        table._changelog_topic = SimpleNamespace(send_soon=send_soon)
    stores = DeskStores(**tables)

    async def confirmed_tables(tables):
        for table in vars(tables).values():
            table.unconfirmed = []
        return {}

    async def nothing(*args, **kwargs):
        return []

    monkeypatch.setattr(place_stage, "changelogs_confirmed", confirmed_tables)
    monkeypatch.setattr(place_stage, "send_for_later", nothing)
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
    found = {store: [(key, journal.digest(value)) for s, key, value, _ in sent if s == store] for store in TABLES}
    assert sum(map(len, found.values())) == sum(map(len, recorded.keys.values())) > 30
    assert journal.landing(recorded, found, dict.fromkeys(TABLES, 1)) == ("whole", None)
    assert {serializer for _, _, value, serializer in sent} == {"raw"}, "values as the journal's bytes, removals as faust's"


async def _until(done) -> None:
    while not done():
        await asyncio.sleep(0.01)


def test_an_articles_record_is_encoded_by_the_tables_as_the_dicts_of_its_entries_were():
    """The desk embeds an entry's JSON in the record; faust's codec (a table's store and changelog) writes the bytes
    that the record of parsed entries gave before, and reads back a plain dict with the same entries."""
    app = faust.App("t-record", broker="kafka://127.0.0.1:1", store="memory://")
    desk = StoryDesk(SETTINGS)
    article = prepare(orjson.dumps(generate(1, seed=3).articles[0]), None, REPLAYED_AT, 2_000_000)
    outcome = desk.place(article)
    record = desk.stores.articles[article.article.article_id]
    parsed = {"story_id": outcome.event.story_id, "events": [orjson.loads(v) for v in outcome.encoded], "now": record["now"]}
    written = app.serializers.dumps_value(None, record, serializer="json")
    assert written == app.serializers.dumps_value(None, parsed, serializer="json")
    read_back = app.serializers.loads_value(None, written, serializer="json")
    assert type(read_back) is dict and read_back == record == parsed
    assert recorded_events(read_back) == recorded_events(record) == outcome.events
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
