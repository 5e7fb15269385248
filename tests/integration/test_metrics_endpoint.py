"""The worker's /metrics and /health, scraped while a replay runs: the counters move, and /health answers 200."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
from prometheus_client.parser import text_string_to_metric_families

from streams.kafka.replay import replay
from streams.settings import Settings
from streams.tools.broker import free_port
from streams.tools.harness import start_worker, stop_worker
from streams.tools.synthetic import generate

ARTICLES = 120


def _samples(exposition: str) -> dict[tuple[str, tuple], float]:
    """Every sample of a Prometheus text exposition (parsed by prometheus-client), by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


async def test_metrics_move_during_a_replay_and_health_answers(kafka_bootstrap, topic_prefix, tmp_path, monkeypatch):
    port = free_port()
    monkeypatch.setenv("STORYWIRE_METRICS_PORT", str(port))
    monkeypatch.setenv("STORYWIRE_STATS_INTERVAL", "1")
    settings = Settings(broker=kafka_bootstrap, topic_prefix=topic_prefix, home=tmp_path, partitions=2)
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"".join(orjson.dumps(a) + b"\n" for a in generate(ARTICLES, 61).articles))
    base = f"http://127.0.0.1:{port}"
    worker = start_worker(settings, tmp_path / "worker.log")
    seen: list[dict] = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:

            async def health() -> int:
                try:
                    async with http.get(f"{base}/health") as response:
                        return response.status
                except aiohttp.ClientConnectionError:
                    return 0  # not serving yet

            async def scrape() -> dict:
                async with http.get(f"{base}/metrics") as response:
                    assert response.status == 200
                    assert response.headers["Content-Type"].startswith("text/plain")
                    return _samples(await response.text())

            deadline = asyncio.get_running_loop().time() + 180
            while (status := await health()) != 200:
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
                assert asyncio.get_running_loop().time() < deadline, f"/health answered {status} for 180 s"
                await asyncio.sleep(0.5)

            sending = asyncio.create_task(replay([feed], settings, rate=30, progress=lambda _: None))
            while not seen or seen[-1][("storywire_processed_total", ())] < ARTICLES:
                assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
                assert asyncio.get_running_loop().time() < deadline + 300, f"stuck at {seen[-1] if seen else None}"
                seen.append(await scrape())
                await asyncio.sleep(0.3)
            await sending
            assert await health() == 200
    finally:
        stop_worker(worker)

    received = [sample[("storywire_received_total", ())] for sample in seen]
    assert received == sorted(received), "a counter went down"
    assert len(set(received)) > 2, f"the counters did not move during the replay: {received}"
    last = seen[-1]
    assert last[("storywire_received_total", ())] == ARTICLES
    assert last[("storywire_prepared_total", ())] + last[("storywire_dead_letters_total", ())] == ARTICLES
    assert last[("storywire_appended_total", ())] > 0 and last[("storywire_rebalances_total", ())] >= 1
    assert last[("storywire_stage_seconds_count", (("stage", "prepare"),))] == ARTICLES
    assert last[("storywire_stage_seconds_count", (("stage", "place"),))] == last[("storywire_prepared_total", ())]
    assert last[("storywire_prepare_chunk_articles_sum", ())] >= ARTICLES  # each raw article went to the child
    lag_topics = {dict(labels)["topic"] for name, labels in last if name == "storywire_consumer_lag"}
    assert lag_topics == {"articles", "prepared", "story-placements"}
    assert ("storywire_sends_retried_total", ()) in last and ("storywire_last_commit_age_seconds", ()) in last
