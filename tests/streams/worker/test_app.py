"""The faust app takes its connection and replication from the settings (built, never connected)."""

from __future__ import annotations

import faust

from streams.kafka.topics import story_rows_changelog_spec, topic_specs
from streams.settings import Settings
from streams.worker.app import build_app
from streams.worker.consumer import FETCH_MAX_WAIT_MS

PASSWORD = "s3cret-never-shown"


async def test_the_app_connects_with_the_settings_credentials_and_replicates_every_topic(certificates, tmp_path):
    settings = Settings(
        broker="k1:9093,k2:9093,k3:9093", security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
        sasl_username="app", sasl_password=PASSWORD, ssl_cafile=certificates["ca"], replication_factor=3,
        min_insync_replicas=2, store="memory://",
    )  # fmt: skip
    app = build_app(settings, tmp_path)
    credentials = app.conf.broker_credentials
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.protocol.value, credentials.mechanism.value) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (credentials.username, credentials.password) == ("app", PASSWORD) and credentials.ssl_context is not None
    assert PASSWORD not in repr(credentials)
    assert [str(url) for url in app.conf.broker] == ["kafka://k1:9093", "kafka://k2:9093", "kafka://k3:9093"]
    assert app.conf.topic_replication_factor == 3
    changelogs = [table.changelog_topic for table in app.tables.values()]
    assert len(changelogs) == 5 and all(topic.config["min.insync.replicas"] == "2" for topic in changelogs)
    assert all(spec.config["min.insync.replicas"] == "2" for spec in topic_specs(settings).values())


async def test_plain_text_has_no_credentials(tmp_path):
    assert build_app(Settings(store="memory://"), tmp_path).conf.broker_credentials is None


async def test_the_app_s_producer_is_idempotent_so_retried_sends_land_in_order_and_once(tmp_path):
    """faust makes its producer idempotent only inside transactions; the worker's is, always."""
    app = build_app(Settings(store="memory://"), tmp_path)
    client = app.producer._new_producer()  # the aiokafka producer the app would start (never connected)
    assert client._txn_manager is not None  # aiokafka's idempotence: producer id and sequence numbers
    assert client._txn_manager.transactional_id is None  # idempotent, not transactional
    await client.stop()


async def test_the_app_s_producer_compresses_as_the_settings_say(tmp_path):
    assert Settings().compression == "zstd"
    for setting, codec in (("lz4", "lz4"), ("none", None), ("zstd", "zstd")):
        app = build_app(Settings(store="memory://", compression=setting), tmp_path / setting)
        client = app.producer._new_producer()  # never connected
        assert client._compression_type == codec
        await client.stop()


async def test_the_app_s_producer_lingers_as_the_settings_say(tmp_path):
    """Without a linger the first few writes of a place batch's phase went to the broker alone."""
    assert Settings().producer_linger_ms == 5
    for linger_ms in (0, 5, 20):
        app = build_app(Settings(store="memory://", producer_linger_ms=linger_ms), tmp_path / str(linger_ms))
        client = app.producer._new_producer()  # never connected
        assert client._message_accumulator._linger_time == linger_ms / 1000
        await client.stop()


async def test_the_app_s_consumer_has_the_broker_hold_a_fetch_briefly(tmp_path):
    """With faust's 1.5 s, a fetch of partitions with nothing new kept every other partition on the broker waiting."""
    app = build_app(Settings(store="memory://"), tmp_path)
    client = app.consumer._thread._create_worker_consumer(app.transport)  # the aiokafka consumer (never started)
    assert client._fetch_max_wait_ms == FETCH_MAX_WAIT_MS <= 100
    await client.stop()


async def test_the_story_rows_changelog_takes_a_message_as_large_as_a_placement(tmp_path):
    """A message a story holds is a row of its own, as large as its placement: the changelog refusing it would
    stop the story stage's writes for good."""
    from streams.worker.context import STORY_ROWS

    settings = Settings(store="memory://", max_article_bytes=3_000_000)
    app = build_app(settings, tmp_path)
    (rows,) = [table for table in app.tables.values() if table.name == STORY_ROWS]
    created = story_rows_changelog_spec(settings, STORY_ROWS)  # as the worker creates it before faust starts
    assert rows.changelog_topic.get_topic_name() == created.name and created.partitions == settings.partitions
    limit = topic_specs(settings)["story-placements"].config["max.message.bytes"]
    assert rows.changelog_topic.config["max.message.bytes"] == created.config["max.message.bytes"] == limit == str(settings.max_prepared_bytes)
