"""Every setting of storywire, in one place, each readable from a STORYWIRE_* environment variable."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

RECORD_OVERHEAD_BYTES = 64 * 1024  # key, headers and batch framing around a value


def _default_home() -> Path:
    return Path.home() / ".cache" / "storywire"


class Settings(BaseSettings):
    """Settings for the worker, the CLI and the local broker.

    Topic names share one prefix so that tests (and several deployments on one
    cluster) can run side by side without seeing each other's messages.
    """

    model_config = SettingsConfigDict(env_prefix="STORYWIRE_", frozen=True)

    broker: str | None = Field(
        default=None,
        description="Kafka bootstrap servers (host:port[,host:port]); unset means the local broker.",
    )
    topic_prefix: str = Field(default="storywire", description="Prefix of every topic and of the consumer group.")
    partitions: int = Field(default=4, ge=1, description="Partitions of the raw articles topic.")
    home: Path = Field(default_factory=_default_home, description="Cache for Kafka jars, broker data and worker state.")
    store: str = Field(
        default="rocksdb://",
        description="faust table store: rocksdb:// keeps tables on disk (bounded memory, quick restarts); memory:// for tests.",
    )

    # Local broker (used where no --broker / STORYWIRE_BROKER is given).
    kafka_version: str = Field(default="3.9.1", description="Apache Kafka version fetched from Maven Central.")
    local_port: int = Field(default=19092, description="Port of the local broker on 127.0.0.1.")

    prepare_in_flight: int = Field(
        default=500,
        ge=1,
        description="Prepared articles a worker may have sent but not yet seen confirmed by the broker; "
        "more overlaps the broker's round trips with the work, at the cost of more to redo after a crash.",
    )
    stats_interval: float = Field(default=10.0, gt=0, description="Seconds between counter log lines of the worker.")
    log_format: Literal["text", "json"] = Field(
        default="text", description="Worker log lines: faust's text, or one JSON object per line."
    )

    # Text limits.
    max_article_bytes: int = Field(default=2_000_000, description="Articles larger than this go to dead letters.")
    max_message_bytes: int = Field(
        default=16 * 1024 * 1024,
        description="Largest raw message the articles topic accepts. Larger than max_article_bytes on purpose: "
        "an oversized article still reaches the worker and becomes a dead letter with a reason.",
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

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}-{name}"

    @property
    def worker_dir(self) -> Path:
        """Where this deployment's workers keep their table stores (one slot per worker process)."""
        return self.home / "worker" / self.topic_prefix

    @property
    def max_prepared_bytes(self) -> int:
        """A prepared article carries the cleaned text and the removed blocks: at most twice the raw text."""
        return 2 * self.max_article_bytes + RECORD_OVERHEAD_BYTES

    @property
    def local_bootstrap(self) -> str:
        return f"127.0.0.1:{self.local_port}"

    @property
    def bootstrap(self) -> str:
        return self.broker or self.local_bootstrap
