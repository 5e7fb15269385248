"""The worker's Prometheus metrics and health check, on STORYWIRE_METRICS_HOST:STORYWIRE_METRICS_PORT.

- `/metrics`: the counters (`storywire_<name>_total`, read from `Counters` at each scrape), consumer lag
  per input topic (`storywire_consumer_lag{topic}`, as last measured for the counter line), processing
  time per article and stage (`storywire_stage_seconds{stage="prepare"|"place"}`), seconds since the last
  completed offset commit (`storywire_last_commit_age_seconds`), and the process's memory and CPU
  (prometheus-client's `process_*`).
- `/health`: 200 while the worker consumes and has completed an offset commit within
  STORYWIRE_HEALTH_MAX_COMMIT_AGE seconds, else 503 (starting, crashed, or stuck on its brokers); the
  JSON body says which.

Served by aiohttp in the worker's own event loop (faust's web server stays off). A port already taken is
logged as an error and the worker goes on without them: a second worker on the same machine needs its own
STORYWIRE_METRICS_PORT.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import faust
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from streams.worker.counters import Counters

log = logging.getLogger(__name__)

# Articles the place stage finishes together: one on a quiet stream, up to its MAX_BATCH (500) when busy.
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500)
# Raw articles handed to a child together: one on a quiet stream, up to processes.CHUNK (128) when busy.
CHUNK_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
# Per-article processing time: preparing is milliseconds for a short article, up to seconds for a huge one.
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Health:
    """What /health answers from: when the consumer last completed a commit round (faust runs one every few
    seconds while it consumes, with or without new offsets), and how old that may be."""

    max_commit_age: float
    last_commit: float | None = None  # time.monotonic() of the last completed commit round

    def commit_age(self, now: float) -> float | None:
        return None if self.last_commit is None else now - self.last_commit

    def answer(self, consuming: bool, now: float) -> tuple[int, dict]:
        """The status code and JSON body of /health."""
        age = self.commit_age(now)
        healthy = consuming and age is not None and age <= self.max_commit_age
        body = {
            "status": "ok" if healthy else "unhealthy",
            "consuming": consuming,
            "last_commit_age_s": None if age is None else round(age, 1),
            "max_commit_age_s": self.max_commit_age,
        }
        return (200 if healthy else 503), body


class _CountersCollector(Collector):
    """The counters, lag and commit age, read at each scrape (the counter line's numbers are the one source)."""

    def __init__(self, counters: Counters, health: Health) -> None:
        self.counters = counters
        self.health = health

    def collect(self) -> Iterator[Metric]:
        values = self.counters.as_dict()
        lag = values.pop("lag")
        meanings = Counters.meanings()
        for name, value in values.items():
            yield CounterMetricFamily(f"storywire_{name}", meanings[name], value=value)
        lag_family = GaugeMetricFamily(
            "storywire_consumer_lag",
            "Messages on an input topic not yet processed by this worker (its partitions), as last measured.",
            labels=["topic"],
        )
        for topic, waiting in lag.items():
            if waiting is not None:
                lag_family.add_metric([topic], waiting)
        yield lag_family
        age = self.health.commit_age(time.monotonic())
        if age is not None:
            yield GaugeMetricFamily(
                "storywire_last_commit_age_seconds", "Seconds since the consumer last completed an offset commit.", value=age
            )


class WorkerMetrics:
    """One worker's registry: counters, lag and commit age read at scrape time, stage times, process figures."""

    def __init__(self, counters: Counters, max_commit_age: float) -> None:
        self.registry = CollectorRegistry()
        self.health = Health(max_commit_age)
        self.registry.register(_CountersCollector(counters, self.health))
        ProcessCollector(registry=self.registry)
        self.stage_seconds = Histogram(
            "storywire_stage_seconds",
            "Processing time of one article in a stage (prepare or place), not counting waits for the broker.",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.place_batch = Histogram(
            "storywire_place_batch_articles",
            "Articles the place stage wrote and published together: one on a quiet stream; at the stage's limit "
            "(staging.MAX_BATCH), placing is what the worker waits on.",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.prepare_chunk = Histogram(
            "storywire_prepare_chunk_articles",
            "Raw articles handed to a child process to prepare together: one on a quiet stream; at the limit "
            "(processes.CHUNK), preparing is what the worker waits on.",
            buckets=CHUNK_BUCKETS,
            registry=self.registry,
        )


class WorkerSensor(faust.Sensor):
    """faust's hooks the metrics need: each completed commit round (for /health) and each rebalance."""

    def __init__(self, counters: Counters, health: Health) -> None:
        super().__init__()
        self.counters = counters
        self.health = health

    def on_commit_completed(self, consumer, state) -> None:
        self.health.last_commit = time.monotonic()

    def on_rebalance_start(self, app) -> dict:
        self.counters.rebalances += 1
        return super().on_rebalance_start(app)


async def serve_metrics(metrics: WorkerMetrics, consuming: Callable[[], bool], host: str, port: int) -> None:
    """Serve /metrics and /health until cancelled (when the worker stops)."""

    async def scrape(request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def health(request: web.Request) -> web.Response:
        status, body = metrics.health.answer(consuming(), time.monotonic())
        return web.json_response(body, status=status)

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:
            log.error(
                "cannot serve metrics and health on %s:%d (%s); the worker goes on without them: set "
                "STORYWIRE_METRICS_PORT to a free port", host, port, error, extra={"error": repr(error)},
            )  # fmt: skip
            return
        log.info("metrics on http://%s:%d/metrics, health on /health", host, port)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
