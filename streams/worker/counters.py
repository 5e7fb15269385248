"""Counters a user can read while the worker runs (logged every STORYWIRE_STATS_INTERVAL seconds).

One log line per interval and one at stop, `counters received=… processed=… lag=…`; with
`--log-format json` the same numbers are also fields of the JSON object
(`"counters": {...}`), so a log shipper needs no parsing. The same numbers are the worker's
Prometheus metrics (`streams/worker/metrics.py`), read from here at each scrape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


def _count(meaning: str) -> int:
    return field(default=0, metadata={"help": meaning})


@dataclass
class Counters:
    received: int = _count("Raw messages read from the articles topic.")
    prepared: int = _count("Prepared articles handed to the story stage.")
    appended: int = _count("Articles that appended an entry to a story (a merge entry they caused is not counted).")
    duplicates: int = _count("Duplicate verdicts (exact, near, and redeliveries).")
    redeliveries: int = _count("Duplicate verdicts for an article seen again (a replayed feed, a redelivery after a crash).")
    dead_letters: int = _count("Payloads sent to the dead-letter topic, from either stage.")
    rebalances: int = _count("Consumer group rebalances this worker went through, its first join included.")
    sends_retried: int = _count("Sends to Kafka made again after a failure (a broker lost, a leader moving).")
    # Messages waiting on the broker for this worker, per input topic (end offset minus the next offset to
    # process, over the partitions this worker holds); None until known (or while the broker does not answer).
    lag: dict[str, int | None] = field(default_factory=dict)

    @property
    def processed(self) -> int:
        """Articles finished with: an entry appended, a duplicate verdict, or a dead letter."""
        return self.appended + self.duplicates + self.dead_letters

    @classmethod
    def meanings(cls) -> dict[str, str]:
        """What each count means, by name, `processed` included (the help text of the metrics)."""
        counts = {f.name: f.metadata["help"] for f in fields(cls) if "help" in f.metadata}
        return {**counts, "processed": cls.processed.__doc__}

    def as_dict(self) -> dict:
        return {**asdict(self), "processed": self.processed}

    def describe(self) -> str:
        """The human form of the counter line: `received=12 prepared=11 … lag=articles:3,prepared:0,story-placements:0`."""
        values = self.as_dict()
        lag = values.pop("lag")
        parts = [f"{name}={value}" for name, value in values.items()]
        parts.append("lag=" + (",".join(f"{topic}:{'?' if n is None else n}" for topic, n in lag.items()) or "?"))
        return " ".join(parts)

