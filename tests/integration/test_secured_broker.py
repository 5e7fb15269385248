"""A broker that wants SCRAM credentials over SASL: in plain text, and over TLS with a CA made for the test.

The worker, replay and stories connect with the credentials. Without them, with a wrong password, or
without the CA, each fails at once with a one-line message and a non-zero exit, no traceback; and the
password appears in no output, the worker's log included.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from conftest import KEYSTORE_PASSWORD

from streams.kafka.connection import connection_env
from streams.settings import Settings
from streams.tools.broker import HOST, LocalKafka, free_port, local_kafka
from streams.tools.demo import SEEDS
from streams.tools.harness import start_worker, stop_worker, watch_outcomes

# Outcome waits of up to 420 s on a loaded host, and a broker of its own to start: longer than the default.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

USER = "storywire-app"
PASSWORD = "Zq81-pw-that-must-never-be-printed"
WRONG_PASSWORD = "Xk42-a-wrong-one-not-printed-either"
SCRAM = "org.apache.kafka.common.security.scram.ScramLoginModule required;"


class SecuredKafka:
    """The broker, and where each of its listeners is."""

    def __init__(self, broker: LocalKafka, tls: dict[str, Path] | None) -> None:
        self.broker = broker
        self.sasl_plaintext = f"{HOST}:{broker.port + 2}"
        self.sasl_ssl = f"{HOST}:{broker.port + 3}" if tls else None
        self.ca = tls["ca"] if tls else None


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> SecuredKafka:
    """One broker: its plain listener (for the broker's own use), SASL_PLAINTEXT, and SASL_SSL where a CA can be made."""
    try:
        tls = request.getfixturevalue("certificates")
    except pytest.skip.Exception:
        tls = None
    port = free_port(span=4)  # plain, controller, SASL_PLAINTEXT, SASL_SSL
    listeners = {"PLAINTEXT": port, "SASL_PLAINTEXT": port + 2, **({"SASL_SSL": port + 3} if tls else {})}
    properties = {
        "listeners": ",".join([*(f"{name}://{HOST}:{p}" for name, p in listeners.items()), f"CONTROLLER://{HOST}:{port + 1}"]),
        "advertised.listeners": ",".join(f"{name}://{HOST}:{p}" for name, p in listeners.items()),
        "listener.security.protocol.map": ",".join(["CONTROLLER:PLAINTEXT", *(f"{name}:{name}" for name in listeners)]),
        "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
        **{
            f"listener.name.{name.lower()}.{mechanism}.sasl.jaas.config": SCRAM
            for name in listeners
            if name != "PLAINTEXT"
            for mechanism in ("scram-sha-256", "scram-sha-512")
        },
    }
    if tls:
        properties |= {
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": tls["keystore"],
            "ssl.keystore.password": KEYSTORE_PASSWORD,
            "ssl.key.password": KEYSTORE_PASSWORD,
        }
    settings = Settings()
    broker = LocalKafka(
        tmp_path_factory.mktemp("secured-kafka"), settings.kafka_version, port, jars_dir=local_kafka(settings).jars_dir,
        detach=False, properties=properties, scram_users={USER: PASSWORD},
    )  # fmt: skip
    broker.up(timeout=120, progress=lambda _: None)
    yield SecuredKafka(broker, tls)
    broker.down()


def _settings(secured: SecuredKafka, home: Path, protocol: str, mechanism: str = "SCRAM-SHA-256", **overrides) -> Settings:
    if protocol == "SASL_SSL" and secured.sasl_ssl is None:
        pytest.skip("no CA could be made here (the cryptography package is missing)")
    fields = {
        "broker": secured.sasl_ssl if protocol == "SASL_SSL" else secured.sasl_plaintext,
        "security_protocol": protocol,
        "sasl_mechanism": mechanism,
        "sasl_username": USER,
        "sasl_password": PASSWORD,
        "ssl_cafile": secured.ca if protocol == "SASL_SSL" else None,
        "topic_prefix": "t-secured-" + home.name[-8:],
        "home": home,
        "partitions": 1,
    }
    return Settings(**(fields | overrides))


def _env(settings: Settings) -> dict[str, str]:
    """The environment of a storywire command with exactly these settings' connection (nothing inherited)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("STORYWIRE_")}
    return {
        **inherited,
        **connection_env(settings),
        "STORYWIRE_TOPIC_PREFIX": settings.topic_prefix,
        "STORYWIRE_HOME": str(settings.home),
        "STORYWIRE_METRICS_PORT": str(free_port()),
    }


def _storywire(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args], env=_env(settings), capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.parametrize(("protocol", "mechanism"), [("SASL_PLAINTEXT", "SCRAM-SHA-256"), ("SASL_SSL", "SCRAM-SHA-512")])
async def test_worker_replay_and_stories_connect_with_the_credentials(secured, tmp_path, monkeypatch, protocol, mechanism):
    settings = _settings(secured, tmp_path, protocol, mechanism)
    for name in [k for k in os.environ if k.startswith("STORYWIRE_")]:
        monkeypatch.delenv(name)  # the worker gets exactly the settings' connection
    for name, value in _env(settings).items():
        monkeypatch.setenv(name, value)
    log_path = tmp_path / "worker.log"
    worker = start_worker(settings, log_path)
    try:
        replayed = _storywire(settings, "replay", str(SEEDS))
        assert replayed.returncode == 0, replayed.stderr
        await watch_outcomes(settings, 5, timeout=420, worker=worker)
        stories = _storywire(settings, "stories", "--json")
    finally:
        stop_worker(worker)
    assert stories.returncode == 0, stories.stderr
    state = orjson.loads(stories.stdout)
    placed = [a for story in state["stories"] for a in story["article_ids"]]
    assert len(placed) + len(state["duplicates"]) + len(state["dead_letters"]) == 5
    assert placed, "the seeds are articles: some must be placed in stories"
    outputs = [replayed.stdout, replayed.stderr, stories.stdout, stories.stderr, log_path.read_text(errors="replace")]
    assert not [text for text in outputs if PASSWORD in text]


FAILURES = {
    # what is wrong: (settings overrides, what the message must say)
    "no credentials": ({"security_protocol": "PLAINTEXT", "sasl_username": None, "sasl_password": None}, "wants authentication"),
    "a wrong password": ({"sasl_password": WRONG_PASSWORD}, "authentication as 'storywire-app' with SCRAM-SHA-256 failed"),
    "no CA for TLS": ({"ssl_cafile": None}, "TLS handshake failed"),
}
COMMANDS = {"worker": ("worker",), "replay": ("replay", str(SEEDS)), "stories": ("stories", "--json")}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("failure", FAILURES)
def test_without_working_credentials_each_command_fails_fast_with_a_clear_message(secured, tmp_path, failure, command):
    overrides, message = FAILURES[failure]
    protocol = "SASL_SSL" if failure == "no CA for TLS" else "SASL_PLAINTEXT"
    settings = _settings(secured, tmp_path, protocol, **overrides)
    result = _storywire(settings, *COMMANDS[command])
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("storywire: ") and "refused the connection" in result.stderr, result.stderr
    assert message in result.stderr, result.stderr
    assert PASSWORD not in result.stdout + result.stderr and WRONG_PASSWORD not in result.stdout + result.stderr
