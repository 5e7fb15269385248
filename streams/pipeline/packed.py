"""Part vectors packed into arrays, so an article is compared with all its candidate stories in a few array operations.

Kept as dicts, the 40 story profiles an article is compared with lie scattered over memory, and each shared-feature
probe is a cache miss: with 100,000 live stories scoring took 1.7 times as long as with 1,000. Packed, a story is
one short block read in order, and the comparison with every candidate is one pass.

Features are identified by a stable 64-bit hash (blake2b), not Python's per-process `hash`: a story's arrays are
sorted by it and its products summed in that order, so every process (a restarted worker, another run of the same
stream) computes the same scores to the last bit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from streams.pipeline.english import WORD_CACHE_SIZE

PARTS = ("t", "e", "h")  # body terms, entities, headline terms: a feature key starts with its part's letter
_PART_INDEX = {part: index for index, part in enumerate(PARTS)}


@lru_cache(maxsize=4 * WORD_CACHE_SIZE)
def feature_hash(key: str) -> int:
    """A stable 64-bit hash whose two lowest bits are the feature's part index (so no array of parts is kept)."""
    digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little", signed=True)
    return digest & ~3 | _PART_INDEX[key[0]]


@dataclass(frozen=True, eq=False)
class Packed:
    """Unit vectors per part in one (2, n) int64 block, columns sorted by feature hash: the hashes (which hold the
    part index) and the weights (their float64 bits); and a bit per part present (a headline-only article has no
    body part). One block, not two arrays, because each array of a cold story is a cache miss of its own."""

    block: np.ndarray
    present: int  # bit i: PARTS[i] is present

    @classmethod
    def of(cls, parts: dict[str, dict[str, float]]) -> Packed:
        keys = [key for part in parts.values() for key in part]
        hashes = np.fromiter(map(feature_hash, keys), np.int64, len(keys))
        order = np.argsort(hashes)
        block = np.empty((2, len(keys)), np.int64)
        block[0] = hashes[order]
        block[1] = np.fromiter((w for part in parts.values() for w in part.values()), np.float64, len(keys))[order].view(np.int64)
        return cls(block, sum(1 << i for i, part in enumerate(PARTS) if parts.get(part)))

    @property
    def hashes(self) -> np.ndarray:
        return self.block[0]

    @property
    def weights(self) -> np.ndarray:
        return self.block[1].view(np.float64)


_PART_BITS = 1 << np.arange(len(PARTS))


def weighted_cosines(query: Packed, others: list[Packed], part_weights: np.ndarray) -> list[float]:
    """Per other vector: the weighted cosine over the parts both it and the query have, 0 when they share none.

    The products of shared features are summed per (other, part) in the other's hash order, so the result does
    not depend on the process or on the query's feature order.
    """
    if not others:
        return []
    hashes, weight_bits = np.concatenate([other.block for other in others], axis=1)
    query_hashes = query.hashes
    if not len(query_hashes) or not len(hashes):
        return [0.0] * len(others)
    at = np.minimum(np.searchsorted(query_hashes, hashes), len(query_hashes) - 1)
    products = np.where(query_hashes[at] == hashes, query.weights[at] * weight_bits.view(np.float64), 0.0)
    owner = np.repeat(np.arange(0, len(others) * len(PARTS), len(PARTS)), [other.block.shape[1] for other in others])
    dots = np.bincount(owner + (hashes & 3), weights=products, minlength=len(others) * len(PARTS))
    shared = (np.array([other.present & query.present for other in others])[:, None] & _PART_BITS) > 0
    weight = shared * part_weights
    total = weight.sum(axis=1)
    cosines = (dots.reshape(len(others), len(PARTS)) * weight).sum(axis=1) / np.where(total > 0, total, 1.0)
    return cosines.tolist()
