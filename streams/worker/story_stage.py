"""The story stage: the place stage's decisions folded into their stories, keyed by story (streams/story/shelf.py).

It reads the story placements topic, whose partitions every worker shares, as it shares the raw articles'; each
assigned partition has a `StoryShelf` over the story rows table's partition. Each message is taken as it comes
(folded, or held in its story's row behind an awaited merge); what the messages taken make is finished in
batches (a group commit, as the place stage's), each step confirmed by the broker before the next begins:

1. its messages in order: the entries, one snapshot of each story the batch made one due for (as of the
   batch's end), and the handovers of the stories it closed;
2. the rows it changed, each as of the batch's end;
3. the acks of its messages, in offset order.

A crash leaves a prefix of these done. The messages not acked come again; those the stored rows have taken
make nothing, the others fold again from the same rows into the same entries, which subscribers drop as
repeats.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from dataclasses import dataclass, field

from schemas.placing import parse_to_story
from streams.pipeline.prepare import dead_letter
from streams.story.fold import snapshot, snapshot_due
from streams.story.shelf import StoredRows, StoryShelf
from streams.worker.context import WorkerContext, send_table_records, stop_if_failed
from streams.worker.delivery import Send, dead_letter_send, deliver_all, until_done
from streams.worker.place_stage import OpenBatch

log = logging.getLogger(__name__)


@dataclass
class Taken:
    """One message of a batch: its event, what it publishes, the entries it made and the stories it closed (their
    snapshots say where they went), and its context."""

    event: object
    sends: list[Send]
    shelf: StoryShelf | None = None  # whose rows it changed (none: a dead letter)
    entries: list = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    context: contextvars.Context = field(default_factory=contextvars.copy_context)


def story_agent(ctx: WorkerContext):
    """The agent: each message taken as it comes; a second task finishes the batches."""

    async def fold_stories(stream):
        ctx.shelves = {}  # partition -> its shelf, made again from the table after a start or a rebalance
        events = stream.noack()
        batch = OpenBatch()
        writer = asyncio.create_task(_write_batches(ctx, events, batch))
        writer.add_done_callback(lambda task: stop_if_failed(ctx, task, "the story stage's writer"))
        try:
            async for event in events.events():
                await batch.has_room.wait()
                _take(ctx, batch, event)
        finally:
            writer.cancel()

    return fold_stories


def _shelf(ctx: WorkerContext, partition: int) -> StoryShelf:
    """The partition's shelf, made from the table (and the rows of batches not written yet) when it has none."""
    shelf = ctx.shelves.get(partition)
    if shelf is None:
        rows = StoredRows(ctx.story_rows, ctx.unwritten_rows.setdefault(partition, {}))
        shelf = ctx.shelves[partition] = StoryShelf(rows)
    return shelf


def _take(ctx: WorkerContext, batch: OpenBatch, event) -> None:
    """Take one message into the open batch. One that cannot be read or folded (a bug) is a dead letter: it may
    have changed part of a row, so its partition's shelf is made again from the rows as written, and the batch's
    earlier messages of the partition are taken again."""
    try:
        batch.add(_taken(ctx, event))
    except Exception as error:
        log.exception("folding a story placement failed")
        partition = event.message.partition
        ctx.shelves.pop(partition, None)
        for item in batch.take():
            if item.shelf is not None and item.event.message.partition == partition:
                _take(ctx, batch, item.event)
            else:
                batch.add(item)
        letter = dead_letter(event.value, f"internal error while folding: {error!r}", "process")
        batch.add(Taken(event, [dead_letter_send(ctx.topics.dead_letters, letter)]))
        ctx.counters.dead_letters += 1


def _taken(ctx: WorkerContext, event) -> Taken:
    shelf = _shelf(ctx, event.message.partition)
    done = shelf.receive(parse_to_story(event.value), event)
    taken = Taken(event, [], shelf)
    for made in done:
        taken.entries.extend(made.entries)
        taken.sends.extend((ctx.topics.story_events, e.story_id.encode(), e.to_bytes()) for e in made.entries)
        taken.sends.extend((ctx.topics.story_placements, h.story_id.encode(), h.to_bytes()) for h in made.handovers)
        taken.closed.extend(h.absorbed_story_id for h in made.handovers)
    return taken


def _snapshots(ctx: WorkerContext, taken: list[Taken]) -> list[Send]:
    """One snapshot of each story the batch made one due for (`snapshot_due`), or closed, as of the batch's end,
    from the shelf that folded it (kept by the batch through a rebalance)."""
    due: dict[str, StoryShelf] = {}
    for item in taken:
        due.update({e.story_id: item.shelf for e in item.entries if snapshot_due(e)})
        due.update(dict.fromkeys(item.closed, item.shelf))
    return [
        (ctx.topics.story_snapshots, story_id.encode(), snapshot(story_id, shelf.state(story_id)).to_bytes())
        for story_id, shelf in due.items()
    ]


def _changed_rows(ctx: WorkerContext, taken: list[Taken]) -> dict[int, list[tuple[str, dict]]]:
    """The rows the batch's shelves changed, as JSON now (later messages change them in place), per partition;
    noted as not written yet, so that a shelf made again meanwhile reads them (`StoredRows`)."""
    rows = {}
    for shelf in {id(item.shelf): item.shelf for item in taken if item.shelf is not None}.values():
        if shelf.changed:
            partition = next(item.event.message.partition for item in taken if item.shelf is shelf)
            rows[partition] = shelf.written()
            ctx.unwritten_rows.setdefault(partition, {}).update(rows[partition])
    return rows


def _written(ctx: WorkerContext, partition: int, rows: list[tuple[str, dict]]) -> None:
    """The rows are in the table: no longer read from the batch, unless a later batch changed them since."""
    unwritten = ctx.unwritten_rows.get(partition, {})
    for story_id, row in rows:
        if unwritten.get(story_id) is row:
            del unwritten[story_id]


async def _write_batches(ctx: WorkerContext, stream, batch: OpenBatch) -> None:
    """Take the open batch whenever it has messages, and finish it: messages, rows, acks (module docstring)."""
    linger = ctx.settings.place_linger_ms / 1000
    while True:
        await batch.gathered(linger)
        taken = batch.take()
        sends = [send for item in taken for send in item.sends] + _snapshots(ctx, taken)
        rows = _changed_rows(ctx, taken)
        if sends:  # a batch of messages taken before (a redelivery) sends nothing
            await deliver_all(ctx.counters, *sends)
        for partition, partition_rows in rows.items():
            writes = [(story_id, row, None) for story_id, row in partition_rows]

            async def attempt(writes=writes, partition=partition) -> None:
                records = taken[-1].context.run(ctx.story_rows.write_locally, writes, partition)
                await send_table_records(ctx.story_rows, partition, records)

            await until_done(ctx.counters, attempt, "writing the story rows' changelog")
            _written(ctx, partition, partition_rows)
        for item in taken:
            await stream.ack(item.event)
            ctx.acked(item.event)
