"""Shared fixtures. A real Kafka broker for the integration tests: in Docker where an engine
answers, else a LocalKafka (streams/broker.py) run from the machine-wide jar cache."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.settings import Settings
from streams.tools.broker import LocalKafka, free_port, local_kafka

# The Confluent image that testcontainers' KafkaContainer knows how to start (it drives
# Confluent's start scripts, not apache/kafka's); 7.9 is Apache Kafka 3.9.
KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.0"


def _docker_answers() -> bool:
    """Whether a Docker engine answers a ping within a few seconds (no engine: False, never an error).

    Asks through testcontainers' own client, so it finds the engine where testcontainers
    would (DOCKER_HOST, ~/.testcontainers.properties, the current docker context).
    """
    try:
        from testcontainers.core.docker_client import DockerClient

        client = DockerClient(timeout=3).client
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@contextlib.contextmanager
def _kafka_in_docker() -> Iterator[str]:
    try:
        from testcontainers.community.kafka import KafkaContainer
    except ImportError:  # testcontainers before the community split
        from testcontainers.kafka import KafkaContainer

    with KafkaContainer(KAFKA_IMAGE).with_kraft() as container:
        yield container.get_bootstrap_server()


@contextlib.contextmanager
def _kafka_local(home: Path) -> Iterator[str]:
    settings = Settings()
    broker = LocalKafka(
        home,
        settings.kafka_version,
        free_port(),
        jars_dir=local_kafka(settings).jars_dir,  # fetched once per machine, not per run
        detach=False,  # dies with pytest, even a killed one
    )
    try:
        yield broker.up(timeout=120)
    finally:
        broker.down()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of a Kafka broker shared by the whole test session."""
    if _docker_answers():
        with _kafka_in_docker() as bootstrap:
            yield bootstrap
    else:
        with _kafka_local(tmp_path_factory.mktemp("kafka")) as bootstrap:
            yield bootstrap


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to one test, for its topics and consumer groups."""
    return "t-" + uuid.uuid4().hex[:10]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Any test that uses the broker is an integration test, marked or not (so `-m 'not integration'` is reliable)."""
    for item in items:
        if "kafka_bootstrap" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)
