"""The worker's Prometheus metrics and /health, served over real HTTP on 127.0.0.1 (no Kafka needed)."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from streams.tools.broker import free_port
from streams.worker.counters import Counters
from streams.worker.metrics import Health, WorkerMetrics, serve_metrics


def test_health_wants_a_running_consumer_and_a_recent_commit():
    health = Health(max_commit_age=60)
    assert health.answer(consuming=True, now=100.0)[0] == 503  # no commit yet: starting
    health.last_commit = 90.0
    status, body = health.answer(consuming=True, now=100.0)
    assert status == 200 and body["status"] == "ok" and body["last_commit_age_s"] == 10.0
    assert health.answer(consuming=False, now=100.0)[0] == 503  # stopped or crashed
    assert health.answer(consuming=True, now=151.0)[0] == 503  # stuck: no commit round for over a minute


async def test_metrics_and_health_are_served_and_read_the_counters_live():
    counters = Counters(received=3, prepared=2, appended=1, dead_letters=1, lag={"articles": 4, "prepared": None})
    metrics = WorkerMetrics(counters, max_commit_age=60)
    metrics.stage_seconds.labels("prepare").observe(0.02)
    metrics.place_batch.observe(7)
    metrics.prepare_chunk.observe(128)
    port = free_port()
    server = asyncio.create_task(serve_metrics(metrics, lambda: True, "127.0.0.1", port))
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):  # until it listens
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    async with http.get(f"http://127.0.0.1:{port}/health") as response:
                        assert response.status == 503 and (await response.json())["last_commit_age_s"] is None
                        break
                await asyncio.sleep(0.05)
            counters.received += 1  # read at the scrape, not copied at start
            metrics.health.last_commit = asyncio.get_running_loop().time()  # the same clock: time.monotonic
            async with http.get(f"http://127.0.0.1:{port}/health") as response:
                assert response.status == 200
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                text = await response.text()
    finally:
        server.cancel()
        await asyncio.gather(server, return_exceptions=True)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for f in text_string_to_metric_families(text) for s in f.samples
    }
    assert samples[("storywire_received_total", ())] == 4
    assert samples[("storywire_processed_total", ())] == 2
    assert samples[("storywire_consumer_lag", (("topic", "articles"),))] == 4
    assert ("storywire_consumer_lag", (("topic", "prepared"),)) not in samples  # unknown is not zero
    assert samples[("storywire_stage_seconds_count", (("stage", "prepare"),))] == 1
    assert samples[("storywire_place_batch_articles_bucket", (("le", "5.0"),))] == 0
    assert samples[("storywire_place_batch_articles_bucket", (("le", "10.0"),))] == 1
    assert samples[("storywire_prepare_chunk_articles_bucket", (("le", "64.0"),))] == 0
    assert samples[("storywire_prepare_chunk_articles_bucket", (("le", "128.0"),))] == 1
    assert samples[("storywire_last_commit_age_seconds", ())] >= 0


async def test_a_port_already_taken_leaves_the_worker_running_without_the_endpoint(caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        await asyncio.wait_for(serve_metrics(WorkerMetrics(Counters(), 60), lambda: True, "127.0.0.1", port), 10)
    assert "STORYWIRE_METRICS_PORT" in caplog.text
