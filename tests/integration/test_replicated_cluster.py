"""A three-broker cluster, replication 3 and min.insync.replicas 2: one broker SIGKILLed mid-stream.

The cluster is the one `storywire broker up --nodes 3` starts (and `broker down` stops). The broker that
leads the prepared topic is killed once a quarter of the stream's outcome messages are out; the third quarter
is published only after the kill and placed in full before the broker is started again, and the last quarter
only once it is back. The result equals an uninterrupted run on the same cluster, entry for entry (one raw
partition, so both runs see one order: see test_robustness.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from test_robustness import (
    LIVE_RATE,
    _assert_each_article_once,
    _assert_same,
    _assert_versions_in_order,
    _feed,
    _replay,
    _replay_live,
    _report,
    _settings,
    _settle,
    _start,
    _visible,
    _wait_visible,
    _write_feed,
)

from streams.kafka.connection import client_options
from streams.kafka.replay import replay
from streams.settings import Settings
from streams.tools.broker import free_port, local_kafka
from streams.tools.cluster import LocalCluster
from streams.tools.harness import broker_for, stop_worker
from streams.worker.context import STORY_ROWS, TABLES

# Each test chains several waits of minutes (settling, restarts) on a 2-core host: longer than the default.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

STREAM = (240, 43)  # articles, seed
REPLICATION = {"STORYWIRE_REPLICATION_FACTOR": "3", "STORYWIRE_MIN_INSYNC_REPLICAS": "2"}


def _broker_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "broker", *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> LocalCluster:
    """Three nodes from `storywire broker up --nodes 3`, in a home of this module's that shares the machine's jars."""
    machine = local_kafka(Settings())
    machine.install(progress=lambda _: None)
    home = tmp_path_factory.mktemp("cluster-home")
    (home / "kafka").mkdir()
    (home / "kafka" / machine.version).symlink_to(machine.jars_dir.parent)
    port = free_port(span=6)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORYWIRE_")}
    env |= {"STORYWIRE_HOME": str(home), "STORYWIRE_LOCAL_PORT": str(port)}
    cluster = LocalCluster(home, machine.version, port, 3)
    try:
        up = _broker_command(env, "up", "--nodes", "3")
        assert up.returncode == 0, up.stderr
        assert up.stdout.strip() == cluster.bootstrap
        status = _broker_command(env, "status", "--json")
        assert status.returncode == 0, status.stdout
        nodes = orjson.loads(status.stdout)["nodes"]
        assert [(n["id"], n["address"], n["running"]) for n in nodes] == [(i + 1, node.bootstrap, True) for i, node in enumerate(cluster.nodes)]
        assert all(isinstance(n["pid"], int) for n in nodes)
        yield cluster
    finally:
        down = _broker_command(env, "down")
        cluster.down()  # in case the command could not
    assert down.returncode == 0, down.stderr
    assert not [n for n in cluster.status()["nodes"] if n["running"]]


async def _leader_of(settings: Settings, topic: str) -> int:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return described["partitions"][0]["leader"]


async def _replication(settings: Settings, topics: list[str]) -> dict[str, tuple[int, str]]:
    """Per topic: how many replicas its partition 0 has, and its min.insync.replicas."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
        configs = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
    finally:
        await admin.close()
    min_isr = {
        resource[3]: value
        for response in configs
        for resource in response.resources
        for name, value, *_ in resource[4]
        if name == "min.insync.replicas"
    }
    return {t["topic"]: (len(t["partitions"][0]["replicas"]), min_isr.get(t["topic"])) for t in described}


async def test_demo_bench_and_evaluate_run_on_the_local_cluster_that_runs(cluster: LocalCluster):
    """Their harness takes the cluster `broker up --nodes 3` started, and leaves it running: it does not try to
    start a single node on the first node's port (which it once reported as taken by another process)."""
    base = Settings(home=cluster.dir.parent, local_port=cluster.nodes[0].port, broker=None)
    said: list[str] = []
    async with broker_for(base, said.append) as settings:
        assert settings.bootstrap == cluster.bootstrap
    assert said == [] and all(node["running"] for node in cluster.status()["nodes"])


async def test_a_broker_killed_mid_stream_changes_nothing(cluster: LocalCluster, tmp_path: Path):
    feed, ids = _feed(tmp_path, *STREAM)
    replicated = {"replication_factor": 3, "min_insync_replicas": 2}
    calm = _settings(cluster.bootstrap, tmp_path / "calm").model_copy(update=replicated)
    disturbed = _settings(cluster.bootstrap, tmp_path / "disturbed").model_copy(update=replicated)
    calm_log, log_path = tmp_path / "calm.log", tmp_path / "disturbed.log"

    worker = _start(calm, calm_log, **REPLICATION)
    try:
        await _replay(calm, feed)
        baseline = await _settle(calm, ids, (worker, calm_log))
    finally:
        stop_worker(worker)

    # Published in three parts, whatever the machine's speed: the first live, the kill a quarter into the
    # stream; the second only after the kill, placed in full while the broker is down; the last only once the
    # broker is back, so the worker goes on through its return too.
    articles = [orjson.loads(line) for line in feed.read_bytes().splitlines()]
    half, three_quarters = len(ids) // 2, 3 * len(ids) // 4
    parts = [(0, half), (half, three_quarters), (three_quarters, len(ids))]
    live, while_down, once_back = (_write_feed(tmp_path / f"part-{a}.jsonl", articles[a:b]) for a, b in parts)
    worker = _start(disturbed, log_path, **REPLICATION)
    try:
        # At half the live rate, so that the kill, a poll or two after a quarter, tends to find articles in flight.
        sending = await _replay_live(disturbed, live, worker, log_path, rate=LIVE_RATE / 2)
        victim = cluster.nodes[await _leader_of(disturbed, disturbed.topic("prepared")) - 1]
        at_kill = await _wait_visible(disturbed, len(ids) // 4, worker, log_path)
        assert victim.kill()
        # The worker goes on with one broker down: two replicas of everything remain in sync. The replay
        # rides out the loss of a broker too, the part in flight at the kill and the part sent after it.
        sent = (await sending).ids
        sent += (await replay([while_down], disturbed, LIVE_RATE, progress=lambda _: None)).ids
        await _settle(disturbed, ids[:three_quarters], (worker, log_path))
        without_it = await _visible(disturbed)
        assert not victim.node_status()["running"]  # nothing restarts a killed node but the test
        victim.up(timeout=120, progress=lambda _: None)
        sent += (await replay([once_back], disturbed, LIVE_RATE, progress=lambda _: None)).ids
        assert sent == ids
        state = await _settle(disturbed, ids, (worker, log_path))
        assert worker.poll() is None, "the worker stopped instead of going on"
    finally:
        stop_worker(worker)
    repeats = await _assert_versions_in_order(disturbed)
    _report(
        f"cluster: node {victim.node_id} killed at {at_kill} of {len(ids)} outcomes; {without_it} before it was "
        f"up; {repeats} story events sent twice"
    )

    _assert_each_article_once(state, ids)
    _assert_same(state, baseline)
    assert repeats < len(ids), "more story events sent twice than the stream has articles"

    # Every topic storywire and faust created, the tables' changelogs included, has 3 replicas and min ISR 2.
    names = ["articles", "prepared", "story-placements", "dead-letters", "duplicates", "story-events", "story-snapshots"]
    names += [f"{table}-changelog" for table in [*TABLES.values(), STORY_ROWS]]
    replication = await _replication(disturbed, [disturbed.topic(name) for name in names])
    assert replication == {disturbed.topic(name): (3, "2") for name in names}
