"""Shared fixtures. A real Kafka broker for the integration tests: in Docker where an engine
answers, else a LocalKafka (streams/tools/broker.py) run from the machine-wide jar cache."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams.settings import Settings
from streams.tools.broker import LocalKafka, free_port, local_kafka
from streams.tools.harness import start_worker, stop_worker

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


KEYSTORE_PASSWORD = "keystore-secret"  # of the broker keystore `certificates` makes (a test's own, no secret)


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A certificate authority made for this session, and a broker certificate for 127.0.0.1 that it signed:
    `ca` (PEM, for clients) and `keystore` (PKCS#12 with the broker's key and certificate, for Kafka)."""
    pytest.importorskip("cryptography", reason="making a CA on the fly needs the cryptography package")
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    directory = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject: str, key, issuer: str, signer, *extensions) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(signer, hashes.SHA256())

    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = certificate("storywire test CA", ca_key, "storywire test CA", ca_key, (x509.BasicConstraints(ca=True, path_length=0), True))
    broker_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    broker = certificate(
        "127.0.0.1", broker_key, "storywire test CA", ca_key,
        (x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), False),
    )  # fmt: skip
    paths = {"ca": directory / "ca.pem", "keystore": directory / "broker.p12"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["keystore"].write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"broker", broker_key, broker, [ca], serialization.BestAvailableEncryption(KEYSTORE_PASSWORD.encode())
        )
    )
    return paths


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to one test, for its topics and consumer groups."""
    return "t-" + uuid.uuid4().hex[:10]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Any test that uses the broker is an integration test, marked or not (so `-m 'not integration'` is reliable)."""
    for item in items:
        if "kafka_bootstrap" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def settings(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path) -> Settings:
    """Settings on the session's broker, with the test's own topics and home."""
    return Settings(broker=kafka_bootstrap, topic_prefix=topic_prefix, home=tmp_path)


@pytest.fixture
def worker(settings: Settings, tmp_path: Path):
    """A real worker process on the test's topics, stopped after the test."""
    process = start_worker(settings, tmp_path / "worker.log")
    yield process
    stop_worker(process)
