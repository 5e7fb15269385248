"""The broker the tests and `storywire broker` rely on: real Kafka, started and stopped by streams/tools/broker.py."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.settings import Settings
from streams.tools.bench import jit_compiler_threads
from streams.tools.broker import (
    BrokerUnavailable,
    LocalKafka,
    free_port,
    local_kafka,
    wait_for_broker,
)
from streams.tools.cluster import LocalCluster


async def _produce(bootstrap: str, topic: str, key: bytes, value: bytes) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        meta = await producer.send_and_wait(topic, value, key=key, headers=[("kind", b"test")])
        return meta.offset
    finally:
        await producer.stop()


async def _consume_all(bootstrap: str, topic: str, timeout: float = 20) -> list[tuple[bytes | None, bytes | None]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        records: list[tuple[bytes | None, bytes | None]] = []
        deadline = time.monotonic() + timeout
        while len(records) < end and time.monotonic() < deadline:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            records += [(r.key, r.value) for r in batch.get(tp, [])]
        return records
    finally:
        await consumer.stop()


@pytest.mark.integration
async def test_produce_and_consume_on_session_broker(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}-roundtrip"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()

    offset = await _produce(kafka_bootstrap, topic, b"story-1", "Über die Brücke".encode())
    assert offset == 0

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{topic_prefix}-group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
        await consumer.commit()
        tp = TopicPartition(topic, 0)
        assert await consumer.committed(tp) == 1  # the group coordinator works too
    finally:
        await consumer.stop()
    assert (record.topic, record.offset, record.key) == (topic, 0, b"story-1")
    assert record.value.decode() == "Über die Brücke"
    assert list(record.headers) == [("kind", b"test")]


@pytest.mark.integration
def test_second_local_kafka_up_status_down_keeps_data(tmp_path: Path, topic_prefix: str) -> None:
    settings = Settings()
    broker = LocalKafka(tmp_path, settings.kafka_version, free_port(), jars_dir=local_kafka(settings).jars_dir)
    assert broker.status()["running"] is False
    try:
        started = time.monotonic()
        bootstrap = broker.up(timeout=90)
        took = time.monotonic() - started
        assert bootstrap == f"127.0.0.1:{broker.port}"
        print(f"cold up() with cached jars took {took:.1f}s")

        status = broker.status()
        assert status["running"] is True and status["listening"] is True
        assert status["bootstrap"] == bootstrap
        assert status["version"] == settings.kafka_version
        assert Path(status["data_dir"]) == tmp_path / f"broker-{broker.port}" / "data"
        assert (Path(status["data_dir"]) / "meta.properties").is_file()  # formatted for KRaft
        pid = status["pid"]
        assert isinstance(pid, int)
        compilers = {name[:2] for name in jit_compiler_threads(pid).values()}
        assert compilers == {"C1"}  # HotSpot's quick compiler alone (LocalKafka._java_cmd says why)

        # up() on a running broker is a no-op: same process, no second JVM.
        assert broker.up(timeout=30) == bootstrap
        assert broker.status()["pid"] == pid
        # So is up() from another handle on the same home (what a second CLI call does).
        again = LocalKafka(tmp_path, settings.kafka_version, broker.port, jars_dir=broker.jars_dir)
        assert again.up(timeout=30) == bootstrap
        assert again.status()["pid"] == pid

        # Data survives a restart (clean stop, new process, same data dir).
        topic = f"{topic_prefix}-kept"
        asyncio.run(_produce(bootstrap, topic, b"k", b"kept across restart"))
        broker.restart(timeout=90)
        assert broker.status()["pid"] != pid
        assert asyncio.run(_consume_all(bootstrap, topic)) == [(b"k", b"kept across restart")]

        assert broker.down() is True
        status = broker.status()
        assert status["running"] is False and status["pid"] is None and status["listening"] is False
        assert not broker.pid_file.exists()
        assert broker.down() is False  # stopping a stopped broker is no error
        assert "Kafka Server started" in broker.log_file.read_text()  # logged to the file, not stdout
    finally:
        broker.down()


async def test_wait_for_broker_on_closed_port_raises_within_timeout() -> None:
    port = free_port()  # free: nothing listens there
    address = f"127.0.0.1:{port}"
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable) as info:
        await wait_for_broker(address, timeout=1.5)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 5.0  # the timeout, with room for a loaded host
    assert str(info.value).startswith(f"cannot reach Kafka at {address}: ")
    assert "refused" in str(info.value)
    assert info.value.bootstrap == address


@pytest.mark.parametrize("nodes", [1, 3])
def test_the_start_timeout_counts_from_when_the_jars_are_in_place(tmp_path: Path, monkeypatch, nodes: int) -> None:
    """A first run fetches the jars before it starts anything, which on a slow network can take longer than the
    start is given: the start must still get its whole time. The fetch, the launch and the wait are stand-ins."""
    left: list[float] = []
    monkeypatch.setattr(LocalKafka, "install", lambda self, progress: time.sleep(1.5))
    monkeypatch.setattr(LocalKafka, "_launch", lambda self, java, progress: (os.getpid(), 0, False))
    monkeypatch.setattr(
        LocalKafka, "_wait_ready", lambda self, pid, deadline, timeout, log_start: left.append(deadline - time.monotonic())
    )
    broker = LocalKafka(tmp_path, "3.9.1", 21100) if nodes == 1 else LocalCluster(tmp_path, "3.9.1", 21100, nodes)
    broker.up(timeout=1.0, progress=lambda _: None)
    assert len(left) == nodes
    assert all(0.5 < seconds <= 1.0 for seconds in left), left  # before: 1.0 - 1.5, so each wait had none left


def test_a_local_cluster_s_nodes_know_each_other_and_replicate_kafka_s_internal_topics(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path, "3.9.1", 21000, 3)
    properties = [node._server_properties() for node in cluster.nodes]
    assert cluster.bootstrap == "127.0.0.1:21000,127.0.0.1:21002,127.0.0.1:21004"
    assert [p["node.id"] for p in properties] == [1, 2, 3]
    assert {p["controller.quorum.voters"] for p in properties} == {"1@127.0.0.1:21001,2@127.0.0.1:21003,3@127.0.0.1:21005"}
    assert all(p["offsets.topic.replication.factor"] == 3 and p["min.insync.replicas"] == 2 for p in properties)
    assert len({node.dir for node in cluster.nodes}) == 3
    assert cluster.status()["nodes"][1] == {"id": 2, "address": "127.0.0.1:21002", "pid": None, "running": False}
    single = LocalKafka(tmp_path, "3.9.1", 21000)._server_properties()
    assert (single["node.id"], single["controller.quorum.voters"], single["min.insync.replicas"]) == (1, "1@127.0.0.1:21001", 1)
