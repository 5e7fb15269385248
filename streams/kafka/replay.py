"""The replay producer: publish the articles of files and directories to the raw articles topic.

The files are read by `streams.sources` (text files, JSONL feeds, web pages, RSS/Atom feeds, WARC archives);
`article_sender` is the one way articles reach the raw topic, for `replay` and for `storywire follow`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
)

from streams.kafka.admin import ensure_topics, max_message_bytes
from streams.kafka.connection import client_options
from streams.kafka.topics import ARTICLES, topic_specs
from streams.settings import Settings
from streams.sources import PassedOver, Skipped, input_files, read_inputs


class ArticleTooLarge(Exception):
    """An article larger than the raw topic accepts, refused before sending; the message says what to do."""


@dataclass
class ReplaySummary:
    sent: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    ids: list[str] = field(default_factory=list)
    passed_over: Counter[str] = field(default_factory=Counter)  # by kind: inputs that are no article by nature


def raw_key(article: dict) -> bytes:
    """The key an article goes to the raw topic under: its id (the worker names a dead letter after it)."""
    return str(article["id"]).encode()


async def replay(
    paths: list[Path],
    settings: Settings,
    rate: float | None = None,
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> ReplaySummary:
    """Publish every article under the paths to the raw topic, at most `rate` per second, reporting progress.
    The confirmations waited for are those since the oldest one not in yet, not the whole replay's."""
    summary = ReplaySummary()

    def skip(reason: str) -> None:
        summary.skipped.append(reason)
        progress(f"skipped {reason}")

    inputs = read_inputs(input_files(paths), settings.max_article_bytes)  # a missing path fails here, before connecting
    started = time.monotonic()
    unconfirmed: deque[asyncio.Future] = deque()
    try:
        async with article_sender(settings, progress) as send:
            for item in inputs:
                if isinstance(item, PassedOver):
                    summary.passed_over[item.kind] += 1
                    continue
                if isinstance(item, Skipped):
                    skip(str(item))
                    continue
                if rate:
                    delay = started + summary.sent / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                try:
                    unconfirmed.append(await send(item))
                except ArticleTooLarge as error:  # the feed goes on
                    skip(str(error))
                    continue
                while unconfirmed and unconfirmed[0].done():
                    await unconfirmed.popleft()  # raises what failed it for good
                summary.sent += 1
                summary.ids.append(str(item["id"]))
                if summary.sent % 1000 == 0:
                    progress(f"sent {summary.sent:,} articles ({summary.sent / (time.monotonic() - started):,.0f}/s)")
            while unconfirmed:
                await unconfirmed.popleft()
    finally:  # a failed replay's later confirmations, never awaited: what failed them is read here
        for confirmation in unconfirmed:
            if confirmation.done() and not confirmation.cancelled():
                confirmation.exception()
    summary.seconds = time.monotonic() - started
    return summary


BROKER_RETRY_S = 5.0  # between tries to reach a broker that does not answer or take articles
RETIRING_S = 10.0  # how long closing waits for a replaced producer to finish stopping
# A record batch per partition of up to 256 KB, as the worker sends, where the client's default is 16 KB, three or
# four articles: a replay flat out made the broker and itself take a produce request per few articles
# (end to end on one machine, the broker's CPU per article 0.13-0.14 -> 0.09-0.11 ms, the replay's 0.07-0.08 ->
# 0.05). A paced replay's batches stay as small as its linger leaves them. Never above the raw topic's
# max.message.bytes, which the broker holds a whole batch to.
BATCH_BYTES = 256 * 1024


class _RawTopic:
    """The raw topic's producer, and a new one in its place once it failed an article (`article_sender`)."""

    def __init__(self, settings: Settings, limit: int, progress: Callable[[str], None]) -> None:
        self.settings, self.topic, self.limit, self.progress = settings, settings.topic(ARTICLES), limit, progress
        self.producer: AIOKafkaProducer | None = None
        self.renewing = asyncio.Lock()
        self.resending: set[asyncio.Task] = set()
        self.retiring: set[asyncio.Task] = set()  # replaced producers stopping
        self.closing = False

    async def start_producer(self) -> None:
        """A new producer in use, once the broker answers: it may be down, and is asked again meanwhile."""
        waiting_since = time.monotonic()
        while True:
            producer = AIOKafkaProducer(
                **client_options(self.settings), acks="all", enable_idempotence=True, linger_ms=5, max_request_size=self.limit,
                max_batch_size=min(BATCH_BYTES, self.limit),
            )
            try:
                await producer.start()
                self.producer = producer
                return
            except BaseException as error:  # a producer that did not start is stopped, whatever stopped it
                await producer.stop()
                if not (isinstance(error, KafkaError) and error.retriable):
                    raise
                self._still_trying("has not answered", waiting_since, error)
                await asyncio.sleep(BROKER_RETRY_S)

    def _still_trying(self, what: str, since: float, error: BaseException) -> None:
        self.progress(
            f"the broker at {self.settings.bootstrap} {what} for {time.monotonic() - since:.0f}s ({error!r}; is it "
            "down or restarting?); still trying, Ctrl-C stops"
        )

    async def send(self, article: dict) -> asyncio.Future:
        confirmed = asyncio.get_running_loop().create_future()
        await self._attempt(article, orjson.dumps(article), confirmed)
        return confirmed

    async def _attempt(self, article: dict, value: bytes, confirmed: asyncio.Future) -> None:
        waiting_since = time.monotonic()
        while True:
            producer = self.producer
            try:
                sent = await producer.send(self.topic, value, key=raw_key(article))
                break
            except MessageSizeTooLargeError:  # refused here, before anything is sent
                raise ArticleTooLarge(
                    f"article {article['id']}: {len(value):,} bytes, more than {self.topic} accepts ({self.limit:,} "
                    "bytes, its max.message.bytes); trim the article or raise the topic's limit"
                ) from None
            except ProducerClosed:
                if producer is self.producer:
                    raise  # the sender is closing
                continue  # retired while the article waited for room in it: the new one takes it
            except KafkaError as error:  # not queued: after 40 s without room, or without the topic's leader
                if not _passes(error):
                    raise
                self._still_trying("has taken no article", waiting_since, error)
                await asyncio.sleep(BROKER_RETRY_S)
        sent.add_done_callback(lambda attempt: self._settle(attempt, article, value, confirmed, producer))

    def _settle(self, attempt: asyncio.Future, article: dict, value: bytes, confirmed: asyncio.Future, producer) -> None:
        error = None if attempt.cancelled() else attempt.exception()
        if attempt.cancelled() or (error is not None and self.closing):  # no one waits for it any more
            confirmed.cancel()
        elif error is None:
            if not confirmed.done():
                confirmed.set_result(attempt.result())
        elif _passes(error):
            _keep(self.resending, self._again(article, value, confirmed, producer, error))
        else:
            _fail(confirmed, error)

    async def _again(self, article: dict, value: bytes, confirmed: asyncio.Future, failed_on, error: Exception) -> None:
        """Send an article again whose sending failed for a reason that passes, on a new producer if the one that
        failed it is still the one in use: aiokafka's idempotent producer cannot go on after it failed an
        article (the broker then refuses every later one as out of sequence, and those come here too)."""
        try:
            async with self.renewing:
                if self.producer is failed_on:
                    self.progress(f"the broker failed articles ({error!r}); sending them again on a new producer")
                    await self.start_producer()
                    _keep(self.retiring, failed_on.stop())  # its articles in flight fail or go through
            await self._attempt(article, value, confirmed)
        except BaseException as again:  # whatever stops it (closing, too), the article's confirmation says
            _fail(confirmed, again)
            if not isinstance(again, Exception):
                raise

    async def close(self) -> None:
        """Stop resending, then every producer: a replaced one is given RETIRING_S to finish stopping."""
        self.closing = True
        for task in self.resending:
            task.cancel()
        await asyncio.gather(*self.resending, return_exceptions=True)
        if self.retiring:
            _, late = await asyncio.wait(self.retiring, timeout=RETIRING_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*self.retiring, return_exceptions=True)
        await self.producer.stop()


def _keep(tasks: set[asyncio.Task], work: Awaitable) -> None:
    """Run `work` in the background, held in `tasks` until it is done; what it raised is read, not lost."""
    task = asyncio.ensure_future(work)
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    task.add_done_callback(lambda done: done.cancelled() or done.exception())


def _passes(error: BaseException) -> bool:
    """An error of sending that a broker restart or a leader election explains: the article is sent again."""
    return isinstance(error, (KafkaTimeoutError, OutOfOrderSequenceNumber)) or (
        isinstance(error, KafkaError) and error.retriable
    )


def _fail(confirmed: asyncio.Future, error: BaseException) -> None:
    if confirmed.done():
        return
    if isinstance(error, asyncio.CancelledError):
        confirmed.cancel()
    else:
        confirmed.set_exception(error)


@asynccontextmanager
async def article_sender(
    settings: Settings, progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr)
) -> AsyncIterator[Callable[[dict], Awaitable[asyncio.Future]]]:
    """A function that sends one raw-article dict (with an id) to the raw topic and returns the broker's
    confirmation to await; it raises ArticleTooLarge for an article the topic would refuse.

    It rides out a broker down or restarting, however long, saying so: aiokafka gives up on an article after
    its request timeout (40 s), either before queueing it (asked again every BROKER_RETRY_S) or after (sent again,
    on a new producer if need be, and the confirmation returned is that of the article's last sending). So a replay of a
    year of archives does not stop part way. An article sent again may have gone through the first time: the
    worker reports the second copy as a redelivery."""
    # Create the topic as the worker would, so a replay before the worker's first start doesn't get broker defaults.
    await ensure_topics(settings, [topic_specs(settings)[ARTICLES]])
    raw_topic = _RawTopic(settings, await max_message_bytes(settings, settings.topic(ARTICLES)), progress)
    await raw_topic.start_producer()
    try:
        yield raw_topic.send
    finally:
        await raw_topic.close()
