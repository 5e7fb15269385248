"""The story stage's per-message work and batches, without a broker: what it publishes and the rows it writes."""

import zlib
from types import SimpleNamespace

import orjson
import pytest

from schemas import StorySnapshot, parse_story_event
from streams.story.desk import StoryDesk
from streams.story.fold import fold_log
from streams.worker import story_stage
from streams.worker.counters import Counters
from tests.streams.story.test_desk import SETTINGS, _synthetic

PARTITIONS = 3


def _context(stored: dict) -> SimpleNamespace:
    topics = SimpleNamespace(
        story_events="events", story_snapshots="snapshots", story_placements="placements", dead_letters="dead-letters"
    )
    return SimpleNamespace(
        topics=topics, shelves={}, unwritten_rows={}, story_rows=SimpleNamespace(get=stored.get), counters=Counters(),
        story_stage_stopped=False,
    )


def _placements(n: int) -> list[SimpleNamespace]:
    """The global desk's messages for a synthetic stream, as the story stage's events: each on its story's partition."""
    desk, events = StoryDesk(SETTINGS), []
    for prepared in _synthetic(n, seed=5):
        for kind, key, value in desk.messages(desk.place(prepared)):
            if kind == "story":
                events.append(_event(key, value, len(events)))
    return events


def _event(story_id: str, value: bytes, offset: int) -> SimpleNamespace:
    partition = zlib.crc32(story_id.encode()) % PARTITIONS
    return SimpleNamespace(key=story_id.encode(), value=value, message=SimpleNamespace(partition=partition, offset=offset))


def _run(ctx, events: list) -> list:
    """Take every event, handovers fed back as their partition's next messages, as the broker would."""
    taken, pending = [], list(events)
    while pending:
        item = story_stage._taken(ctx, pending.pop(0))
        taken.append(item)
        pending.extend(_event(key.decode(), value, -1) for topic, key, value in item.sends if topic == "placements")
    return taken


def test_the_stage_publishes_each_story_s_entries_in_version_order_and_one_snapshot_per_story_as_of_the_batch_s_end():
    ctx = _context({})
    taken = _run(ctx, _placements(300))
    entries = [orjson.loads(value) for item in taken for topic, _, value in item.sends if topic == "events"]
    by_story: dict[str, list[int]] = {}
    for entry in entries:
        by_story.setdefault(entry["story_id"], []).append(entry["version"])
    assert all(versions == list(range(1, len(versions) + 1)) for versions in by_story.values())
    assert any(entry["kind"] == "merged" for entry in entries)

    sends = story_stage._snapshots(ctx, taken)
    snapshots = {key.decode(): StorySnapshot.model_validate_json(value) for _, key, value in sends}
    assert len(snapshots) == len(sends)  # once per story
    folded = fold_log(sorted(map(parse_story_event, map(orjson.dumps, entries)), key=lambda e: e.position))
    for story_id, made in snapshots.items():
        assert made.version == folded[story_id].version
        assert made.merged_into == folded[story_id].merged_into
    absorbed = {entry["absorbed_story_id"] for entry in entries if entry["kind"] == "merged"}
    assert absorbed <= set(snapshots), "a closed story's snapshot says where it went"


def test_a_batch_writes_each_row_it_changed_once_as_it_is_then_and_a_shelf_made_again_reads_them_back():
    ctx = _context({})
    taken = _run(ctx, _placements(100))
    rows = story_stage._changed_rows(ctx, taken)
    assert rows and all(not shelf.changed for shelf in ctx.shelves.values())
    stored = {story_id: row for partition_rows in rows.values() for story_id, row in partition_rows}
    assert len(stored) == sum(len(r) for r in rows.values())
    # Before the rows are written, a shelf made again (a rebalance) reads them from the batch; after, from the table.
    for table, unwritten in (({}, ctx.unwritten_rows), (stored, {})):
        again = _context(table)
        again.unwritten_rows = unwritten
        for partition, shelf in ctx.shelves.items():
            remade = story_stage._shelf(again, partition)
            for story_id, row in shelf.rows.items():
                assert remade.rows.get(story_id).to_json() == row.to_json()
    for partition, partition_rows in rows.items():
        story_stage._written(ctx, partition, partition_rows)
    assert not any(ctx.unwritten_rows.values())
    assert story_stage._changed_rows(ctx, taken) == {}


def test_a_message_that_cannot_be_folded_is_a_dead_letter_and_its_partition_s_batch_is_taken_again_from_the_rows():
    from streams.worker.place_stage import OpenBatch

    ctx, batch = _context({}), OpenBatch()
    events = _placements(40)
    for event in events[:30]:
        story_stage._take(ctx, batch, event)
    broken = events[30]
    partition = broken.message.partition
    before = ctx.shelves[partition]
    expected = {id(item.event): [e.to_bytes() for e in item.entries] for item in batch.placed}
    story_stage._take(ctx, batch, _event(broken.key.decode(), b'{"kind": "article"}', 30))
    *items, letter = batch.placed
    ((topic, _, value),) = letter.sends
    assert topic == "dead-letters" and "internal error while folding" in orjson.loads(value)["reason"]
    assert ctx.counters.dead_letters == 1 and letter.shelf is None and [item.event for item in items] == events[:30]
    again = [item for item in items if item.event.message.partition == partition]
    assert again and all(item.shelf is ctx.shelves[partition] is not before for item in again)
    assert {id(item.event): [e.to_bytes() for e in item.entries] for item in items} == expected


def _merge_events(events: list) -> tuple:
    """The first merge of the events whose survivor has an article after it: its Close and its Absorb, with every
    event before the Close, and the survivor's next placement."""
    messages = [orjson.loads(event.value) for event in events]
    for index, message in enumerate(messages):
        if message["kind"] == "close":
            absorb = next(e for e, m in zip(events, messages) if m["kind"] == "absorb" and m["position"] == message["position"])
            later = [e for e, m in zip(events[index:], messages[index:]) if e.key == absorb.key and m["kind"] == "article"]
            if later:
                return events[:index], events[index], absorb, later[0]
    raise AssertionError("no merge with a later article of its survivor")


def test_a_close_that_cannot_be_taken_is_a_dead_letter_and_gives_its_merge_up_so_the_survivor_waits_no_longer(monkeypatch):
    from streams.story.shelf import StoryShelf
    from streams.worker.place_stage import OpenBatch

    ctx, batch = _context({}), OpenBatch()
    before, close, absorb, later = _merge_events(_placements(300))
    for event in [*before, absorb, later]:
        story_stage._take(ctx, batch, event)
    assert not any(item.entries for item in batch.placed[-2:]), "the survivor waits, holding its later article"
    receive = StoryShelf.receive

    def broken(self, message, token=None):
        if message.kind == "close":
            raise RuntimeError("a bug closing a story")
        return receive(self, message, token)

    monkeypatch.setattr(StoryShelf, "receive", broken)
    story_stage._take(ctx, batch, close)
    letter = batch.placed[-1]
    (dead, (topic, key, value)) = letter.sends
    assert dead[0] == "dead-letters" and "a bug closing a story" in orjson.loads(dead[2])["reason"]
    assert (topic, key) == ("placements", absorb.key)
    handover = orjson.loads(value)
    assert handover["kind"] == "handover" and handover["state"] is None
    monkeypatch.setattr(StoryShelf, "receive", receive)
    story_stage._take(ctx, batch, _event(key.decode(), value, -1))
    released = batch.placed[-1]
    entries = [orjson.loads(v) for t, _, v in released.sends if t == "events"]
    assert [(e["kind"], e["position"]) for e in entries] == [("joined", orjson.loads(later.value)["position"])]


def test_a_handover_that_cannot_be_taken_is_a_dead_letter_and_the_survivor_goes_on_without_the_merge(monkeypatch):
    from streams.story.shelf import StoryShelf
    from streams.worker.place_stage import OpenBatch

    ctx, batch = _context({}), OpenBatch()
    before, close, absorb, later = _merge_events(_placements(300))
    for event in [*before, absorb, later, close]:
        story_stage._take(ctx, batch, event)
    ((_, key, value),) = [send for send in batch.placed[-1].sends if send[0] == "placements"]
    merge = StoryShelf._merge

    def broken(self, row, absorb, handover):
        if handover.state is not None:
            raise RuntimeError("a bug merging two stories")
        return merge(self, row, absorb, handover)

    monkeypatch.setattr(StoryShelf, "_merge", broken)
    story_stage._take(ctx, batch, _event(key.decode(), value, -1))
    item = batch.placed[-1]
    assert item.sends[0][0] == "dead-letters" and "a bug merging two stories" in orjson.loads(item.sends[0][2])["reason"]
    entries = [orjson.loads(v) for t, _, v in item.sends if t == "events"]
    assert [(e["kind"], e["position"]) for e in entries] == [("joined", orjson.loads(later.value)["position"])]
    assert item.shelf.rows.get(absorb.key.decode()).awaiting is None and ctx.counters.dead_letters == 1


async def test_a_bug_folding_what_a_survivor_held_stops_the_stage_which_then_writes_and_acks_nothing(monkeypatch):
    """Giving the merge up folds what the survivor held, acked with the rows that held them: a bug there stops the
    worker, and the stage takes, writes and acks nothing more, so that all of it comes again on the next start."""
    import asyncio

    from streams.story.shelf import StoryShelf
    from streams.worker.place_stage import OpenBatch

    ctx, batch = _context({}), OpenBatch()
    ctx.settings = SimpleNamespace(place_linger_ms=0)
    before, close, absorb, later = _merge_events(_placements(300))
    for event in [*before, absorb, later, close]:
        story_stage._take(ctx, batch, event)
    ((_, key, value),) = [send for send in batch.placed[-1].sends if send[0] == "placements"]
    stopped = []
    monkeypatch.setattr(story_stage, "stop_worker_for", lambda ctx, error, what: stopped.append(what))
    receive = StoryShelf.receive

    def broken(self, message, token=None):
        if message.kind in ("handover", "article") and token is None or (message.kind == "handover" and message.state):
            raise RuntimeError("a bug folding")
        return receive(self, message, token)

    monkeypatch.setattr(StoryShelf, "receive", broken)
    story_stage._take(ctx, batch, _event(key.decode(), value, -1))
    assert ctx.story_stage_stopped and stopped and "giving up the merge" in stopped[0]
    assert [send[0] for send in batch.placed[-1].sends] == ["dead-letters"]
    acked = []

    async def ack(event):
        acked.append(event)

    writer = asyncio.create_task(story_stage._write_batches(ctx, SimpleNamespace(ack=ack), batch))
    await asyncio.sleep(0.05)
    assert writer.done() and acked == [] and batch.placed, "nothing of the open batch written or acked"


async def test_a_batch_of_messages_taken_before_sends_nothing_writes_their_rows_again_and_is_acked(monkeypatch):
    """Messages the stored rows have taken (a redelivery) make nothing to send: their rows are written again (a
    crash may have cut their changelog writes), and the batch is acked, not retried for good."""
    import asyncio

    from streams.worker.place_stage import OpenBatch

    stored, written = {}, []
    ctx = _context(stored)
    ctx.settings = SimpleNamespace(place_linger_ms=0)
    ctx.acked = lambda event: None

    async def write_after_changelog(table, partition, writes):
        written.extend(key for key, _, _ in writes)

    monkeypatch.setattr(story_stage, "write_after_changelog", write_after_changelog)
    events = _placements(20)
    stored.update(row for rows in story_stage._changed_rows(ctx, _run(ctx, events)).values() for row in rows)
    acked = []

    async def ack(event):
        acked.append(event)

    batch = OpenBatch()
    writer = asyncio.create_task(story_stage._write_batches(ctx, SimpleNamespace(ack=ack), batch))
    again = [story_stage._taken(ctx, event) for event in events[:5]]
    assert all(item.sends == [] for item in again)
    for item in again:
        batch.add(item)
    for _ in range(100):
        if len(acked) == 5:
            break
        await asyncio.sleep(0.01)
    writer.cancel()
    assert acked == events[:5]
    assert sorted(written) == sorted({event.key.decode() for event in events[:5]})


async def test_a_batch_sends_its_handovers_only_once_its_entries_are_on_the_broker(monkeypatch):
    """A survivor's merge entry is made when its handover comes: sent after the absorbed story's entries are
    confirmed, the handover puts the merge after them on the story events topic."""
    import asyncio

    from streams.worker.place_stage import OpenBatch

    ctx = _context({})
    ctx.settings = SimpleNamespace(place_linger_ms=0)
    acked, delivered = [], []
    ctx.acked = acked.append

    async def write_after_changelog(table, partition, writes):
        pass

    async def deliver_all(counters, *sends):
        delivered.append([topic for topic, _, _ in sends])

    monkeypatch.setattr(story_stage, "write_after_changelog", write_after_changelog)
    monkeypatch.setattr(story_stage, "deliver_all", deliver_all)
    before, close, _, _ = _merge_events(_placements(300))
    batch = OpenBatch()
    for event in [*before, close]:
        batch.add(story_stage._taken(ctx, event))

    async def ack(event):
        pass

    writer = asyncio.create_task(story_stage._write_batches(ctx, SimpleNamespace(ack=ack), batch))
    for _ in range(100):
        if len(acked) == len(before) + 1:
            break
        await asyncio.sleep(0.01)
    writer.cancel()
    assert len(acked) == len(before) + 1
    *earlier, last = delivered
    assert set(last) == {"placements"} and "events" in earlier[-1] and "placements" not in earlier[-1]


async def test_story_rows_reach_the_worker_s_store_only_once_their_changelog_has_them(tmp_path, batching_producer):
    """The store is never ahead of the changelog: a crash or a failed send leaves nothing in it that a worker rebuilt
    from the changelog would lack, and its persisted offset is where the changelog has its last write."""
    import asyncio

    import faust
    from faust.types import TP

    from streams.story.staging import DELETED
    from streams.worker.context import ConfirmedTable, write_after_changelog

    app = faust.App("t-rows", broker="kafka://127.0.0.1:1", store="rocksdb://", datadir=str(tmp_path))
    table = ConfirmedTable(app, name="story-rows", default=None, beacon=app.tables.beacon, key_type=str, partitions=4)
    producer = batching_producer(size=10)

    async def started():
        return SimpleNamespace(_ensure_producer=lambda: producer)

    app.maybe_start_producer = started
    topic = table.changelog_topic.get_topic_name()
    writes = [("s1", {"position": 3}, None), ("held:s1:4", DELETED, None)]

    failing = asyncio.create_task(write_after_changelog(table, 2, writes))
    while not producer.batches:
        await asyncio.sleep(0.01)
    assert producer.batches[0][:3] == (topic, 2, [(b'"s1"', b'{"position":3}'), (b'"held:s1:4"', None)])
    assert table.data._db_for_partition(2).get(b'"s1"') is None, "nothing in the store while the changelog waits"
    producer.batches[0][3].set_exception(RuntimeError("the broker refused"))
    with pytest.raises(RuntimeError):
        await failing
    assert table.data._db_for_partition(2).get(b'"s1"') is None and table.data.persisted_offset(TP(topic, 2)) is None

    writing = asyncio.create_task(write_after_changelog(table, 2, writes))
    while len(producer.batches) < 2:
        await asyncio.sleep(0.01)
    producer.batches[1][3].set_result(SimpleNamespace(offset=7))
    await writing
    assert table.data._db_for_partition(2).get(b'"s1"') == b'{"position":3}'
    assert table.data.persisted_offset(TP(topic, 2)) == 8  # the tombstone's offset: recovery reads on from 9


def test_a_batch_holding_a_partition_s_old_and_new_shelf_writes_the_rows_of_both_the_old_first():
    ctx = _context({})
    events = _placements(40)
    partition = events[0].message.partition
    ours = [event for event in events if event.message.partition == partition]
    first = story_stage._taken(ctx, ours[0])
    ctx.shelves = {}  # a rebalance made the partition's shelf again while the batch was open
    later = [story_stage._taken(ctx, event) for event in ours[1:]]
    assert first.shelf is not later[0].shelf
    rows = story_stage._changed_rows(ctx, [first, *later])
    written = [key for key, _ in rows[partition]]
    assert written[0] == ours[0].key.decode(), "the old shelf's row first"
    assert sorted(written[1:]) == sorted({event.key.decode() for event in ours[1:]}), "then every row of the new one"
