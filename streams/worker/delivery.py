"""Sending to Kafka from the agents: wait for the broker's acks, retry what failed, never lose a message.

A message is acked (its offset committable) only once everything it produced
is on the broker, so every send here either ends confirmed or is retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiokafka.errors import MessageSizeTooLargeError, RecordTooLargeError
from faust.exceptions import ProducerSendError

from schemas import DeadLetter
from streams.worker.counters import Counters

log = logging.getLogger(__name__)

SIZE_ERRORS = (MessageSizeTooLargeError, RecordTooLargeError)

# (faust topic, key, value): one message to send.
Send = tuple


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
        await confirmed(await send(sends), [topic for topic, _, _ in sends])

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


async def send_for_later(sends) -> list:
    """`send`, but a failure at send time becomes a failed ack, to be handled like one reported by the broker
    (a message too large for the producer's limit included)."""
    try:
        return await send(sends)
    except Exception as error:
        failed = asyncio.get_running_loop().create_future()
        failed.set_exception(error)
        return [failed]


async def confirmed(pending: list, sent_to: list, warn_after: float = 60.0) -> None:
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
