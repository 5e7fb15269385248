"""The replay producer: publish fixture files and JSONL feeds to the raw articles topic.

`.txt` files are articles as scraped (free text); `.jsonl` feeds hold one
article per line (`id`, `title`, `text`, `source`, `url`, `published_at`, any
missing, unknown fields kept). Directories are read for both, in name order.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import MessageSizeTooLargeError

from schemas import RawArticle
from streams.kafka.admin import ensure_topics
from streams.kafka.topics import ARTICLES, topic_specs
from streams.pipeline.prepare import stable_id
from streams.settings import Settings

ARTICLE_SUFFIXES = (".txt", ".jsonl")


class FeedError(Exception):
    """A path or feed line that cannot be read, with where it is."""


@dataclass
class ReplaySummary:
    sent: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    ids: list[str] = field(default_factory=list)


def article_files(paths: list[Path]) -> list[Path]:
    """The article files the paths name, directories expanded; a missing path is an error."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in ARTICLE_SUFFIXES)
            if not found:
                raise FeedError(f"{path}: no .txt or .jsonl files in this directory")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise FeedError(f"{path}: no such file or directory")
    return files


def read_articles(files: list[Path], on_skip: Callable[[str], None]) -> Iterator[dict]:
    """Each article as the JSON object to publish, with an id (stable, from the content, if it had none)."""
    for path in files:
        if path.suffix == ".jsonl":
            yield from _read_jsonl(path, on_skip)
        else:
            text = path.read_bytes().decode("utf-8", errors="replace")
            yield _with_id({"text": text})


def _read_jsonl(path: Path, on_skip: Callable[[str], None]) -> Iterator[dict]:
    with path.open("rb") as feed:
        for number, line in enumerate(feed, start=1):
            if not line.strip():
                continue
            try:
                data = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                on_skip(f"{path}:{number}: malformed JSON ({error})")
                continue
            if not isinstance(data, dict):
                on_skip(f"{path}:{number}: a feed line must be a JSON object")
                continue
            yield _with_id(data)


def _with_id(data: dict) -> dict:
    if not data.get("id"):
        fields = {k: data.get(k) if isinstance(data.get(k), str) else None for k in ("url", "title", "text")}
        data = {**data, "id": stable_id(RawArticle(**fields))}
    return data


async def replay(
    paths: list[Path],
    settings: Settings,
    rate: float | None = None,
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
) -> ReplaySummary:
    """Publish every article under the paths to the raw topic, at most `rate` per second, reporting progress."""
    bootstrap, topic = settings.bootstrap, settings.topic(ARTICLES)
    summary = ReplaySummary()

    def skip(reason: str) -> None:
        summary.skipped.append(reason)
        progress(f"skipped {reason}")

    articles = read_articles(article_files(paths), skip)  # a missing path fails here, before connecting
    # Create the topic as the worker would, so a replay before the worker's first start doesn't get broker defaults.
    await ensure_topics(bootstrap, [topic_specs(settings)[ARTICLES]])
    limit = await max_message_bytes(bootstrap, topic)
    started = time.monotonic()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5, max_request_size=limit
    )
    await producer.start()
    try:
        pending = []
        for article in articles:
            if rate:
                delay = started + summary.sent / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            key = str(article["id"]).encode()
            value = orjson.dumps(article)
            try:
                pending.append(await producer.send(topic, value, key=key))
            except MessageSizeTooLargeError:  # refused here, before anything is sent: the feed goes on
                skip(
                    f"article {article['id']}: {len(value):,} bytes, more than {topic} accepts ({limit:,} bytes, "
                    "its max.message.bytes); trim the article or raise the topic's limit"
                )
                continue
            summary.sent += 1
            summary.ids.append(str(article["id"]))
            if summary.sent % 1000 == 0:
                progress(f"sent {summary.sent:,} articles ({summary.sent / (time.monotonic() - started):,.0f}/s)")
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    summary.seconds = time.monotonic() - started
    return summary


async def max_message_bytes(bootstrap: str, topic: str) -> int:
    """The largest message the topic accepts (its max.message.bytes, which defaults to the broker's)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    for resource in response.resources:
        for name, value, *_ in resource[4]:
            if name == "max.message.bytes":
                return int(value)
    return 1_048_588  # Kafka's default
