"""Exact and near-duplicate detection: pure fingerprints plus an in-memory index over them.

Two articles are the same text when their normalised word sequence is equal
(exact) or when the Jaccard similarity of their word shingles, estimated by
MinHash, is at least a threshold (near: a syndicated copy with a few words
changed). Cleaning runs first, so different site chrome around the same
reporting does not hide a copy. The index is rebuilt from the worker's table
on start, so it is derived state, never the source of truth.
"""

from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH

from streams.pipeline.english import words

SHINGLE_WORDS = 5
NUM_PERM = 64
SCHEME = "affine64"  # stored signatures are only comparable under the scheme that made them
_PERMUTATIONS = MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME).permutations  # computed once, shared


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What deduplication keeps of an article: an exact hash and a MinHash signature."""

    exact: str
    signature: tuple[int, ...]

    def to_json(self) -> dict:
        return {"exact": self.exact, "signature": list(self.signature)}

    @classmethod
    def from_json(cls, data: dict) -> "Fingerprint":
        return cls(exact=data["exact"], signature=tuple(data["signature"]))


@dataclass(frozen=True, slots=True)
class Match:
    article_id: str
    similarity: float
    kind: str  # "exact" or "near"


def shingles(tokens: list[str], size: int = SHINGLE_WORDS) -> set[bytes]:
    """Overlapping word n-grams; a text shorter than one shingle is one shingle."""
    if len(tokens) <= size:
        return {" ".join(tokens).encode()}
    return {" ".join(tokens[i : i + size]).encode() for i in range(len(tokens) - size + 1)}


def fingerprint(title: str | None, text: str) -> Fingerprint:
    """Fingerprint the reporting text (the title when there is no text: headline-only feeds)."""
    tokens = words(text) or words(title or "")
    exact = hashlib.blake2b(" ".join(tokens).encode(), digest_size=16).hexdigest()
    minhash = MinHash(num_perm=NUM_PERM, seed=1, scheme=SCHEME, permutations=_PERMUTATIONS)
    minhash.update_batch(list(shingles(tokens)))
    return Fingerprint(exact=exact, signature=tuple(int(v) for v in minhash.hashvalues))


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated Jaccard similarity of the two shingle sets (1.0 for an exact match)."""
    if a.exact == b.exact:
        return 1.0
    return float(np.count_nonzero(np.array(a.signature) == np.array(b.signature)) / NUM_PERM)


class DuplicateIndex:
    """Finds the earlier article an article duplicates, in time independent of how many are indexed.

    Holds the fingerprints of a window of event time (`window_seconds`): older
    ones leave the index as newer articles arrive (`add` says which), so memory
    is bounded by the window, not by history. A copy is expected within days of
    its original; a copy of an article older than the window is not recognised.
    """

    def __init__(self, threshold: float, window_seconds: float = float("inf")) -> None:
        self.threshold = threshold
        self.window_seconds = window_seconds
        self._exact: dict[str, str] = {}
        # article id -> (exact hash, signature as a compact array): a tuple of 64 Python ints would take 5 times the memory
        self._prints: dict[str, tuple[str, np.ndarray]] = {}
        self._lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
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
            minhash = _minhash(fp)
            self._prints[article_id] = (fp.exact, minhash.hashvalues)
            self._exact.setdefault(fp.exact, article_id)
            self._lsh.insert(article_id, minhash)
            self._arrivals += 1
            heapq.heappush(self._ages, (seen, self._arrivals, article_id))
        self.clock = max(self.clock, seen)
        return self._expire()

    def _expire(self) -> list[str]:
        horizon = self.clock - self.window_seconds
        gone = []
        while self._ages and self._ages[0][0] < horizon:
            _, _, article_id = heapq.heappop(self._ages)
            exact, _ = self._prints.pop(article_id)
            if self._exact.get(exact) == article_id:
                del self._exact[exact]
            self._lsh.remove(article_id)
            gone.append(article_id)
        return gone

    def find(self, fp: Fingerprint) -> Match | None:
        """The most similar indexed article at or above the threshold, if any."""
        original = self._exact.get(fp.exact)
        if original is not None:
            return Match(original, 1.0, "exact")
        best: Match | None = None
        minhash = _minhash(fp)
        for candidate in sorted(self._lsh.query(minhash)):  # sorted: ties go to the same article every run
            score = float(np.count_nonzero(minhash.hashvalues == self._prints[candidate][1]) / NUM_PERM)
            if score >= self.threshold and (best is None or score > best.similarity):
                best = Match(candidate, round(score, 4), "near")
        return best


def _minhash(fp: Fingerprint) -> LeanMinHash:
    """A signature as datasketch wants it, without recomputing the permutations (the costly part)."""
    return LeanMinHash(seed=1, hashvalues=np.array(fp.signature, dtype=np.uint64), scheme=SCHEME)
