"""A story of over a thousand full-text articles on topics that take at most Kafka's default 1 MB message.

Every message the worker writes, on its output topics and its tables' changelogs, stays small whatever the
size of the story: the log gets one message per entry, and no table value grows with the story.
"""

from __future__ import annotations

from collections import Counter

import orjson
import pytest

from streams.kafka.admin import ensure_topics
from streams.kafka.read import read_topic
from streams.kafka.replay import replay
from streams.kafka.topics import TopicSpec, topic_specs
from streams.settings import Settings
from streams.tools.harness import start_worker, stop_worker, wait_for_outcomes
from streams.tools.synthetic import stream_over_days
from streams.worker.context import STORY_ROWS, TABLES

# Each test chains several waits of minutes (settling, restarts) on a 2-core host: longer than the default.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588
ARTICLES = 1_150


async def test_a_story_of_over_a_thousand_full_text_articles_fits_kafka_s_default_message_limit(kafka_bootstrap, topic_prefix, tmp_path):
    settings = Settings(broker=kafka_bootstrap, topic_prefix=topic_prefix, home=tmp_path, partitions=1)
    limit = {"max.message.bytes": str(KAFKA_DEFAULT_MAX_MESSAGE_BYTES)}
    specs = [TopicSpec(s.name, s.partitions, {**s.config, **limit}) for s in topic_specs(settings).values()]
    tables = [(name, 1) for name in TABLES.values()] + [(STORY_ROWS, settings.partitions)]
    changelogs = [TopicSpec(f"{topic_prefix}-{name}-changelog", n, {"cleanup.policy": "compact", **limit}) for name, n in tables]
    await ensure_topics(settings, specs + changelogs)

    articles = list(stream_over_days(ARTICLES, days=20, seed=17, long_running=1, long_share=1.0, duplicate_rate=0.0))
    feed = tmp_path / "long-story.jsonl"
    feed.write_bytes(b"".join(orjson.dumps(a) + b"\n" for a in articles))
    assert sum(len(a["text"]) for a in articles) / len(articles) > 1000  # full text, not headlines

    worker = start_worker(settings, tmp_path / "worker.log")
    try:
        summary = await replay([feed], settings, progress=lambda _: None)
        assert summary.sent == ARTICLES and not summary.skipped
        state = await wait_for_outcomes(settings, ARTICLES, worker, timeout=900, progress=lambda _: None)
    finally:
        stop_worker(worker)

    assert state["dead_letters"] == []
    biggest = max(state["stories"], key=lambda story: len(story["article_ids"]))
    assert len(biggest["article_ids"]) > 1000, Counter(len(s["article_ids"]) for s in state["stories"])
    largest = {}
    for spec in specs + changelogs:
        name = spec.name.removeprefix(f"{topic_prefix}-")
        values = await read_topic(settings, name)
        largest[name] = max((len(v) for v in values if v), default=0)
    print(f"\nlong story: {len(biggest['article_ids'])} articles; largest message per topic: {largest}")
    assert largest["story-events"] > 0 and largest["story-rows-changelog"] > 0 and largest["story-placements"] > 0
    assert max(largest.values()) < 256 * 1024, largest
