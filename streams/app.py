"""The faust app: one per worker process, named after the topic prefix so deployments never mix."""

from __future__ import annotations

import faust

from streams.settings import get_settings

settings = get_settings()

app = faust.App(
    settings.topic_prefix,
    broker=f"kafka://{settings.bootstrap}",
    store=settings.store,
    datadir=str(settings.home / "worker" / settings.topic_prefix),
    topic_partitions=settings.partitions,
    topic_replication_factor=1,
    web_enabled=False,
    # A 6 s session with a 1 s heartbeat joins the group in seconds (the 60 s default is slow on a first join).
    broker_session_timeout=6.0,
    broker_heartbeat_interval=1.0,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    producer_max_request_size=settings.max_article_bytes + 1_000_000,
    autodiscover=False,
)
