"""The place stage: each prepared article is a redelivery, a duplicate, or the next entry of a story (global).

It needs a view across every story, so it reads the single-partition prepared topic and runs on one
worker at a time. It decides, and hands each decision to the story stage (streams/worker/story_stage.py) on the
story placements topic, keyed by story: the fold, the entries and the snapshots are that stage's, which every
worker shares. Articles are placed in memory in the order they arrive, in chunks of what faust has fetched
(`PLACE_CHUNK`: each chunk decoded, then placed; on a quiet stream a chunk is one article; a revocation or a
stop places a chunk held at once, as faust waits for it: `HeldChunk`); what they change is
written and published in batches (a group commit): while one batch goes to the broker, the next gathers
every article placed meanwhile, for at least `place_linger_ms` from its first article (unless it fills up),
so a batch is one article on a quiet stream and up to `MAX_BATCH` on a busy one. A batch's writes and
messages cost the worker and the broker per batch as much as per article: in end-to-end runs, a linger of
20 ms took the worker's process 3.93 and 3.18 ms of CPU per article against 4.13 and 3.61 without it. A batch
is finished in this order, each step confirmed by the broker before the next begins:

0. a journal of the writes it makes to each table, keys and digests of their values (streams/worker/journal.py),
   so that a crash cannot leave the changelogs behind the local tables; cleared once the tables' phases are
   confirmed;
1. the article records (the desk's writes are made once per key, in the phases of streams/story/staging.py);
2. its messages (placements, duplicate verdicts, dead letters) in order, so a story's placements reach the
   broker in log order; sent while the windows, then the log position, are written;
3. the acks of its prepared articles, in offset order.

A crash leaves a prefix of these done. The articles not acked come again and the desk recognises each
one it recorded (healing the writes the crash cut short): a message processed twice changes no state,
and its placements are sent again with the same positions, which the story stage drops. No message goes out
before its article's record is on the broker, so every placement sent is one a redelivery sends again.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from schemas import PreparedArticle
from streams.pipeline.prepare import dead_letter
from streams.story.desk import Decided, Decision, StoryDesk
from streams.story.staging import MAX_BATCH, Staging, Writes, keys_in_order
from streams.worker import journal
from streams.worker.context import (
    TABLES,
    WRITE_BUGS,
    Encoded,
    WorkerContext,
    send_records,
    stop_if_failed,
    stop_worker_for,
    write_locally,
)
from streams.worker.delivery import (
    SIZE_ERRORS,
    Send,
    confirmed,
    dead_letter_send,
    deliver_all,
    send_batched_for_later,
    until_done,
)

log = logging.getLogger(__name__)

# How the log says that the consumer handed over prepared articles out of order (`_note_order`).
SKIPPED = "the consumer skipped prepared articles"

# How the log says that a flow stop (a revocation or a stop) placed a held chunk at once (`HeldChunk.place_all`).
HELD_PLACED = "held prepared articles placed at once, as faust stopped its flow"

# At most this many of the prepared articles faust has fetched are taken before the first of them is placed:
# decoded one after another, then placed one after another, so that faust's stream, the decoder and the desk
# each keep their code and data in the caches for a run, rather than evicting one another at every article
# (a place-only worker took 0.92 ms of CPU per article in chunks against 1.13 one at a time, six alternated
# pairs, docs/performance-log.md). A chunk is what has been fetched: on a quiet stream, one article.
PLACE_CHUNK = 128

# A prepared article's message decoded (`_decoded`): the article, or what decoding raised; and the seconds it took.
Decoded = tuple[PreparedArticle | Exception, float]


@dataclass
class Placed:
    """One article of a batch: its prepared message, what it publishes, its outcome (None: a dead letter), and
    the context it was placed in. faust files a table write under the partition of the message being
    processed, which it finds in that context, so a batch's writes are made in the context of its last
    article (all of the one prepared partition)."""

    event: object
    sends: list[Send]
    outcome: Decision | None
    context: contextvars.Context = field(default_factory=contextvars.copy_context)


class OpenBatch:
    """The articles placed since the last batch was taken for writing."""

    def __init__(self) -> None:
        self.placed: list[Placed] = []
        self.arrived = asyncio.Event()  # it has articles
        self.has_room = asyncio.Event()  # it has fewer than MAX_BATCH
        self.has_room.set()
        self.full = asyncio.Event()  # it has MAX_BATCH
        self.first_arrived = 0.0  # when its first article did (time.monotonic)

    def add(self, placed: Placed) -> None:
        if not self.placed:
            self.first_arrived = time.monotonic()
        self.placed.append(placed)
        self.arrived.set()
        if len(self.placed) >= MAX_BATCH:
            self.has_room.clear()
            self.full.set()

    def take(self) -> list[Placed]:
        taken, self.placed = self.placed, []
        self.arrived.clear()
        self.has_room.set()
        self.full.clear()
        return taken

    async def gathered(self, linger: float) -> None:
        """Return once the batch has articles and either `linger` seconds have passed since its first one came,
        or it is full. A batch that gathered while the one before was written is taken at once, if it waited
        that long already."""
        await self.arrived.wait()
        left = self.first_arrived + linger - time.monotonic()
        if left > 0 and not self.full.is_set():
            try:
                await asyncio.wait_for(self.full.wait(), left)
            except asyncio.TimeoutError:
                pass


def place_agent(ctx: WorkerContext):
    """The agent: the prepared articles placed in chunks of what has come (`HeldChunk`); a second task writes and
    publishes the batches."""

    async def place_articles(stream):
        # A restarted agent starts from the tables: staged writes of a writer that is gone were never confirmed.
        ctx.staging, ctx.desk = Staging(ctx.tables), None
        prepared_stream = stream.noack()
        batch = OpenBatch()
        writer = asyncio.create_task(_write_batches(ctx, prepared_stream, batch))
        # A writer that fails (a bug: Kafka errors are retried) leaves its batches unacked, so the next start
        # places them again; restarting the agent alone would keep the desk and the staged writes of articles
        # whose messages were never sent.
        writer.add_done_callback(lambda task: stop_if_failed(ctx, task, "the place stage's writer"))
        # The events faust has fetched and not handed over yet: this agent (concurrency 1) is their only reader.
        fetched = prepared_stream.channel.queue
        held = HeldChunk()
        # faust yields to the loop between the events it hands over, and a revocation or a stop that comes
        # there waits for the acks of every event handed over: those held are placed before it waits.
        flow_stopping = ctx.app.consumer.flow_stopping
        place_now = functools.partial(_place_held_at_flow_stop, ctx, held, batch)
        flow_stopping.append(place_now)
        try:
            async for event in prepared_stream.events():
                held.add(event)
                if len(held.events) < PLACE_CHUNK and not fetched.empty():
                    continue
                held.decode_all()
                while held.events:
                    await batch.has_room.wait()
                    held.place_next(ctx, batch)  # none, if a flow stop placed them meanwhile
        finally:  # stopping: what is not acked is placed again on the next start
            flow_stopping.remove(place_now)
            writer.cancel()

    return place_articles


class HeldChunk:
    """The prepared articles faust has handed to the place agent and it has not placed yet, in offset order, each
    with the context faust handed it over in (faust reads and files table writes under its event's partition),
    and, once the chunk is complete, decoded."""

    def __init__(self) -> None:
        self.events: deque[tuple[object, contextvars.Context, Decoded | None]] = deque()

    def add(self, event) -> None:
        self.events.append((event, contextvars.copy_context(), None))

    def decode_all(self) -> None:
        self.events = deque((event, context, _decoded(event)) for event, context, _ in self.events)

    def place_next(self, ctx: WorkerContext, batch: OpenBatch) -> None:
        if self.events:
            event, context, decoded = self.events.popleft()
            context.run(_place, ctx, batch, event, decoded)

    def place_all(self, ctx: WorkerContext, batch: OpenBatch) -> None:
        """Place every held article now, whatever room the batch has (it holds at most PLACE_CHUNK more then)."""
        if self.events:
            log.info("%d %s", len(self.events), HELD_PLACED, extra={"articles": len(self.events)})
        while self.events:
            self.place_next(ctx, batch)


def _place_held_at_flow_stop(ctx: WorkerContext, held: HeldChunk, batch: OpenBatch) -> None:
    """Called by the consumer when faust stops its flow (streams/worker/consumer.py). A bug placing the held
    articles stops the worker rather than faust's revocation or stop: left held, they would keep faust waiting
    for good; not acked, they come again on the next start."""
    try:
        held.place_all(ctx, batch)
    except Exception as error:
        stop_worker_for(ctx, error, "placing the held prepared articles when faust stopped its flow")


def loaded_desk(ctx: WorkerContext) -> StoryDesk:
    """The desk's indexes, rebuilt from the stores' windows the first time after a start or a rebalance."""
    if ctx.desk is None:
        started = time.monotonic()
        desk = ctx.desk = StoryDesk(ctx.settings, ctx.staging.stores)
        desk.load()
        stories, articles = desk.stories.live, len(desk.duplicates)
        log.info(
            "story desk loaded in %.1fs: %d live stories, %d recent fingerprints",
            time.monotonic() - started, stories, articles, extra={"stories": stories, "articles": articles},
        )
    return ctx.desk


def _place(ctx: WorkerContext, batch: OpenBatch, event, decoded: Decoded | None = None) -> None:
    """Place one article into the open batch (`decoded`: its `_decoded`, if made already); a bug is its dead
    letter, and the batch is placed again without it."""
    _note_order(ctx, event)
    try:
        batch.add(_placed(ctx, event, decoded))
    except Exception as error:
        log.exception("placing an article failed")
        # It may have staged part of its writes and changed part of the desk: forget the open batch's writes,
        # rebuild the desk from the stores, and place the batch's earlier articles again.
        ctx.staging.discard_open()
        ctx.desk = None
        earlier = batch.take()
        for placed in earlier:
            if placed.outcome is None:
                batch.add(placed)
            else:
                _place(ctx, batch, placed.event)
        letter = dead_letter(event.value, f"internal error while placing: {error!r}", "process")
        batch.add(Placed(event, [dead_letter_send(ctx.topics.dead_letters, letter)], None))


def _note_order(ctx: WorkerContext, event) -> None:
    """Say so in the log when the consumer hands over a prepared article past one it has not handed over yet
    since the last rebalance: the skipped ones come later, after a seek, and are placed out of order, which
    can change the stories from an uninterrupted run (the order decides them). An offset handed over before
    (a seek back to the committed offset) is a redelivery, and changes nothing."""
    tp, offset = event.message.tp, event.message.offset
    expected = ctx.placing_next.get(tp)
    if expected is not None and offset > expected:
        log.warning("%s %d-%d of %s; they are placed when they come, out of order", SKIPPED, expected, offset - 1,
                    tp.topic, extra={"topic": tp.topic, "first": expected, "last": offset - 1})
    ctx.placing_next[tp] = max(offset + 1, expected or 0)


def _decoded(event) -> Decoded:
    """The event's prepared article, or what decoding it raised (raised again when the article is placed, in its
    turn), and the seconds decoding took."""
    started = time.perf_counter()
    try:
        prepared: PreparedArticle | Exception = PreparedArticle.from_bytes(event.value)
    except Exception as error:
        prepared = error
    return prepared, time.perf_counter() - started


def _placed(ctx: WorkerContext, event, decoded: Decoded | None = None) -> Placed:
    prepared, decoding = decoded or _decoded(event)
    started = time.perf_counter()
    try:
        if isinstance(prepared, Exception):
            raise prepared
        desk = loaded_desk(ctx)
        outcome = desk.place(prepared)
        topics = {"story": ctx.topics.story_placements, "duplicate": ctx.topics.duplicates, "event": ctx.topics.story_events}
        sends = [(topics[kind], key.encode(), value) for kind, key, value in desk.messages(outcome)]
    finally:
        ctx.metrics.stage_seconds.labels("place").observe(decoding + time.perf_counter() - started)
    return Placed(event, sends, outcome)


async def _write_batches(ctx: WorkerContext, stream, batch: OpenBatch) -> None:
    """Take the open batch whenever it has articles, and finish it: writes, messages, acks (module docstring)."""
    staging, linger = ctx.staging, ctx.settings.place_linger_ms / 1000
    while True:
        await batch.gathered(linger)
        placed, writes = batch.take(), staging.seal()  # together: the batch's articles and their writes
        ctx.metrics.place_batch.observe(len(placed))
        again = await _cut_batch_again(ctx, placed)
        encoded_again, encoded = await _journal(ctx, [again, writes])
        for phase in staging.phases(again):  # what a stop cut from the changelogs, before anything new
            await _write_phase(ctx, placed, phase, encoded_again)
        ctx.cut_batch = None
        records, *rest = staging.phases(writes)
        await _write_phase(ctx, placed, records, encoded)
        # Recorded: from here on a crash makes each article a redelivery that sends its messages again, so they
        # go out now, and are confirmed along with the other phases' writes.
        sent = await send_batched_for_later([send for article in placed for send in article.sends])
        for phase in rest:
            await _write_phase(ctx, placed, phase, encoded)
        staging.written(writes)
        del encoded  # the batch's bytes, not kept while the next batch gathers
        if ctx.journal_dir is not None:
            journal.clear(ctx.journal_dir)
        try:
            await confirmed(sent.acks, sent.topics)
        except Exception as failure:  # sent again, retrying; a message too large for the broker turns its article into a dead letter
            log.warning("sending a batch's messages failed (%r); sending them again", failure, extra={"error": repr(failure)})
            await _deliver(ctx, placed)
        for article in placed:
            await stream.ack(article.event)
            ctx.acked(article.event)
            _count(ctx, article.outcome)


async def _write_phase(ctx: WorkerContext, placed: list[Placed], phase: list, encoded: Encoded) -> None:
    """Write one phase of the batch's table writes (its values `encoded` for the journal, if it has one), and wait until the broker has each of their changelog
    messages; while the broker refuses one (after aiokafka's own retries), the phase is written again. A write
    the producer cannot even take stops the worker (WRITE_BUGS)."""
    if not phase:
        return

    async def attempt() -> None:
        records = placed[-1].context.run(write_locally, phase, encoded)
        ends = await send_records(ctx.tables, records)
        if ctx.changelog_ends is not None:
            ctx.changelog_ends.update(ends)

    await until_done(ctx.counters, attempt, "writing the tables' changelogs", final=WRITE_BUGS)


async def _cut_batch_again(ctx: WorkerContext, placed: list[Placed]) -> Writes:
    """The writes of the batch the last stop cut from the changelogs, with what the tables hold, if it is still
    cut (streams/worker/journal.py). Checked again here: another worker may have placed since the start, and
    then the tables are stale, and the worker stops, to rebuild them from the changelogs on its next start."""
    cut = ctx.cut_batch
    if cut is None:
        return {}
    (how, what), ctx.changelog_ends = await _asked(
        ctx, lambda: journal.landed(ctx.settings, cut, TABLES), "reading the tables' changelogs"
    )
    if how == "stray":
        raise RuntimeError(
            f"the last stop cut a batch of table writes, and {what} (another worker's): this worker's tables are "
            "stale; restart it, and it rebuilds them from the changelogs"
        )
    return placed[-1].context.run(ctx.staging.again, cut.again) if how == "cut" else {}


async def _journal(ctx: WorkerContext, batches: list[Writes]) -> list[Encoded]:
    """Record the writes the batches make per table, in order (keys, and digests of the values the changelogs
    get), and where each changelog ends before them. Returns each batch's values encoded for the changelogs,
    made once: the journal digests them, and the tables' stores and changelogs get them (`write_locally`). So a
    staged value must not change once staged (none does: the desk stages new objects)."""
    if ctx.journal_dir is None:
        return [{} for _ in batches]
    ends = ctx.changelog_ends
    if ends is None:
        ends = ctx.changelog_ends = await _asked(
            ctx, lambda: journal.changelog_ends(ctx.settings, TABLES), "asking where the tables' changelogs end"
        )
    encoded: list[Encoded] = []
    made: dict[str, list[tuple[str, str | None]]] = {}  # store name -> (key, value digest), in write order
    for writes in batches:
        encoded.append({})
        for store, store_keys in keys_in_order(writes).items():
            if store_keys:
                table = getattr(ctx.tables, store)
                values = encoded[-1][store] = {key: (writes[store][key], table.changelog_value(writes[store][key])) for key in store_keys}
                made.setdefault(store, []).extend((key, journal.digest(value)) for key, (_, value) in values.items())
    journal.record(ctx.journal_dir, journal.InFlight.of(dict(ends), made))
    return encoded


async def _asked(ctx: WorkerContext, question: Callable[[], Awaitable], doing: str):
    """The answer of `question` about the changelogs (Kafka errors retried), asked again if a rebalance came
    meanwhile: another worker may write to them then, and an answer from before would be out of date."""
    while True:
        rebalances, answer = ctx.counters.rebalances, None

        async def ask() -> None:
            nonlocal answer
            answer = await question()

        await until_done(ctx.counters, ask, doing)
        if ctx.counters.rebalances == rebalances:
            return answer


async def _deliver(ctx: WorkerContext, batch: list[Placed]) -> None:
    """Send the batch's messages in order and wait for the broker (retrying Kafka errors); should one be too
    large for it, each article is sent on its own, and one with a message too large becomes a dead letter."""
    try:
        await deliver_all(ctx.counters, *(send for placed in batch for send in placed.sends))
        return
    except SIZE_ERRORS:
        pass
    for placed in batch:
        try:
            await deliver_all(ctx.counters, *placed.sends)
        except SIZE_ERRORS as error:
            article_id = placed.event.key.decode() if placed.event.key else None
            log.error("a message for article %s is too large for Kafka: %r", article_id, error)
            reason = f"an output message is larger than Kafka accepts ({error!r}); raise the topics' max.message.bytes"
            letter = dead_letter(placed.event.value, reason, "process", article_id)
            placed.sends, placed.outcome = [dead_letter_send(ctx.topics.dead_letters, letter)], None
            await deliver_all(ctx.counters, *placed.sends)


def _count(ctx: WorkerContext, outcome: Decision | None) -> None:
    counters = ctx.counters
    if outcome is None:
        counters.dead_letters += 1
    elif isinstance(outcome, Decided):
        counters.appended += 1
    else:
        counters.duplicates += 1
        counters.redeliveries += outcome.verdict.kind == "redelivery"
