"""The faust app: one per worker process, named after the topic prefix so deployments never mix."""

from __future__ import annotations

import faust

from streams.settings import get_settings

settings = get_settings()

app = faust.App(
    settings.topic_prefix,
    broker=f"kafka://{settings.bootstrap}",
    store=settings.store,
    datadir=str(settings.worker_dir),
    topic_partitions=settings.partitions,
    topic_replication_factor=1,
    web_enabled=False,
    # A 6 s session with a 1 s heartbeat joins the group in seconds (the 60 s default is slow on a first join).
    broker_session_timeout=6.0,
    broker_heartbeat_interval=1.0,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    producer_max_request_size=settings.max_prepared_bytes,
    # Refresh topic metadata every 15 s instead of every 5 min: a topic created moments before the worker
    # started (its own changelogs, the output topics) was once cached without a usable partition, which
    # left a send waiting and kept the changelog partition unassigned until the next refresh, 5 min later.
    producer_metadata_max_age_ms=15_000,
    consumer_metadata_max_age_ms=15_000,
    autodiscover=False,
)
