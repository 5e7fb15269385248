"""Sending to Kafka from the agents: wait for the broker's acks, retry what failed, never lose a message.

A message is acked (its offset committable) only once everything it produced
is on the broker, so every send here either ends confirmed or is retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordTooLargeError
from faust.exceptions import ProducerSendError

from schemas import DeadLetter
from streams.settings import RECORD_OVERHEAD_BYTES
from streams.worker.counters import Counters

log = logging.getLogger(__name__)

SIZE_ERRORS = (MessageSizeTooLargeError, RecordTooLargeError)

# (faust topic, key, value): one message to send.
Send = tuple
Partition = tuple[str, int]  # a topic's name, one of its partitions
Record = tuple[bytes | None, bytes | None]  # a message's key and value (None: a tombstone)


def dead_letter_send(topic, letter: DeadLetter) -> Send:
    return topic, letter.article_id.encode() if letter.article_id else None, letter.to_bytes()


async def deliver_all(counters: Counters, *sends: Send) -> None:
    """Send, and wait until the broker has every message (acks=all), in order.

    A failure (the broker restarting, a leader moving) is logged and the
    sends are retried until they succeed or the worker stops; the message is
    not acked meanwhile, so nothing is committed past it. Messages already
    delivered in an earlier attempt may be sent twice; every consumer of these
    topics tolerates repeats. A message too large for the broker raises.
    """

    async def attempt() -> None:
        await confirmed(await send(sends), [topic.get_topic_name() for topic, _, _ in sends])

    await until_done(counters, attempt, "sending to Kafka")


async def until_done(
    counters: Counters, attempt: Callable[[], Awaitable[None]], doing: str, final: tuple = SIZE_ERRORS
) -> None:
    """Run `attempt` until it succeeds, waiting longer after each failure (0.5 s doubling, at most 10 s). The
    `final` errors raise (by default a message too large for the broker, which no retry would change)."""
    delay = 0.5
    failures = 0
    while True:
        try:
            await attempt()
            if failures:
                log.info("%s succeeded again after %d failed attempts", doing, failures, extra={"attempts": failures})
            return
        except final:
            raise
        except Exception as error:
            # Anything else is retried, Kafka errors or not: the message must not be acked without its output.
            failures += 1
            counters.sends_retried += 1
            log.warning(
                "%s failed (%r); retrying in %.1fs (attempt %d)",
                doing,
                error,
                delay,
                failures,
                extra={"error": repr(error), "attempt": failures},
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


async def send(sends) -> list:
    """Hand the messages to the producer, in order; their acks are pending. A message too large for Kafka raises.

    Straight to the app's producer, as a topic's own send would end: for bytes already encoded, the rest of that
    path (a pending and a future message per send, the serializers, the sensors, a callback per ack) did nothing
    but cost about a twentieth of the worker's process."""
    if not sends:
        return []
    producer = await sends[0][0].app.maybe_start_producer()
    try:
        return [
            await producer.send(topic.get_topic_name(), key, value, partition=None, timestamp=None, headers=None)
            for topic, key, value in sends
        ]
    except ProducerSendError as failure:  # faust wraps what aiokafka raises at send time
        if isinstance(failure.__cause__, SIZE_ERRORS):
            raise failure.__cause__ from None
        raise


async def batch_producer(app):
    """The app's aiokafka producer, started: whole batches go to it directly (faust's producer takes one message
    at a time). faust keeps it private (`_ensure_producer`), so it is reached here only."""
    return (await app.maybe_start_producer())._ensure_producer()


@dataclass(frozen=True)
class Batched:
    """Messages handed to the producer as batches: each batch's ack (pending), its topic, and the positions (in
    the list of messages given) of the messages it carries."""

    acks: list
    topics: list[str]
    carried: list[list[int]]

    def failed(self) -> set[int]:
        """The positions of the messages whose batch failed, or has not landed."""
        return {
            position
            for ack, positions in zip(self.acks, self.carried)
            if not ack.done() or ack.cancelled() or ack.exception() is not None
            for position in positions
        }


async def send_batched_for_later(sends: list[Send], max_bytes: int | None = None) -> Batched:
    """The messages as whole batches per partition (`partitioned`, `send_batches`), each partition's in order,
    their acks pending. A failure to hand them over becomes a failed ack for all of them, to be handled like one
    the broker reports."""
    if not sends:
        return Batched([], [], [])
    try:
        producer = await batch_producer(sends[0][0].app)
        positions = await partitioned(producer, sends)
        groups = {tp: [(sends[n][1], sends[n][2]) for n in ns] for tp, ns in positions.items()}
        batches = await send_batches(producer, groups, max_bytes)
    except Exception as error:
        failed = asyncio.get_running_loop().create_future()
        failed.set_exception(error)
        return Batched([failed], [sends[0][0].get_topic_name()], [list(range(len(sends)))])
    acks, topics, carried = [], [], []
    for tp, partition_batches in batches.items():
        start = 0
        for ack, count in partition_batches:
            acks.append(ack)
            topics.append(tp[0])
            carried.append(positions[tp][start : start + count])
            start += count
    return Batched(acks, topics, carried)


async def confirmed(pending: list, sent_to: list[str], warn_after: float = 60.0) -> None:
    """Wait for the broker's acks (`sent_to`: each one's topic); say so in the log while one takes unusually long
    (the lag grows meanwhile). Raises the first failure, once each ack has ended and its failure, if any, is read
    (asyncio would otherwise log the others as never retrieved)."""
    waited = 0.0
    while True:
        done, waiting = await asyncio.wait(pending, timeout=warn_after)
        if not waiting:
            break
        waited += warn_after
        names = sorted({name for name, fut in zip(sent_to, pending) if fut in waiting})
        log.warning("no ack from Kafka after %.0fs for messages to %s; still waiting", waited, ", ".join(names),
                    extra={"waiting_s": waited, "topics": names})
    # An ack cancelled (none is, by aiokafka today) is a failure too: its message may not be on the broker.
    failures = [KafkaError("the ack was cancelled") if fut.cancelled() else fut.exception() for fut in pending]
    for failure in failures:
        if failure is not None:
            raise failure


async def partitioned(producer, sends: list[Send]) -> dict[Partition, list[int]]:
    """The messages' positions (in `sends`) grouped by the partition the producer files each one under (its
    partitioner, by key, as its own `send` does; a topic of one partition needs none), each group in order."""
    groups: dict[Partition, list[int]] = {}
    known: dict[str, int] = {}  # topic name -> its number of partitions
    for position, (topic, key, value) in enumerate(sends):
        name = topic.get_topic_name()
        if name not in known:
            known[name] = len(await producer.partitions_for(name))  # waits for the topic's metadata, as `send` does
        partition = 0 if known[name] == 1 else producer._partition(name, None, key, value, key, value)
        groups.setdefault((name, partition), []).append(position)
    return groups


async def send_batches(
    producer, groups: dict[Partition, list[Record]], max_bytes: int | None = None
) -> dict[Partition, list[tuple[asyncio.Future, int]]]:
    """Each partition's messages, in order, as whole batches straight to aiokafka's producer (idempotent, so a
    batch retried lands once, in order), the partitions side by side; returns each one's batches, as their acks
    and numbers of records. Raises the first failure to hand a batch over, once every partition's handing over
    has ended, so that none goes on behind a retry. A batch holds at most the producer's batch size, and
    `max_bytes` with the framing of a record (RECORD_OVERHEAD_BYTES) to spare, where a topic takes less."""
    sent = await asyncio.gather(
        *(_send_partition(producer, tp, records, max_bytes) for tp, records in groups.items()), return_exceptions=True
    )
    for failed in (batches for batches in sent if isinstance(batches, BaseException)):
        raise failed
    return dict(zip(groups, sent))


async def _send_partition(producer, tp: Partition, records: list[Record], max_bytes: int | None) -> list[tuple[asyncio.Future, int]]:
    """The records as batches (a record larger than a batch goes alone), each handed over once the previous one
    is on its way (aiokafka takes a partition's next batch once the one before is taken for sending).

    Each batch is closed before it is handed over: the producer sends it without waiting for its linger, and adds
    no other message to it (its records are exactly the ones counted). Each ack's failure is read when it ends,
    so that one never awaited (the batch failed elsewhere and is written again) is not logged as never retrieved."""
    topic, partition = tp
    sent, batch = [], producer.create_batch()

    async def hand_over() -> None:
        batch.close()
        ack = await producer.send_batch(batch, topic, partition=partition)
        ack.add_done_callback(_read_failure)
        sent.append((ack, batch.record_count()))

    for key, value in records:
        size = len(key or b"") + len(value or b"") + RECORD_OVERHEAD_BYTES
        if batch.record_count() and max_bytes is not None and batch.size() + size > max_bytes:
            await hand_over()
            batch = producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None) is None:  # full
            await hand_over()
            batch = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:  # aiokafka's empty batch takes any record
                raise ValueError(f"a record of {size:,} bytes does not fit an empty batch for {topic}")
    await hand_over()
    return sent


def _read_failure(ack: asyncio.Future) -> None:
    if not ack.cancelled():
        ack.exception()
