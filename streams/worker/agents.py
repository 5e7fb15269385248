"""The wiring: two agents that move messages between topics and tables. The work is in the pure modules.

    raw articles --prepare_articles--> prepared articles --place_articles--> story events, snapshots,
       (partitioned, parallel)                              (one partition)      duplicates
       \\--> dead letters                                                        \\--> dead letters

Processing is at-least-once. `place_articles` writes its tables before it
sends, and the desk recognises an article it already placed, so a message
processed twice changes no state (its story event is sent again, with the
same version, which subscribers drop).

Acks are manual (`stream.noack()`): a message is acknowledged, and so its
offset becomes committable, only after everything it produced is on the
broker. faust's automatic ack would also ack the message in flight when the
worker stops (the stream's generator is closed on stop, and acks in its
`finally`) or when the agent raises, so a SIGTERM between a table write and a
send, or a send that fails, would commit an article whose output never left.
With manual acks such a message is simply processed again on the next start,
and the redelivery path makes that harmless.

The prepare stage does not wait for the broker between articles: it sends,
goes on with the next article, and acks each one once its output and that of
every earlier article of its partition are confirmed (`InOrderAcks`; up to
`prepare_in_flight` at a time). Its output may then land out of order after a failed
send is retried, which is harmless there: the place stage reads prepared
articles in whatever order they land. The place stage waits for each
article's story event before the next one, so a story's events are on the
broker in version order. For the same reason nothing in
the per-message path may raise: bad input and bugs become dead letters, Kafka
errors are retried (a restarting broker), and only cancellation gets through.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque

from aiokafka.errors import MessageSizeTooLargeError, RecordTooLargeError
from faust.exceptions import ProducerSendError

from schemas import DeadLetter, DuplicateVerdict, PreparedArticle
from streams.worker import topics
from streams.worker.app import app, settings
from streams.story.desk import Appended, Duplicate, StoryDesk, fingerprint_of
from streams.worker.counters import counters
from streams.pipeline.prepare import dead_letter, prepare
from streams.settings import RECORD_OVERHEAD_BYTES

log = logging.getLogger(__name__)

# story id -> the story's changelog: its append-only list of events (JSON), the source of truth.
story_changelogs = app.Table("story-changelogs", default=None, key_type=str, partitions=1)
# article id -> dedup fingerprint of every article placed in a story.
fingerprints = app.Table("fingerprints", default=None, key_type=str, partitions=1)
# article id -> the duplicate verdict it got (JSON), so that a duplicate delivered again (a redelivery
# after a crash, a feed replayed twice) is reported as a redelivery instead of a second exact/near verdict.
verdicts = app.Table("duplicate-verdicts", default=None, key_type=str, partitions=1)

_SIZE_ERRORS = (MessageSizeTooLargeError, RecordTooLargeError)

_desk: StoryDesk | None = None
# Next offset to process per input partition held by this worker (for the lag counters).
_next_offsets: dict = {}


def _loaded_desk() -> StoryDesk:
    """The desk's indexes, rebuilt from the tables the first time after a start or a rebalance."""
    global _desk
    if _desk is None:
        _desk = StoryDesk(settings)
        _desk.load(dict(story_changelogs.items()), dict(fingerprints.items()))
        log.info(
            "story desk loaded: %d stories, %d articles",
            len(_desk.stories.stories),
            len(_desk.placed),
            extra={"stories": len(_desk.stories.stories), "articles": len(_desk.placed)},
        )
    return _desk


@app.on_partitions_revoked.connect
async def _forget_desk(app_, revoked, **kwargs) -> None:
    """Every rebalance revokes everything first: the next article rebuilds the desk from the recovered tables."""
    global _desk
    _desk = None
    for tp in revoked:
        _next_offsets.pop(tp, None)
    for acks in _prepare_acks:
        acks.forget(revoked)


# --------------------------------------------------------------------------- stage 1: prepare


class InOrderAcks:
    """Acks each partition's messages in offset order, as their outputs are confirmed in whatever order.

    faust commits past an unacked message once the message after it is acked (its gap check is off by
    one, and skipped for a new group), so no message may be acked before every earlier one of its partition.
    """

    def __init__(self, stream) -> None:
        self.stream = stream
        self.waiting: dict = defaultdict(deque)  # partition -> [event, confirmed] in offset order

    def expect(self, event) -> list:
        entry = [event, False]
        self.waiting[event.message.tp].append(entry)
        return entry

    async def confirmed(self, entry: list) -> None:
        entry[1] = True
        queue = self.waiting[entry[0].message.tp]
        while queue and queue[0][1]:
            event, _ = queue.popleft()
            await self.stream.ack(event)
            _next_offsets[event.message.tp] = event.message.offset + 1

    def forget(self, partitions) -> None:
        """Revoked partitions: their unconfirmed messages are another worker's (or the next start's) to redo."""
        for tp in partitions:
            self.waiting.pop(tp, None)


_prepare_acks: list[InOrderAcks] = []  # the running prepare agent's, so a rebalance can reset it


@app.agent(topics.raw_articles)
async def prepare_articles(stream):
    raw = stream.noack()
    acks = InOrderAcks(raw)
    _prepare_acks[:] = [acks]
    in_flight = asyncio.Semaphore(settings.prepare_in_flight)
    settling: set[asyncio.Task] = set()
    try:
        async for event in raw.events():
            await in_flight.acquire()
            entry = acks.expect(event)
            sends, pending = await _prepare_one(event.value, event.key, event.message.timestamp)
            task = asyncio.create_task(_ack_when_delivered(acks, entry, sends, pending, in_flight))
            settling.add(task)
            task.add_done_callback(settling.discard)
    finally:  # stopping: what is not confirmed stays unacked, and is prepared again on the next start
        for task in settling:
            task.cancel()


async def _prepare_one(payload: bytes | None, key: bytes | None, timestamp: float) -> tuple[list, list]:
    """Prepare the article and send the result without waiting: the sends, and their pending acks."""
    counters.received += 1
    try:
        result = prepare(payload, key, timestamp, settings.max_article_bytes)
        if not isinstance(result, DeadLetter):
            value = result.to_bytes()
            article_id = result.article.article_id
            if len(value) + RECORD_OVERHEAD_BYTES > app.conf.producer_max_request_size:
                result = _too_large(payload, article_id, len(value))
    except Exception as error:  # a bug in the pure work must not stop the worker: dead-letter the article
        log.exception("preparing an article failed")
        result = dead_letter(payload, f"internal error while preparing: {error!r}", "process", _key(key))
    if isinstance(result, DeadLetter):
        sends = [_dead_letter_send(result)]
    else:
        sends = [(topics.prepared_articles, article_id.encode(), value)]
    return sends, await _send_for_later(sends)


async def _send_for_later(sends) -> list:
    """`_send`, but a failure at send time becomes a failed ack, for `_ack_when_delivered` to handle
    like one reported by the broker (a message too large for the producer's limit included)."""
    try:
        return await _send(sends)
    except Exception as error:
        failed = asyncio.get_running_loop().create_future()
        failed.set_exception(error)
        return [failed]


async def _ack_when_delivered(acks: InOrderAcks, entry: list, sends: list, pending: list, in_flight) -> None:
    """Ack the raw article once the broker has its output; if a send failed, send again (retrying) first.

    Nothing but cancellation ends this without the ack: an ack missing for good would stop every commit
    on the partition.
    """
    event = entry[0]
    try:
        try:
            await _confirmed(pending, [topic for topic, _, _ in sends])
        except Exception as failure:
            sends = await _send_again(event, sends, failure)
        if sends[0][0] is topics.dead_letters:
            counters.dead_letters += 1
        else:
            counters.prepared += 1
        await acks.confirmed(entry)
    finally:
        in_flight.release()


async def _send_again(event, sends: list, failure: Exception) -> list:
    """After a failed send: retry until the broker has it; a prepared article refused as too large (by the
    producer's limit or the broker's, a real cluster's max.message.bytes) becomes a dead letter. Returns
    what was finally sent."""
    while True:
        if isinstance(failure, _SIZE_ERRORS) and sends[0][0] is topics.prepared_articles:
            _, key, value = sends[0]
            sends = [_dead_letter_send(_too_large(event.value, key.decode(), len(value)))]
        elif isinstance(failure, _SIZE_ERRORS):  # even the dead letter (a 200-character preview) is refused
            sends = [_dead_letter_send(dead_letter(event.value, f"the broker refused every output: {failure!r}", "process", _key(event.key)))]
        else:
            log.warning("sending a prepared article failed (%r); sending it again", failure, extra={"error": repr(failure)})
        try:
            await _deliver_all(*sends)
            return sends
        except _SIZE_ERRORS as refused:
            failure = refused


def _too_large(payload: bytes | None, article_id: str, size: int) -> DeadLetter:
    topic = topics.prepared_articles.get_topic_name()
    return dead_letter(
        payload,
        f"the cleaned article is {size:,} bytes, more than Kafka accepts on {topic}: "
        f"lower STORYWIRE_MAX_ARTICLE_BYTES, or raise the topic's max.message.bytes",
        "process",
        article_id,
    )


# --------------------------------------------------------------------------- stage 2: place


@app.agent(topics.prepared_articles, concurrency=1)
async def place_articles(stream):
    prepared_stream = stream.noack()
    async for event in prepared_stream.events():
        await _place_one(event.value)
        await prepared_stream.ack(event)
        _next_offsets[event.message.tp] = event.message.offset + 1


async def _place_one(payload: bytes) -> None:
    try:
        prepared = PreparedArticle.from_bytes(payload)
        desk = _loaded_desk()
        outcome = _seen_duplicate(prepared, desk) or desk.decide(prepared, story_changelogs)
    except Exception as error:
        log.exception("placing an article failed")
        await _send_dead_letter(dead_letter(payload, f"internal error while placing: {error!r}", "process"))
        return
    # Sends and table writes stay outside the guard: a Kafka failure is retried, never acked.
    try:
        if isinstance(outcome, Appended):
            await _append(desk, prepared, outcome.event)
        else:
            await _report_duplicate(desk, prepared, outcome)
    except _SIZE_ERRORS as error:  # e.g. a huge story's snapshot: say so, and go on with the next article
        log.error("a message for article %s is too large for Kafka: %r", prepared.article.article_id, error)
        reason = f"an output message is larger than Kafka accepts ({error!r}); raise the topics' max.message.bytes"
        await _send_dead_letter(dead_letter(payload, reason, "process", prepared.article.article_id))


def _seen_duplicate(prepared: PreparedArticle, desk: StoryDesk) -> Duplicate | None:
    """A redelivery of an article that was judged a duplicate before (the desk knows only placed ones)."""
    article_id = prepared.article.article_id
    if article_id in desk.placed:
        return None
    earlier = verdicts.get(article_id)
    if earlier is None:
        return None
    verdict = DuplicateVerdict(
        article_id=article_id,
        duplicate_of=article_id,
        similarity=1.0,
        kind="redelivery",
        story_id=earlier.get("story_id"),
    )
    return Duplicate(verdict)


async def _append(desk: StoryDesk, prepared: PreparedArticle, event) -> None:
    """Write the tables first, then publish: a crash in between is healed by the redelivery path."""
    fingerprints[prepared.article.article_id] = fingerprint_of(prepared).to_json()
    changelog = [*(story_changelogs.get(event.story_id) or []), event.model_dump(mode="json")]
    story_changelogs[event.story_id] = changelog
    desk.record(prepared, Appended(event))
    key = event.story_id.encode()
    snapshot = desk.snapshot(event.story_id)  # the desk keeps each story's fold: no re-fold of the changelog
    await _deliver_all(
        (topics.story_events, key, event.to_bytes()),
        (topics.story_snapshots, key, snapshot.to_bytes()),
    )
    counters.appended += 1


async def _report_duplicate(desk: StoryDesk, prepared: PreparedArticle, outcome: Duplicate) -> None:
    article_id = prepared.article.article_id
    verdict = outcome.verdict
    if verdict.kind == "redelivery":
        counters.redeliveries += 1
        if article_id in desk.placed and fingerprints.get(article_id) is None:
            # The story entry reached the table but its fingerprint did not (a crash between the two
            # writes): restore it, or later copies of this article would not be recognised.
            fingerprint = fingerprint_of(prepared)
            fingerprints[article_id] = fingerprint.to_json()
            desk.duplicates.add(article_id, fingerprint)
    else:
        verdicts[article_id] = verdict.model_dump(mode="json")
    sends = [(topics.duplicates, article_id.encode(), verdict.to_bytes())]
    if outcome.event is not None:  # a placed article again: re-send the entry it made (subscribers drop repeats)
        sends.append((topics.story_events, outcome.event.story_id.encode(), outcome.event.to_bytes()))
    await _deliver_all(*sends)
    counters.duplicates += 1


async def _send_dead_letter(letter: DeadLetter) -> None:
    await _deliver_all(_dead_letter_send(letter))
    counters.dead_letters += 1


def _dead_letter_send(letter: DeadLetter) -> tuple:
    return topics.dead_letters, letter.article_id.encode() if letter.article_id else None, letter.to_bytes()


# --------------------------------------------------------------------------- sending


async def _deliver_all(*sends) -> None:
    """Send, and wait until the broker has every message (acks=all), in order.

    A failure (the broker restarting, a leader moving) is logged and the
    sends are retried until they succeed or the worker stops; the message is
    not acked meanwhile, so nothing is committed past it. Messages already
    delivered in an earlier attempt may be sent twice; every consumer of these
    topics tolerates repeats. A message too large for the broker raises.
    """
    delay = 0.5
    attempt = 0
    while True:
        try:
            await _confirmed(await _send(sends), [topic for topic, _, _ in sends])
            if attempt:
                log.info("sending succeeded again after %d failed attempts", attempt, extra={"attempts": attempt})
            return
        except _SIZE_ERRORS:
            raise
        except Exception as error:
            # Anything else is retried, Kafka errors or not: the message must not be acked without its output.
            attempt += 1
            log.warning(
                "sending to Kafka failed (%r); retrying in %.1fs (attempt %d)",
                error,
                delay,
                attempt,
                extra={"error": repr(error), "attempt": attempt},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


async def _send(sends) -> list:
    """Hand the messages to the producer, in order; their acks are pending. A message too large for Kafka raises."""
    try:
        return [await topic.send(key=key, value=value) for topic, key, value in sends]
    except ProducerSendError as failure:  # faust wraps what aiokafka raises at send time
        if isinstance(failure.__cause__, _SIZE_ERRORS):
            raise failure.__cause__ from None
        raise


async def _confirmed(pending: list, sent_to: list, warn_after: float = 60.0) -> None:
    """Wait for the broker's acks; say so in the log while one takes unusually long (the lag grows meanwhile)."""
    waited = 0.0
    while True:
        done, waiting = await asyncio.wait(pending, timeout=warn_after)
        if not waiting:
            break
        waited += warn_after
        names = sorted({t.get_topic_name() for t, fut in zip(sent_to, pending) if fut in waiting})
        log.warning("no ack from Kafka after %.0fs for messages to %s; still waiting", waited, ", ".join(names),
                    extra={"waiting_s": waited, "topics": names})
    for fut in pending:
        fut.result()  # raises the first failure


def _key(key: bytes | None) -> str | None:
    return key.decode("utf-8", errors="replace") if key else None


# --------------------------------------------------------------------------- counters

_LAG_TOPICS = ("articles", "prepared")  # the input topics, as the counter line names them


async def consumer_lag() -> dict[str, int | None]:
    """Messages waiting for this worker per input topic: end offset minus next offset to process."""
    consumer = app.consumer
    inputs = dict(zip((topics.raw_articles.get_topic_name(), topics.prepared_articles.get_topic_name()), _LAG_TOPICS))
    held = [tp for tp in consumer.assignment() if tp.topic in inputs]
    lag: dict[str, int | None] = {name: 0 for name in inputs.values()}
    if not held:
        return lag
    ends = await consumer.highwaters(*held)
    unknown = [tp for tp in held if tp not in _next_offsets]
    # Partitions this worker has not processed anything from yet: measured from the last commit, else the start.
    committed = dict(app.monitor.tp_committed_offsets)
    starts = await consumer.earliest_offsets(*unknown) if unknown else {}
    for tp in held:
        position = _next_offsets.get(tp, committed.get(tp, starts.get(tp)))
        end = ends.get(tp)
        name = inputs[tp.topic]
        if end is None or position is None or lag[name] is None:
            lag[name] = None
        else:
            lag[name] += max(0, end - position)
    return lag


@app.timer(interval=settings.stats_interval)
async def report_counters() -> None:
    try:
        counters.lag = await asyncio.wait_for(consumer_lag(), timeout=max(5.0, settings.stats_interval))
    except Exception as error:  # the broker not answering must not stop the counter line
        log.info("could not measure consumer lag: %r", error, extra={"error": repr(error)})
        counters.lag = dict.fromkeys(_LAG_TOPICS)
    _log_counters()


@app.on_before_shutdown.connect
async def _final_counters(app_, **kwargs) -> None:
    """One last counter line at stop, so a run shorter than the interval (and the last interval) is counted too."""
    counters.lag = counters.lag or dict.fromkeys(_LAG_TOPICS)  # the consumer is stopped: the last lag measured
    _log_counters()


def _log_counters() -> None:
    log.info("counters %s", counters.describe(), extra={"counters": counters.as_dict()})
