"""Counters a user can read while the worker runs (logged every STORYWIRE_STATS_INTERVAL seconds).

One log line per interval and one at stop, `counters received=… processed=… lag=…`; with
`--log-format json` the same numbers are also fields of the JSON object
(`"counters": {...}`), so a log shipper needs no parsing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Counters:
    received: int = 0  # raw messages read from the articles topic
    prepared: int = 0  # cleaned articles handed to the story stage
    appended: int = 0  # changelog entries appended to stories
    duplicates: int = 0  # duplicate verdicts (exact, near, and redeliveries)
    redeliveries: int = 0  # of which: an article seen again (a replayed feed, a redelivery after a crash)
    dead_letters: int = 0  # payloads sent to the dead-letter topic, from either stage
    # Messages waiting on the broker for this worker, per input topic (end offset minus the next offset to
    # process, over the partitions this worker holds); None until known (or while the broker does not answer).
    lag: dict[str, int | None] = field(default_factory=dict)

    @property
    def processed(self) -> int:
        """Articles finished with: an entry appended, a duplicate verdict, or a dead letter."""
        return self.appended + self.duplicates + self.dead_letters

    def as_dict(self) -> dict:
        return {**asdict(self), "processed": self.processed}

    def describe(self) -> str:
        """The human form of the counter line: `received=12 prepared=11 … lag=articles:3,prepared:0`."""
        values = self.as_dict()
        lag = values.pop("lag")
        parts = [f"{name}={value}" for name, value in values.items()]
        parts.append("lag=" + (",".join(f"{topic}:{'?' if n is None else n}" for topic, n in lag.items()) or "?"))
        return " ".join(parts)

