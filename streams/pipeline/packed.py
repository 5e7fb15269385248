"""Part vectors packed into one block of bytes, so an article is compared with all its candidate stories in one
pass (in C: `_kernels.c`, a merge of two sorted runs of hashes per story).

Kept as dicts, the 40 story profiles an article is compared with lie scattered over memory, and each shared-feature
probe is a cache miss: with 100,000 live stories scoring took 1.7 times as long as with 1,000. Packed, a story is
one short block read in order, and the comparison with every candidate is one pass.

Features are identified by a stable 64-bit hash (blake2b), not Python's per-process `hash`: a story's block is
sorted by it and its products summed in that order, so every process (a restarted worker, another run of the same
stream) computes the same scores to the last bit.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from streams.pipeline import _kernels
from streams.pipeline.english import WORD_CACHE_SIZE, ComputedTable
from streams.pipeline.features import feature_idf

PARTS = ("t", "e", "h")  # body terms, entities, headline terms: a feature key starts with its part's letter
_PART_INDEX = {part: index for index, part in enumerate(PARTS)}


def feature_hash(key: str) -> int:
    """A stable 64-bit hash whose two lowest bits are the feature's part index (so no array of parts is kept)."""
    digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little", signed=True)
    return digest & ~3 | _PART_INDEX[key[0]]


class FeatureNumbers(ComputedTable):
    """Feature -> what the kernels need of it, its IDF and its stable hash, as 16 bytes (float64, int64) they read in
    place: one lookup per feature, for the few hundred features a story's profile is re-weighed over on every
    article it gains. As two cached functions, they were two calls per feature, each moving an entry of its LRU
    list, and a tenth of placing an article (perf). Bounded as every ComputedTable is."""

    def __init__(self, capacity: int) -> None:
        super().__init__(_feature_numbers, capacity)


def _feature_numbers(key: str) -> bytes:
    return struct.pack("dq", feature_idf(key), feature_hash(key))


FEATURE_NUMBERS = FeatureNumbers(2 * WORD_CACHE_SIZE)


@dataclass(frozen=True, eq=False, slots=True)
class Packed:
    """Unit vectors per part in one (2, n) int64 block, columns sorted by feature hash: the hashes (which hold the
    part index) and the weights (their float64 bits); and a bit per part present (a headline-only article has no
    body part). One block of bytes, not two arrays (nor an array object over them), because scoring reads 40 cold
    profiles per article, and each object between a profile and its numbers is one more read from memory."""

    data: bytes  # the (2, n) block's bytes, as `_kernels.c` makes and reads them
    present: int  # bit i: PARTS[i] is present

    @classmethod
    def of(cls, parts: dict[str, dict[str, float]]) -> Packed:
        return cls(*_kernels.pack(parts, FEATURE_NUMBERS))

    @property
    def block(self) -> np.ndarray:
        return np.frombuffer(self.data, np.int64).reshape(2, -1)

    @property
    def hashes(self) -> np.ndarray:
        return self.block[0]

    @property
    def weights(self) -> np.ndarray:
        return self.block[1].view(np.float64)


class PackedBlock(Protocol):
    """What scoring reads: a Packed, or a story profile, which holds its block itself (one read from memory
    fewer per candidate than through a Packed of its own), whether it is a candidate or, in the merge check,
    the query. A profile's block ends with the days its story is dated by, a column each, of a hash no
    feature has (`_kernels.refresh`), so that fading a candidate reads the block it was just compared by."""

    @property
    def data(self) -> bytes: ...

    @property
    def present(self) -> int: ...


def weighted_cosines(query: PackedBlock, others: Sequence[PackedBlock], part_weights: tuple[float, ...]) -> list[float]:
    """Per other vector: the weighted cosine over the parts both it and the query have, 0 when they share none
    (`part_weights`: one per part, in PARTS order).

    The products of shared features are summed per (other, part) in the other's hash order, so the result does
    not depend on the process or on the query's feature order. In C (`_kernels.c`): one merge of two sorted
    runs of hashes per other vector.
    """
    return _kernels.weighted_cosines(query, others, part_weights)
