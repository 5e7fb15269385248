"""The story stage: the place stage's decisions folded into their stories, keyed by story (streams/story/shelf.py).

It reads the story placements topic, whose partitions every worker shares, as it shares the raw articles'; each
assigned partition has a `StoryShelf` over the story rows table's partition. Each message is taken as it comes
(folded, or held in its story's row behind an awaited merge); what the messages taken make is finished in
batches (a group commit, as the place stage's), each step confirmed by the broker before the next begins:

1. its messages in order: the entries, one snapshot of each story the batch made one due for (as of the
   batch's end), its dead letters;
2. the handovers of the stories it closed: only once their entries are on the broker, so that a survivor's merge
   entry, made when its handover comes, follows every entry of the absorbed story on the story events topic,
   as a subscriber folding the topic needs (the entries of different stories come from different partitions);
3. the rows it changed, each as of the batch's end: on their changelog first, then in the worker's store;
4. the acks of its messages, in offset order.

A crash leaves a prefix of these done. The messages not acked come again; those the stored rows have taken
make nothing, the others fold again from the same rows into the same entries, which subscribers drop as
repeats.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from dataclasses import dataclass, field

import orjson

from schemas.placing import Handover, parse_to_story
from streams.pipeline.prepare import dead_letter
from streams.story.fold import snapshot, snapshot_due
from streams.story.shelf import StoredRows, StoryShelf, ToStory
from streams.worker.context import (
    WorkerContext,
    stop_if_failed,
    stop_worker_for,
    write_after_changelog,
)
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
                if not ctx.story_stage_stopped:  # else never acked: it comes again on the next start
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
    earlier messages of the partition are taken again. A merge's survivor must not wait for good on what a dead
    letter took: a `Close` dead-lettered sends its survivor a handover without a state, and a `Handover`
    dead-lettered is taken as one, so that the merge is given up (streams/story/shelf.py)."""
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
        ctx.counters.dead_letters += 1
        batch.add(_given_up(ctx, event, [dead_letter_send(ctx.topics.dead_letters, letter)]))


def _given_up(ctx: WorkerContext, event, sends: list[Send]) -> Taken:
    """A dead-lettered message's `Taken`: its dead letter, and for a merge's `Close` or `Handover` the merge given
    up, so that its survivor waits no longer. A bug folding what the survivor held meanwhile stops the worker, and
    the stage with it (`story_stage_stopped`), rather than lose those messages (acked with the rows that held
    them): nothing of the open batch is written or acked, so all of it comes again on the next start."""
    kind, handover = _merge_given_up(event.value)
    if kind == "close":  # the survivor is on another partition, maybe: the handover goes to it
        return Taken(event, [*sends, (ctx.topics.story_placements, handover.story_id.encode(), handover.to_bytes())])
    if kind == "handover":  # the survivor is on this one
        try:
            taken = _taken(ctx, event, handover)
        except Exception as error:
            ctx.story_stage_stopped = True
            stop_worker_for(ctx, error, f"giving up the merge of {handover.absorbed_story_id} into {handover.story_id}")
            return Taken(event, sends)
        taken.sends[:0] = sends
        return taken
    return Taken(event, sends)


def _merge_given_up(value: bytes) -> tuple[str | None, Handover | None]:
    """For a `Close` or a `Handover` (read as JSON, whatever its fields' values), its kind and the handover without a
    state that gives its merge up; (None, None) for any other message, or one too broken to say which merge."""
    try:
        message = orjson.loads(value)
        kind, position = message["kind"], message["position"]
        if kind == "close":
            return kind, Handover(story_id=message["into"], position=position, absorbed_story_id=message["story_id"], state=None)
        if kind == "handover":
            handover = Handover(story_id=message["story_id"], position=position, absorbed_story_id=message["absorbed_story_id"], state=None)
            return kind, handover
    except (orjson.JSONDecodeError, TypeError, KeyError, ValueError):
        pass
    return None, None


def _taken(ctx: WorkerContext, event, message: ToStory | None = None) -> Taken:
    """What taking the event's message (or `message`, in its place) makes."""
    shelf = _shelf(ctx, event.message.partition)
    done = shelf.receive(message or parse_to_story(event.value), event)
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
    noted as not written yet, so that a shelf made again meanwhile reads them (`StoredRows`). A partition whose
    shelf was made again during the batch (faust waits for a batch's acks before a rebalance, but should one
    straddle it) has both shelves' rows, the earlier shelf's first."""
    rows: dict[int, list[tuple[str, dict]]] = {}
    for shelf in {id(item.shelf): item.shelf for item in taken if item.shelf is not None}.values():
        if shelf.changed:
            partition = next(item.event.message.partition for item in taken if item.shelf is shelf)
            written = shelf.written()
            rows.setdefault(partition, []).extend(written)
            ctx.unwritten_rows.setdefault(partition, {}).update(written)
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
        if ctx.story_stage_stopped:
            return
        taken = batch.take()
        sends = [send for item in taken for send in item.sends] + _snapshots(ctx, taken)
        handovers = [send for send in sends if send[0] == ctx.topics.story_placements]
        rows = _changed_rows(ctx, taken)
        for phase in ([send for send in sends if send[0] != ctx.topics.story_placements], handovers):
            if phase:  # a batch of messages taken before (a redelivery) sends nothing
                await deliver_all(ctx.counters, *phase)
        for partition, partition_rows in rows.items():
            writes = [(story_id, row, None) for story_id, row in partition_rows]

            async def attempt(writes=writes, partition=partition) -> None:
                await write_after_changelog(ctx.story_rows, partition, writes)

            await until_done(ctx.counters, attempt, "writing the story rows")
            _written(ctx, partition, partition_rows)
        for item in taken:
            await stream.ack(item.event)
            ctx.acked(item.event)
