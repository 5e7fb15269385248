"""Exact and near-duplicate detection: pure fingerprints plus an in-memory index over them.

Two articles are the same text when their normalised word sequence is equal
(exact) or when the Jaccard similarity of their word shingles, estimated by
MinHash, is at least a threshold (near: a syndicated copy with a few words
changed). Cleaning runs first, so different site chrome around the same
reporting does not hide a copy. The index is rebuilt from the worker's table
on start, so it is derived state, never the source of truth.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from schemas.articles import SIGNATURE_VALUES
from streams.pipeline import _kernels
from streams.pipeline.english import words

SHINGLE_WORDS = 5
NUM_PERM = SIGNATURE_VALUES  # fixed by the prepared article's format: signatures stored earlier must compare
AT_THRESHOLD = 0.95  # how often a pair exactly at the near-duplicate threshold is a candidate (`bands_for`)
# Signatures are MinHash of datasketch's "affine64" scheme with its sha1 shingle hash, seed 1 and 64 permutations,
# computed in C (`minhash`; datasketch hashes and permutes through a Python call per shingle):
# the same values, so signatures stored by earlier versions still compare. The permutations h -> a*h + b
# (mod 2^64) are drawn as datasketch draws them; an odd a makes each a bijection, adding no collisions.
_random = np.random.RandomState(1)
_A = _random.randint(0, 1 << 63, NUM_PERM, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_B = _random.randint(0, 1 << 64, NUM_PERM, dtype=np.uint64)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What deduplication keeps of an article: an exact hash and a MinHash signature, as the bytes of its NUM_PERM
    64-bit values (as the kernel makes them, as the index compares them, and as the table stores them, in
    base64): a restarted worker rebuilds its index from tens of thousands of these, and as a tuple of Python
    ints each was converted twice on the way from the stored bytes to the array."""

    exact: str
    signature: bytes

    @classmethod
    def of_base64(cls, exact: str, signature: str) -> Fingerprint:
        """From the signature in base64 (`in_base64`), as a prepared article and a table row carry it."""
        return cls(exact, binascii.a2b_base64(signature))

    def in_base64(self) -> str:
        """The signature as base64 of its 64-bit values: half the bytes of a JSON list of them, and a third of
        the time to read back."""
        return base64.b64encode(self.signature).decode()

    def to_json(self) -> dict:
        return {"exact": self.exact, "signature": self.in_base64()}

    @classmethod
    def from_json(cls, data: dict) -> Fingerprint:
        return cls.of_base64(data["exact"], data["signature"])


@dataclass(frozen=True, slots=True)
class Match:
    article_id: str
    similarity: float
    kind: str  # "exact" or "near"


def minhash(joined: bytes) -> np.ndarray:
    """The MinHash signature of the word shingles (SHINGLE_WORDS words) of a text's words joined by spaces: per
    permutation, the least permuted shingle hash. A text shorter than one shingle is one. In C (`_kernels.c`):
    the first 8 bytes of each shingle's sha1, little-endian (datasketch's sha1_hash64), through the CPU's SHA
    instructions where it has them (a quarter of the time); MurmurHash3's 64-bit finalizer, which datasketch's
    affine schemes apply before permuting; then every permutation, in one pass."""
    return np.frombuffer(_kernels.minhash(joined, SHINGLE_WORDS, _A, _B), np.uint64)


def fingerprint(title: str | None, text: str) -> Fingerprint:
    """Fingerprint the reporting text (the title when there is no text: headline-only feeds)."""
    joined = " ".join(words(text) or words(title or "")).encode()
    exact = hashlib.blake2b(joined, digest_size=16).hexdigest()
    return Fingerprint(exact=exact, signature=minhash(joined).tobytes())


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated Jaccard similarity of the two shingle sets (1.0 for an exact match)."""
    if a.exact == b.exact:
        return 1.0
    return agreement(_array(a), _array(b))


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """The share of two MinHash signatures' values that agree: their estimated Jaccard similarity."""
    return float(np.count_nonzero(a == b) / NUM_PERM)


@lru_cache(maxsize=16)
def bands_for(threshold: float) -> tuple[int, int]:
    """LSH banding (bands, rows per band) under which a pair at the threshold shares a band with probability
    AT_THRESHOLD at least, checking the fewest pairs below the threshold.

    Two texts of Jaccard similarity j share a band with probability 1 - (1 - j^rows)^bands. A candidate is then
    checked on its whole signature, which costs a comparison of 64 numbers; a copy missed costs a story entry
    that is no news. So the banding is chosen for the threshold the user set, not to split the errors evenly
    (datasketch's criterion, which for 0.8 gave 5 bands of 11: a pair at 0.8 shared a band in 36 % of cases,
    at 0.84 in 55 %, and 77 of 596 synthetic copies above the threshold were placed as news). For 0.8 and 64
    permutations: 10 bands of 6, sharing a band with probability 0.95 at 0.8, 0.99 at 0.84, 0.15 at 0.5.
    """
    below = np.linspace(0, threshold, 200)
    _, _, bands, rows = min(  # a threshold so low that no banding reaches AT_THRESHOLD: the one nearest it
        (max(0.0, AT_THRESHOLD - (1 - (1 - threshold**rows) ** bands)), float(np.trapezoid(1 - (1 - below**rows) ** bands, below)), bands, rows)
        for bands in range(1, NUM_PERM + 1)
        for rows in range(1, NUM_PERM // bands + 1)
    )
    return bands, rows


def _array(fp: Fingerprint) -> np.ndarray:
    return np.frombuffer(fp.signature, dtype=np.uint64)


def _band_keys(signature: bytes, bands: int, rows: int) -> list[int]:
    """One bucket key per band: Python's hash of the band's bytes, in C (`_kernels.band_keys`; `file_bands` files an
    article under the same keys). The buckets live in this process's memory only, so a per-process hash serves (a
    collision only costs a check; candidates are checked in id order, so their order in a bucket is no matter)."""
    return _kernels.band_keys(signature, bands, rows * 8)


class DuplicateIndex:
    """Finds the earlier article an article duplicates, in time independent of how many are indexed.

    Holds the fingerprints of a window of event time (`window_seconds`): older
    ones leave the index as newer articles arrive (`add` says which), so memory
    is bounded by the window, not by history. A copy is expected within days of
    its original; a copy of an article older than the window is not recognised.
    A banded LSH over the MinHash signatures finds the candidates; kept as plain
    dicts of integer keys and compact arrays, it takes about 1 KB per article.
    """

    def __init__(self, threshold: float, window_seconds: float = float("inf")) -> None:
        self.threshold = threshold
        self.window_seconds = window_seconds
        self._banding = bands_for(threshold)
        self._exact: dict[str, str] = {}
        self._prints: dict[str, tuple[str, np.ndarray]] = {}  # article id -> (exact hash, signature)
        self._buckets: dict[int, str | list[str]] = {}  # band key -> the article, or the articles, in that bucket
        self._ages: list[tuple[float, int, str]] = []  # heap of (event time, arrival, article id)
        self._arrivals = 0
        self.clock = float("-inf")

    def __len__(self) -> int:
        return len(self._prints)

    def __contains__(self, article_id: str) -> bool:
        return article_id in self._prints

    def add(self, article_id: str, fp: Fingerprint, seen: float = 0.0) -> list[str]:
        """Index the article's fingerprint as of event time `seen`; returns the articles that left the window."""
        if article_id not in self._prints:
            self._prints[article_id] = (fp.exact, _array(fp))
            self._exact.setdefault(fp.exact, article_id)
            bands, rows = self._banding
            _kernels.file_bands(self._buckets, fp.signature, bands, rows * 8, article_id)
            self._arrivals += 1
            heapq.heappush(self._ages, (seen, self._arrivals, article_id))
        self.clock = max(self.clock, seen)
        return self._expire()

    def _expire(self) -> list[str]:
        horizon = self.clock - self.window_seconds
        gone = []
        while self._ages and self._ages[0][0] < horizon:
            _, _, article_id = heapq.heappop(self._ages)
            exact, signature = self._prints.pop(article_id)
            if self._exact.get(exact) == article_id:
                del self._exact[exact]
            for key in _band_keys(signature.tobytes(), *self._banding):
                held = self._buckets[key]
                if isinstance(held, list):
                    held.remove(article_id)
                    if len(held) == 1:
                        self._buckets[key] = held[0]
                else:
                    del self._buckets[key]
            gone.append(article_id)
        return gone

    def find(self, fp: Fingerprint) -> Match | None:
        """The most similar indexed article at or above the threshold, if any."""
        original = self._exact.get(fp.exact)
        if original is not None:
            return Match(original, 1.0, "exact")
        signature = _array(fp)
        candidates: set[str] = set()
        for key in _band_keys(fp.signature, *self._banding):
            held = self._buckets.get(key)
            if held is not None:
                candidates.update(held if isinstance(held, list) else (held,))
        best: tuple[float, str] | None = None
        for candidate in sorted(candidates):  # sorted: a tie goes to the first id, every run
            score = agreement(signature, self._prints[candidate][1])
            if score >= self.threshold and (best is None or score > best[0]):  # the exact score, not the rounded
                best = (score, candidate)
        return None if best is None else Match(best[1], round(best[0], 4), "near")
