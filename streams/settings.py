"""Every setting of storywire, in one place, each readable from a STORYWIRE_* environment variable."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

RECORD_OVERHEAD_BYTES = 64 * 1024  # key, headers and batch framing around a value


def bootstrap_hosts(bootstrap: str) -> list[tuple[str, int]]:
    """The (host, port) pairs of a bootstrap list ("host:port,host:port"; a host alone: Kafka's port 9092);
    raises ValueError saying what is wrong with it."""
    hosts = []
    for part in bootstrap.split(","):
        part = part.strip()
        if not part:
            continue
        host, _, port = part.rpartition(":")
        if not host:  # "host" alone: Kafka's default port
            host, port = port, "9092"
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{part!r} is not HOST:PORT (the port must be a number from 1 to 65535)")
        hosts.append((host.strip("[]"), int(port)))
    if not hosts:
        raise ValueError(f"no host:port in {bootstrap!r}")
    return hosts


def _default_home() -> Path:
    return Path.home() / ".cache" / "storywire"


class Settings(BaseSettings):
    """Settings for the worker, the CLI and the local broker.

    Topic names share one prefix so that tests (and several deployments on one
    cluster) can run side by side without seeing each other's messages.
    """

    # Inputs stay out of validation errors: they may hold a password.
    model_config = SettingsConfigDict(env_prefix="STORYWIRE_", frozen=True, hide_input_in_errors=True)

    broker: str | None = Field(
        default=None,
        description="Kafka bootstrap servers (host:port[,host:port]); unset means the local broker.",
    )
    topic_prefix: str = Field(default="storywire", description="Prefix of every topic and of the consumer group.")
    partitions: int = Field(default=4, ge=1, description="Partitions of the raw articles topic.")
    home: Path = Field(default_factory=_default_home, description="Cache for Kafka jars, broker data and worker state.")
    store: Literal["rocksdb://", "memory://"] = Field(
        default="rocksdb://",
        description="faust table store: rocksdb:// keeps tables on disk (bounded memory, quick restarts); memory:// for tests.",
    )

    # Connection security, applied to every client (streams/kafka/connection.py): the worker, replay, follow,
    # subscribe, stories, web, demo, bench, evaluate and topic creation. Secrets are SecretStr: never printed, not even in errors.
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How clients talk to the brokers: SASL_SSL on most managed clusters."
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        default="PLAIN", description="SASL mechanism, with SASL_PLAINTEXT or SASL_SSL."
    )
    sasl_username: str | None = Field(default=None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(default=None, description="SASL password.")
    ssl_cafile: FilePath | None = Field(
        default=None, description="CA certificates (PEM) the brokers' certificates are checked against; unset: the system's."
    )
    ssl_certfile: FilePath | None = Field(default=None, description="Client certificate (PEM), for clusters that want one.")
    ssl_keyfile: FilePath | None = Field(default=None, description="Private key (PEM) of the client certificate.")
    ssl_key_password: SecretStr | None = Field(default=None, description="Password of an encrypted client key.")
    ssl_check_hostname: bool = Field(
        default=True, description="Check that a broker's certificate names the host connected to."
    )

    # Replication of every topic storywire creates, table changelogs included. 1 suits the local single broker;
    # on a cluster, 3 and 2: an acknowledged write (acks=all) is then on two brokers at least, and one broker
    # can fail without losing data or stopping writes.
    replication_factor: int = Field(default=1, ge=1, description="Replicas of every topic storywire creates.")
    min_insync_replicas: int = Field(
        default=1, ge=1, description="Replicas that must have a write before it is acknowledged (min.insync.replicas)."
    )

    # Monitoring: Prometheus metrics and a health check, served by the worker.
    metrics_host: str = Field(default="127.0.0.1", description="Address the worker serves /metrics and /health on.")
    metrics_port: int = Field(default=6066, ge=1, le=65535, description="Port of /metrics and /health.")
    health_max_commit_age: float = Field(
        default=60.0,
        gt=0,
        description="Seconds without a completed offset commit after which /health answers 503 (commits run every "
        "few seconds while the worker is healthy, whether or not there is anything new).",
    )

    # Local broker (used where no --broker / STORYWIRE_BROKER is given).
    kafka_version: str = Field(default="3.9.1", description="Apache Kafka version fetched from Maven Central.")
    local_port: int = Field(
        default=19092, ge=1, le=65534, description="Port of the local broker on 127.0.0.1 (its controller takes the next)."
    )

    prepare_processes: int = Field(
        default=1,
        ge=0,
        description="Child processes a worker prepares articles in, so preparing does not take the core that "
        "placing needs; 0 prepares in the worker's own process. One fewer than the machine's cores is a good "
        "value where the broker runs elsewhere.",
    )
    prepare_in_flight: int = Field(
        default=500,
        ge=1,
        description="Prepared articles a worker may have sent but not yet seen confirmed by the broker; "
        "more overlaps the broker's round trips with the work, at the cost of more to redo after a crash.",
    )
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = Field(
        default="zstd",
        description="Compression of what the worker sends (prepared articles, story events, snapshots, verdicts, "
        "table changelogs). The story events and verdicts are kept for good, so zstd keeps the log small on disk "
        "(a quarter smaller than lz4, and less of the worker's CPU than aiokafka's lz4, which is LZ4-HC); none "
        "costs less CPU in the worker and the broker, where disk and network are plentiful. Consumers need "
        "Kafka 2.1 clients or later for zstd.",
    )
    producer_linger_ms: int = Field(
        default=5,
        ge=0,
        description="Milliseconds the worker's producer waits for more messages before a produce request, for "
        "the messages it sends one at a time (sent again after a failed batch). The stages' own output (prepared "
        "articles, a place batch's entries, snapshots, verdicts and table changelogs) goes as whole batches, "
        "which do not wait. 0 sends at once.",
    )
    place_linger_ms: int = Field(
        default=20,
        ge=0,
        description="Milliseconds the place stage gathers articles into a batch, from its first article, before it "
        "writes and publishes them (a full batch goes at once; one that gathered while the batch before was "
        "written goes at once if it waited that long already). Fewer, larger batches cost the worker and the "
        "broker less per article; an article on a quiet stream waits this long more. 0 writes at once.",
    )
    stats_interval: float = Field(default=10.0, gt=0, description="Seconds between counter log lines of the worker.")

    # `storywire follow`: polling RSS/Atom feeds over HTTP.
    follow_interval: float = Field(default=300.0, gt=0, description="Seconds between two polls of a feed that answers.")
    follow_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a feed has to answer a poll in full; a slower one counts as failed."
    )
    follow_max_backoff: float = Field(
        default=3600.0,
        gt=0,
        description="Longest wait before polling a failing feed again (the wait doubles with each failure in a row); "
        "a Retry-After of up to a day is honoured even when longer.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="Worker log lines: faust's text, or one JSON object per line."
    )
    web_stories: int = Field(
        default=2000,
        ge=1,
        description="Stories `storywire web` holds in memory, the most recently active; the others stay on the topics.",
    )

    # Text limits.
    max_article_bytes: int = Field(default=2_000_000, ge=1, description="Articles larger than this go to dead letters.")
    max_message_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Largest raw message the articles topic accepts. Larger than max_article_bytes on purpose: "
        "an oversized article still reaches the worker and becomes a dead letter with a reason.",
    )
    prepared_max_message_bytes: int | None = Field(
        default=None,
        ge=1024,
        description="max.message.bytes of the internal prepared topic, and the largest message the worker sends. "
        "Unset: twice max_article_bytes plus framing (a prepared article keeps the raw article's unknown fields, "
        "up to its size, with the facts and terms found in it). "
        "On a cluster that caps message sizes, set this and max_message_bytes to the cap: articles too large for "
        "it become dead letters.",
    )

    # Deduplication: Jaccard similarity of word shingles above which two articles are the same text.
    near_duplicate_similarity: float = Field(default=0.8, gt=0, le=1)

    # Clustering.
    join_threshold: float = Field(
        default=0.25, gt=0, lt=1, description="Minimum score for an article to join an existing story."
    )
    story_half_life_hours: float = Field(
        default=36.0, gt=0, description="A quiet story's score halves every this many hours."
    )
    story_window_days: float = Field(
        default=7.0,
        gt=0,
        description="Stories quiet for longer, in event time, leave the hot index and memory (they stay on disk "
        "and on the topics, but take no new articles).",
    )
    dedup_window_days: float = Field(
        default=30.0,
        gt=0,
        description="Fingerprints older than this, in event time, leave the near-duplicate index: a copy of an "
        "older article is placed like any article (a redelivery of the same article id is still recognised).",
    )

    @field_validator("broker")
    @classmethod
    def _host_ports(cls, value: str | None) -> str | None:
        if value is not None:
            bootstrap_hosts(value)
        return value

    @field_validator("security_protocol", "sasl_mechanism", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.security_protocol.startswith("SASL_") and (not self.sasl_username or self.sasl_password is None):
            raise ValueError(
                f"security protocol {self.security_protocol} needs STORYWIRE_SASL_USERNAME and STORYWIRE_SASL_PASSWORD"
            )
        if self.min_insync_replicas > self.replication_factor:
            raise ValueError(
                f"min_insync_replicas ({self.min_insync_replicas}) is more than replication_factor "
                f"({self.replication_factor}): no write could ever be acknowledged"
            )
        return self

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}-{name}"

    @property
    def worker_dir(self) -> Path:
        """Where this deployment's workers keep their table stores (one slot per worker process)."""
        return self.home / "worker" / self.topic_prefix

    @property
    def tables_on_disk(self) -> bool:
        """The worker's tables are in RocksDB, so they outlive the process (and the place stage keeps a journal)."""
        return self.store.startswith("rocksdb")

    @property
    def max_prepared_bytes(self) -> int:
        """The prepared topic's message limit: as set, else room for what a prepared article keeps of its raw
        article (its unknown fields, up to its size) and the facts and terms found in it."""
        return self.prepared_max_message_bytes or 2 * self.max_article_bytes + RECORD_OVERHEAD_BYTES

    @property
    def local_bootstrap(self) -> str:
        return f"127.0.0.1:{self.local_port}"

    @property
    def bootstrap(self) -> str:
        return self.broker or self.local_bootstrap
