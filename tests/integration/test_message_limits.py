"""A broker with Kafka's default message limit (1 MB), as managed clusters have: the topic size settings
brought under it, the seeds and large articles replay as described.

An article over STORYWIRE_MAX_ARTICLE_BYTES becomes a dead letter with the reason; one the raw topic cannot
hold at all is refused by the replay with the reason, the articles around it go on; nothing else fails.
"""

from __future__ import annotations

import random

import orjson
import pytest
from wordfreq import top_n_list

from streams.kafka.admin import ensure_topics, max_message_bytes
from streams.kafka.replay import replay
from streams.kafka.topics import ARTICLES, PREPARED, topic_specs
from streams.settings import Settings
from streams.tools.broker import LocalKafka, free_port, local_kafka
from streams.tools.demo import SEEDS
from streams.tools.harness import start_worker, stop_worker, wait_for_outcomes
from streams.tools.synthetic import generate

# Outcome waits of up to 420 s on a loaded host, and a broker of its own to start: longer than the default.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588
ARTICLE_LIMIT = 900_000


@pytest.fixture(scope="module")
def default_limits_broker(tmp_path_factory: pytest.TempPathFactory) -> LocalKafka:
    """A broker whose own limits are Kafka's defaults (the local broker raises them for 16 MiB articles)."""
    settings = Settings()
    broker = LocalKafka(
        tmp_path_factory.mktemp("kafka-1mb"), settings.kafka_version, free_port(), jars_dir=local_kafka(settings).jars_dir,
        detach=False, properties={"message.max.bytes": KAFKA_DEFAULT_MAX_MESSAGE_BYTES, "replica.fetch.max.bytes": 1_048_576},
    )  # fmt: skip
    broker.up(timeout=120, progress=lambda _: None)
    yield broker
    broker.down()


async def test_on_a_one_megabyte_broker_large_articles_become_dead_letters_and_the_rest_flows(
    default_limits_broker, topic_prefix, tmp_path, monkeypatch
):
    limits = {
        "max_message_bytes": KAFKA_DEFAULT_MAX_MESSAGE_BYTES,
        "prepared_max_message_bytes": KAFKA_DEFAULT_MAX_MESSAGE_BYTES,
        "max_article_bytes": ARTICLE_LIMIT,
    }
    settings = Settings(broker=default_limits_broker.bootstrap, topic_prefix=topic_prefix, home=tmp_path, partitions=1, **limits)
    for name, value in limits.items():
        monkeypatch.setenv(f"STORYWIRE_{name.upper()}", str(value))  # the worker's too

    full_text = "\n\n".join(a["text"] for a in generate(400, 5).articles)
    large = [
        {"id": "long-read", "title": "The harbour, a long read", "text": full_text[:600_000]},  # fits: an article
        {"id": "over-the-article-limit", "title": "Too long", "text": "word " * (ARTICLE_LIMIT // 5 + 10_000)},
        {"id": "over-the-topic-limit", "title": "Far too long", "text": "word " * 240_000},  # 1.2 MB
    ]
    feed = tmp_path / "large.jsonl"
    feed.write_bytes(b"".join(orjson.dumps(a) + b"\n" for a in large))

    log_path = tmp_path / "worker.log"
    worker = start_worker(settings, log_path)
    try:
        summary = await replay([SEEDS, feed], settings, progress=lambda _: None)
        state = await wait_for_outcomes(settings, summary.sent, worker, timeout=420, progress=lambda _: None)
        assert worker.poll() is None, "the worker stopped"
        limits_on_topics = [await max_message_bytes(settings, settings.topic(name)) for name in (ARTICLES, PREPARED)]
    finally:
        stop_worker(worker)

    assert limits_on_topics == [KAFKA_DEFAULT_MAX_MESSAGE_BYTES] * 2
    assert summary.sent == 7
    (refused,) = summary.skipped
    assert "over-the-topic-limit" in refused and "max.message.bytes" in refused
    letters = {d["article_id"]: d["reason"] for d in state["dead_letters"]}
    assert list(letters) == ["over-the-article-limit"], letters
    assert "exceeds the 900,000-byte limit" in letters["over-the-article-limit"]
    placed = {a for story in state["stories"] for a in story["article_ids"]} | {d["article_id"] for d in state["duplicates"]}
    assert "long-read" in placed
    assert len(placed) == 6, "every seed and the long read have an outcome"
    assert "Traceback" not in log_path.read_text(errors="replace")


async def test_a_prepared_topic_that_takes_less_than_the_settings_say_costs_one_dead_letter_not_the_stream(
    default_limits_broker, topic_prefix, tmp_path, monkeypatch
):
    """The prepared topic was made with a lower max.message.bytes than the settings now say (raised since): the
    worker reads the topic's own limit, so a prepared article over it becomes a dead letter instead of reaching
    the broker (a batch the broker refuses would stop the idempotent producer's partition for good), and its
    batches stay under it; the articles around it go on. A prepared article carries its raw article's unknown
    fields, not its text: one with a long transcript in such a field is the one too large."""
    topic_limit = 80_000  # more than a record's framing (RECORD_OVERHEAD_BYTES) and a short article
    made_with = Settings(broker=default_limits_broker.bootstrap, topic_prefix=topic_prefix, prepared_max_message_bytes=topic_limit)
    await ensure_topics(made_with, [topic_specs(made_with)[PREPARED]])
    limits = {"max_message_bytes": KAFKA_DEFAULT_MAX_MESSAGE_BYTES, "prepared_max_message_bytes": KAFKA_DEFAULT_MAX_MESSAGE_BYTES}
    settings = Settings(broker=default_limits_broker.bootstrap, topic_prefix=topic_prefix, home=tmp_path, partitions=1, **limits)
    for name, value in limits.items():
        monkeypatch.setenv(f"STORYWIRE_{name.upper()}", str(value))

    texts = [a["text"] for a in generate(60, 9, max_paragraphs=4).articles]
    articles = [{"id": f"short-{n}", "title": f"Harbour works, part {n}", "text": texts[n]} for n in range(8)]
    # Words drawn at random: the transcript (300 kB, kept in the prepared article's `extra`) stays larger than the
    # topic's limit once compressed, so the broker would refuse it (the seeded generator's texts compress too well).
    words, draw = top_n_list("en", 20_000), random.Random(5)
    sentences = (" ".join(draw.choice(words) for _ in range(draw.randint(8, 20))).capitalize() + "." for _ in range(20_000))
    transcript = "\n\n".join(" ".join(next(sentences) for _ in range(6)) for _ in range(3_000))[:300_000]
    article = {"id": "over-the-prepared-topic", "title": "The harbour, a transcript", "text": texts[8], "transcript": transcript}
    articles.insert(4, article)
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"".join(orjson.dumps(a) + b"\n" for a in articles))

    log_path = tmp_path / "worker.log"
    worker = start_worker(settings, log_path)
    try:
        summary = await replay([feed], settings, progress=lambda _: None)
        state = await wait_for_outcomes(settings, summary.sent, worker, timeout=420, progress=lambda _: None)
        assert worker.poll() is None, "the worker stopped"
    finally:
        stop_worker(worker)

    assert await max_message_bytes(settings, settings.topic(PREPARED)) == topic_limit
    letters = {d["article_id"]: d["reason"] for d in state["dead_letters"]}
    assert list(letters) == ["over-the-prepared-topic"], letters
    assert "more than Kafka accepts" in letters["over-the-prepared-topic"]
    placed = {a for story in state["stories"] for a in story["article_ids"]} | {d["article_id"] for d in state["duplicates"]}
    assert placed == {f"short-{n}" for n in range(8)}
    log = log_path.read_text(errors="replace")
    assert "takes messages of at most 80000 bytes" in log and "Traceback" not in log
