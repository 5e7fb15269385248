"""Counters a user can read while the worker runs (logged every STORYWIRE_STATS_INTERVAL seconds)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Counters:
    received: int = 0
    appended: int = 0
    duplicates: int = 0
    dead_letters: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


counters = Counters()
