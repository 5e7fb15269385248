"""The worker, wired: a faust app with its topics, tables, two agents and a timer, built by `build_app`.

    raw articles --prepare_articles--> prepared articles --place_articles--> story placements --fold_stories--> story events,
       (partitioned, parallel)                              (one partition)       (partitioned, by story)       snapshots
       \\--> dead letters                                                  \\--> duplicates, dead letters

Processing is at-least-once. Acks are manual (`stream.noack()`): a message is
acknowledged, and so its offset becomes committable, only after everything it
produced is on the broker. faust's automatic ack would also ack the message in
flight when the worker stops (the stream's generator is closed on stop, and
acks in its `finally`) or when the agent raises, so a SIGTERM between a table
write and a send, or a send that fails, would commit an article whose output
never left. With manual acks such a message is simply processed again on the
next start, and the redelivery path makes that harmless.
"""

from __future__ import annotations

from pathlib import Path

import faust

from streams.kafka.compression import keep_zstd_contexts
from streams.kafka.connection import security_options
from streams.settings import Settings
from streams.worker.consumer import use_prompt_consumer
from streams.worker.context import WorkerContext, declare_story_rows, declare_tables
from streams.worker.journal import Settled
from streams.worker.lag import log_counters, report_counters
from streams.worker.metrics import WorkerSensor, serve_metrics
from streams.worker.place_stage import place_agent
from streams.worker.prepare_stage import prepare_agent
from streams.worker.producer import use_idempotent_producer
from streams.worker.story_stage import story_agent
from streams.worker.topics import declare_topics


def build_app(settings: Settings, data_dir: Path, settled: Settled = Settled(None)) -> faust.App:
    """One app per worker process, named after the topic prefix so deployments never mix; its tables in data_dir
    (`settled` says what the place stage's journal found there: streams/worker/journal.py)."""
    keep_zstd_contexts()  # its producer compresses, its consumers decompress: streams/kafka/compression.py
    app = faust.App(
        settings.topic_prefix,
        broker=f"kafka://{settings.bootstrap}",
        broker_credentials=broker_credentials(settings),
        store=settings.store,
        datadir=str(data_dir),
        topic_partitions=settings.partitions,
        # Every topic faust creates (the tables' changelogs, its assignor topic) gets the settings' replication.
        topic_replication_factor=settings.replication_factor,
        web_enabled=False,
        # A 6 s session with a 1 s heartbeat joins the group in seconds (the 60 s default is slow on a first join).
        broker_session_timeout=6.0,
        broker_heartbeat_interval=1.0,
        consumer_auto_offset_reset="earliest",
        # Up to 16 MB per partition and fetch (faust's default is 1 MB, about 200 prepared articles): with 1 MB
        # a worker that only placed waited for its input (247 articles/s, against 377-393 with 16 or 64 MB,
        # measured on `storywire bench`'s stream). Likely why: aiokafka fetches a partition again only once its
        # records are consumed, and (then) faust had each fetch of partitions without new data held for up to 1.5 s
        # (100 ms now: streams/worker/consumer.py).
        consumer_max_fetch_size=16 * 1024 * 1024,
        # At most 500 records per poll. With no limit a poll handed faust every record fetched, thousands of raw
        # articles; once the prepare agent's buffer (4,096) was full, faust waited for room before delivering
        # anything else, so the prepared articles behind them waited too, and the place stage sat idle for
        # seconds while the child prepared. In polls of 500, faust stops fetching a partition whose buffer is
        # under pressure (at 3,276) before the buffer is full, and the other partitions' records keep coming.
        broker_max_poll_records=500,
        producer_acks=-1,
        producer_max_request_size=settings.max_prepared_bytes,
        # Fewer, larger produce requests: the loopback or network writes and the broker's work per article were a
        # fifth of the worker's time with a request per few messages. The stages hand their output over as whole
        # batches of up to this size (`delivery.send_batches`); a short linger (see the setting) gathers what is
        # sent one at a time. Compressed as the settings say (zstd by default: the story events are kept for
        # good; none costs less CPU, see the README).
        producer_max_batch_size=256 * 1024,
        producer_linger=settings.producer_linger_ms / 1000,
        producer_compression_type=None if settings.compression == "none" else settings.compression,
        # Refresh topic metadata every 15 s instead of every 5 min: a topic created moments before the worker
        # started (its own changelogs, the output topics) was once cached without a usable partition, which
        # left a send waiting and kept the changelog partition unassigned until the next refresh, 5 min later.
        producer_metadata_max_age_ms=15_000,
        consumer_metadata_max_age_ms=15_000,
        autodiscover=False,
    )
    use_idempotent_producer(app)
    use_prompt_consumer(app)
    topics = declare_topics(app, settings)
    ctx = WorkerContext(settings, app, topics, declare_tables(app, settings), story_rows=declare_story_rows(app, settings))
    if settings.tables_on_disk:  # the place stage keeps its journal beside them
        ctx.journal_dir, ctx.cut_batch = data_dir, settled.cut
    app.sensors.add(WorkerSensor(ctx.counters, ctx.metrics.health))

    app.agent(topics.raw_articles, name="prepare_articles")(prepare_agent(ctx))
    app.agent(topics.prepared_articles, name="place_articles", concurrency=1)(place_agent(ctx))
    app.agent(topics.story_placements, name="fold_stories", concurrency=1)(story_agent(ctx))

    @app.timer(interval=settings.stats_interval)
    async def counters_line() -> None:
        await report_counters(ctx)

    @app.task
    async def settled_report() -> None:
        settled.report()

    @app.task
    async def metrics_endpoint() -> None:
        await serve_metrics(
            ctx.metrics, lambda: app.consumer.state == "running", settings.metrics_host, settings.metrics_port
        )

    @app.on_partitions_revoked.connect
    async def forget_partitions(app_, revoked, **kwargs) -> None:
        """Every rebalance revokes everything first: the next article rebuilds the desk from the recovered tables."""
        ctx.desk = None
        ctx.shelves = {}  # made again from the story rows table, as faust recovers it
        ctx.changelog_ends = None  # another worker may write to the changelogs until this one places again
        for tp in revoked:
            ctx.next_offsets.pop(tp, None)
            ctx.placing_next.pop(tp, None)
        if ctx.prepare_acks is not None:
            ctx.prepare_acks.forget(revoked)

    @app.on_before_shutdown.connect
    async def last_counters(app_, **kwargs) -> None:
        """One last counter line at stop, so a run shorter than the interval (and the last interval) is counted too."""
        log_counters(ctx)

    return app


def broker_credentials(settings: Settings) -> faust.SASLCredentials | faust.SSLCredentials | None:
    """The clients' security options (streams/kafka/connection.py) as faust takes them; faust hands them on to
    aiokafka unchanged, for its consumer, producer and topic creation alike."""
    options = security_options(settings)
    protocol = options["security_protocol"]
    if protocol.startswith("SASL_"):
        return faust.SASLCredentials(
            username=options["sasl_plain_username"],
            password=options["sasl_plain_password"],
            mechanism=options["sasl_mechanism"],
            ssl_context=options.get("ssl_context"),
        )
    if protocol == "SSL":
        return faust.SSLCredentials(options["ssl_context"])
    return None
