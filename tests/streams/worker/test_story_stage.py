"""The story stage's per-message work and batches, without a broker: what it publishes and the rows it writes."""

import zlib
from types import SimpleNamespace

import orjson

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
        topics=topics, shelves={}, unwritten_rows={}, story_rows=SimpleNamespace(get=stored.get), counters=Counters()
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


async def test_a_batch_of_messages_taken_before_sends_nothing_writes_their_rows_again_and_is_acked(monkeypatch):
    """Messages the stored rows have taken (a redelivery) make nothing to send: their rows are written again (a
    crash may have cut their changelog writes), and the batch is acked, not retried for good."""
    import asyncio

    from streams.worker.place_stage import OpenBatch

    stored, written = {}, []
    ctx = _context(stored)
    ctx.settings = SimpleNamespace(place_linger_ms=0)
    ctx.acked = lambda event: None
    ctx.story_rows.write_locally = lambda writes, partition: [(key, orjson.dumps(row)) for key, row, _ in writes]

    async def send_table_records(table, partition, records):
        written.extend(key for key, _ in records)

    monkeypatch.setattr(story_stage, "send_table_records", send_table_records)
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
