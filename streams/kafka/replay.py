"""The replay producer: publish the articles of files and directories to the raw articles topic.

The files are read by `streams.sources` (text files, JSONL feeds, web pages, RSS/Atom feeds, WARC archives);
`article_sender` is the one way articles reach the raw topic, for `replay` and for `storywire follow`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

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


async def replay(
    paths: list[Path],
    settings: Settings,
    rate: float | None = None,
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> ReplaySummary:
    """Publish every article under the paths to the raw topic, at most `rate` per second, reporting progress."""
    summary = ReplaySummary()

    def skip(reason: str) -> None:
        summary.skipped.append(reason)
        progress(f"skipped {reason}")

    inputs = read_inputs(input_files(paths), settings.max_article_bytes)  # a missing path fails here, before connecting
    started = time.monotonic()
    async with article_sender(settings) as send:
        pending = []
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
                pending.append(await send(item))
            except ArticleTooLarge as error:  # the feed goes on
                skip(str(error))
                continue
            summary.sent += 1
            summary.ids.append(str(item["id"]))
            if summary.sent % 1000 == 0:
                progress(f"sent {summary.sent:,} articles ({summary.sent / (time.monotonic() - started):,.0f}/s)")
        await asyncio.gather(*pending)
    summary.seconds = time.monotonic() - started
    return summary


@asynccontextmanager
async def article_sender(settings: Settings) -> AsyncIterator[Callable[[dict], Awaitable[asyncio.Future]]]:
    """A function that sends one raw-article dict (with an id) to the raw topic and returns the broker's
    confirmation to await; it raises ArticleTooLarge for an article the topic would refuse."""
    topic = settings.topic(ARTICLES)
    # Create the topic as the worker would, so a replay before the worker's first start doesn't get broker defaults.
    await ensure_topics(settings, [topic_specs(settings)[ARTICLES]])
    limit = await max_message_bytes(settings, topic)
    producer = AIOKafkaProducer(
        **client_options(settings), acks="all", enable_idempotence=True, linger_ms=5, max_request_size=limit
    )
    await producer.start()

    async def send(article: dict) -> asyncio.Future:
        value = orjson.dumps(article)
        try:
            return await producer.send(topic, value, key=str(article["id"]).encode())
        except MessageSizeTooLargeError:  # refused here, before anything is sent
            raise ArticleTooLarge(
                f"article {article['id']}: {len(value):,} bytes, more than {topic} accepts ({limit:,} bytes, "
                "its max.message.bytes); trim the article or raise the topic's limit"
            ) from None

    try:
        yield send
    finally:
        await producer.stop()
