"""The prepare stage: every raw article cleaned, its facts, features and fingerprints computed (in parallel).

It runs on every partition of the raw topic, so it spreads over workers, and within a worker over
`prepare_processes` child processes (`processes.py`). It does not wait for the broker between articles:
it hands each article to a child, takes the results back in the order it handed them over, sends the
ones ready together as whole batches, and acks each raw article once its output and
that of every earlier article of its partition are confirmed (`InOrderAcks`; up to `prepare_in_flight`
at a time). The articles of a failed batch are sent again, each on its own, once every earlier group's
have landed, and no new group is handed over meanwhile: the place stage places prepared articles in the
order they land, so a retry changes which stories a replay makes only where a batch already on its way had
landed before it, which the log says. Nothing in the per-message path may raise: bad input and bugs become
dead letters, Kafka errors are retried, and only cancellation gets through.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    TopicAuthorizationFailedError,
)

from schemas import DeadLetter
from streams.kafka.admin import max_message_bytes
from streams.pipeline.prepare import dead_letter, key_text
from streams.settings import RECORD_OVERHEAD_BYTES
from streams.worker.acks import InOrderAcks
from streams.worker.context import WorkerContext, stop_if_failed
from streams.worker.delivery import (
    SIZE_ERRORS,
    Batched,
    confirmed,
    dead_letter_send,
    deliver_all,
    send_batched_for_later,
    until_done,
)
from streams.worker.processes import Prepared, Preparer

log = logging.getLogger(__name__)

# How the log says that prepared articles landed before earlier ones sent again (`_deliver_and_ack`).
SENT_AGAIN = "landed ahead of earlier ones"


def prepare_agent(ctx: WorkerContext):
    """The agent: raw articles handed to the preparer as they come; a second task sends their results in order."""

    async def prepare_articles(stream):
        raw = stream.noack()
        acks = ctx.prepare_acks = InOrderAcks(raw, ctx.acked)
        in_flight = asyncio.Semaphore(ctx.settings.prepare_in_flight)
        preparer = Preparer(ctx.settings.prepare_processes, ctx.settings.max_article_bytes, ctx.metrics.prepare_chunk.observe)
        limit = await prepared_limit(ctx)
        await preparer.start()
        handed: asyncio.Queue = asyncio.Queue()  # (event, ack entry, future) in the order handed over
        settling: set[asyncio.Task] = set()
        sender = asyncio.create_task(_send_in_order(ctx, preparer, handed, acks, in_flight, settling, limit))
        sender.add_done_callback(lambda task: stop_if_failed(ctx, task, "the prepare stage's sender"))
        try:
            async for event in raw.events():
                await in_flight.acquire()
                ctx.counters.received += 1
                entry = acks.expect(event)
                handed.put_nowait((event, entry, preparer.submit(event.value, event.key, event.message.timestamp)))
        finally:  # stopping: what is not confirmed stays unacked, and is prepared again on the next start
            for task in (sender, *settling):
                task.cancel()
            preparer.stop()

    return prepare_articles


# The broker's refusals to describe a topic's configs, which no retry changes.
NOT_ALLOWED = (TopicAuthorizationFailedError, ClusterAuthorizationFailedError)


async def prepared_limit(ctx: WorkerContext) -> int:
    """The largest message the prepared topic takes: the settings' limit, or the topic's own
    max.message.bytes where that is lower (a topic made before the setting was raised, or capped by its
    cluster). Nothing larger may reach the broker: a batch it refuses breaks the idempotent producer's sequence
    on that partition, which then refuses every later batch (OutOfOrderSequenceNumber), for good."""
    topic, configured = ctx.topics.prepared_articles.get_topic_name(), ctx.settings.max_prepared_bytes
    limit = configured

    async def ask() -> None:
        nonlocal limit
        try:
            limit = min(configured, await max_message_bytes(ctx.settings, topic))
        except NOT_ALLOWED as refused:  # a cluster whose ACLs do not grant DescribeConfigs: the settings' limit
            log.warning("%s: its message limit cannot be read (%r); keeping to the settings'", topic, refused,
                        extra={"topic": topic, "error": repr(refused)})

    await until_done(ctx.counters, ask, f"reading the message limit of {topic}")
    if limit < configured:
        log.warning(
            "%s takes messages of at most %d bytes (its max.message.bytes), fewer than the settings say (%d): "
            "a prepared article larger than that becomes a dead letter; raise the topic's max.message.bytes to the "
            "settings' STORYWIRE_PREPARED_MAX_MESSAGE_BYTES", topic, limit, configured,
            extra={"topic": topic, "limit": limit, "configured": configured},
        )
    return limit


@dataclass
class _Groups:
    """The groups of results handed to the producer, counted; how many of them were on their way when articles
    of an earlier group were sent again (so may have landed ahead of them); and whether no group is failing:
    none is handed over while one is, or it could land ahead of the failed articles (a broker back from an
    outage takes a new batch while the ones that expired in it wait for their retry)."""

    handed: int = 0
    overtaken_through: int = 0
    failing: int = 0
    settled: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.settled.set()

    def failed(self) -> None:
        self.failing += 1
        self.settled.clear()

    def sent_again(self) -> None:
        self.failing -= 1
        if not self.failing:
            self.settled.set()


async def _send_in_order(
    ctx: WorkerContext, preparer: Preparer, handed: asyncio.Queue, acks: InOrderAcks, in_flight, settling: set, limit: int
) -> None:
    """The results as they are ready, in the order handed over: the ones ready together sent as whole batches of
    at most `limit` bytes without waiting, and acked once confirmed."""
    groups, before = _Groups(), None
    waiting = None  # the next article handed over, when its result was not ready with the group before it
    while True:
        group = []
        event, entry, future = waiting or await handed.get()
        waiting = None
        while True:
            result = await preparer.result(future, event.value, event.key, event.message.timestamp)
            group.append((entry, _sends(ctx, event.value, event.key, result, limit)))
            if handed.empty():
                break
            event, entry, future = waiting = handed.get_nowait()
            if not future.done():
                break
            waiting = None
        await groups.settled.wait()
        groups.handed += 1  # before handing over: its first batch may land while an earlier group's retries go out
        number = groups.handed
        sent = await send_batched_for_later([send for _, sends in group for send in sends], limit)
        before = asyncio.create_task(_deliver_and_ack(ctx, acks, group, sent, in_flight, groups, number, before))
        settling.add(before)
        before.add_done_callback(settling.discard)
        before.add_done_callback(lambda task: stop_if_failed(ctx, task, "acking a group of prepared articles"))


def _sends(ctx: WorkerContext, payload: bytes | None, key: bytes | None, result: Prepared, limit: int) -> list:
    """What to send for a result, one message: the prepared article, or a dead letter saying why not (one
    larger than the prepared topic's `limit`)."""
    topics = ctx.topics
    message, article_id, seconds = result
    ctx.metrics.stage_seconds.labels("prepare").observe(seconds)
    if not isinstance(message, DeadLetter) and len(message) + RECORD_OVERHEAD_BYTES > limit:
        message = _too_large(ctx, payload, article_id, len(message))
    if isinstance(message, DeadLetter):
        return [dead_letter_send(topics.dead_letters, message)]
    return [(topics.prepared_articles, article_id.encode(), message)]


async def _deliver_and_ack(
    ctx: WorkerContext, acks: InOrderAcks, group: list, sent: Batched, in_flight, groups: _Groups, number: int,
    before: asyncio.Task | None,
) -> None:
    """Ack a group's raw articles, in order, once the broker has their output. The articles whose batch failed
    are sent again (retrying), each on its own, once the groups before have ended, so that retries land in the
    order the articles were handed over (`number`: the group's, counting from 1). Each ack entry goes with its
    article's sends, one message each (`_sends`), so an article's position in the group is its message's in
    `sent`.

    Nothing but cancellation ends this without the acks: an ack missing for good would stop every commit
    on the partition.
    """
    failed = set()
    try:
        try:
            await confirmed(sent.acks, sent.topics)
        except Exception as failure:
            failed = sent.failed()
            if failed:  # no group is handed over until they are sent again
                groups.failed()
            log.warning("sending %d prepared articles failed (%r); sending each again", len(failed), failure,
                        extra={"error": repr(failure), "articles": len(failed)})
        if before is not None:
            await asyncio.wait([before])
        ahead = _landed_ahead(ctx, group, failed, overtaken=number <= groups.overtaken_through)
        if ahead:
            log.warning("%d prepared articles %s, sent again after a failed send", ahead, SENT_AGAIN,
                        extra={"articles": ahead})
        if failed:
            ctx.counters.sends_retried += len(failed)
            reordering = any(_prepared(ctx, group[n][1]) for n in failed)  # dead letters sent again change no order
            try:
                group = [(entry, await _send_again(ctx, entry[0], sends) if n in failed else sends) for n, (entry, sends) in enumerate(group)]
            finally:
                groups.sent_again()
            if reordering:
                groups.overtaken_through = groups.handed
        for entry, sends in group:
            if _prepared(ctx, sends):
                ctx.counters.prepared += 1
            else:
                ctx.counters.dead_letters += 1
            await acks.confirmed(entry)
    finally:
        for _ in group:
            in_flight.release()


def _landed_ahead(ctx: WorkerContext, group: list, failed: set[int], overtaken: bool) -> int:
    """How many of the group's prepared articles landed ahead of earlier ones sent again: every one that landed,
    if the group was on its way while an earlier group's articles were sent again; else the ones after its own
    first failed prepared article."""
    first = -1 if overtaken else min((n for n in failed if _prepared(ctx, group[n][1])), default=len(group))
    return sum(1 for n, (_, sends) in enumerate(group) if n > first and n not in failed and _prepared(ctx, sends))


def _prepared(ctx: WorkerContext, sends: list) -> bool:
    """Whether an article's sends (`_sends`: one message) are its prepared article, not a dead letter."""
    return sends[0][0] is ctx.topics.prepared_articles


async def _send_again(ctx: WorkerContext, event, sends: list) -> list:
    """After a failed batch: send an article's output again, retrying until the broker has it; a prepared
    article refused as too large becomes a dead letter (none should be: see `prepared_limit`). Returns what was
    finally sent."""
    topics = ctx.topics
    while True:
        try:
            await deliver_all(ctx.counters, *sends)
            return sends
        except SIZE_ERRORS as failure:
            if _prepared(ctx, sends):
                _, key, value = sends[0]
                sends = [dead_letter_send(topics.dead_letters, _too_large(ctx, event.value, key.decode(), len(value)))]
            else:  # even the dead letter (a 200-character preview) is refused
                letter = dead_letter(event.value, f"the broker refused every output: {failure!r}", "process", key_text(event.key))
                sends = [dead_letter_send(topics.dead_letters, letter)]


def _too_large(ctx: WorkerContext, payload: bytes | None, article_id: str, size: int) -> DeadLetter:
    topic = ctx.topics.prepared_articles.get_topic_name()
    return dead_letter(
        payload,
        f"the prepared article is {size:,} bytes, more than Kafka accepts on {topic} (it keeps the raw article's "
        "unknown fields, with its facts and terms): lower STORYWIRE_MAX_ARTICLE_BYTES, or raise the topic's "
        "max.message.bytes (STORYWIRE_PREPARED_MAX_MESSAGE_BYTES)",
        "process",
        article_id,
    )
