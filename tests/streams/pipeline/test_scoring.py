"""The C scoring kernels against numpy: the same scores to the last bit, so a score never depends on which
code computed it (the kernels replaced numpy code whose results the stored stories were placed with)."""

import random

import numpy as np
import pytest

from streams.pipeline import _scoring
from streams.pipeline.packed import PARTS, Packed

PART_WEIGHTS = (0.45, 0.35, 0.2)


def numpy_weighted_cosines(query: Packed, others: list[Packed]) -> list[float]:
    hashes, weight_bits = np.concatenate([other.block for other in others], axis=1)
    at = np.minimum(np.searchsorted(query.hashes, hashes), len(query.hashes) - 1)
    products = np.where(query.hashes[at] == hashes, query.weights[at] * weight_bits.view(np.float64), 0.0)
    owner = np.repeat(np.arange(0, len(others) * len(PARTS), len(PARTS)), [other.block.shape[1] for other in others])
    dots = np.bincount(owner + (hashes & 3), weights=products, minlength=len(others) * len(PARTS))
    shared = (np.array([other.present & query.present for other in others])[:, None] & (1 << np.arange(3))) > 0
    weight = shared * np.array(PART_WEIGHTS)
    total = weight.sum(axis=1)
    return ((dots.reshape(len(others), len(PARTS)) * weight).sum(axis=1) / np.where(total > 0, total, 1.0)).tolist()


def numpy_fades(dates: list[float], stories_days: list[np.ndarray], half_life: float) -> list[float]:
    gaps = [np.abs(days[:, None] - np.array(dates)).min() if len(days) else 0.0 for days in stories_days]
    return [0.5 ** (max(gap - 1, 0) / half_life) for gap in gaps]


def random_vector(rng: random.Random, vocabulary: list[str]) -> Packed:
    parts = {}
    for part in rng.sample(PARTS, rng.randint(1, 3)):
        keys = rng.sample(vocabulary, rng.randint(1, 40))
        weights = {f"{part}:{key}": rng.random() for key in keys}
        norm = sum(w * w for w in weights.values()) ** 0.5
        parts[part] = {key: w / norm for key, w in weights.items()}
    return Packed.of(parts)


def test_cosines_and_fades_are_numpys_to_the_last_bit():
    rng = random.Random(5)
    vocabulary = [f"w{n}" for n in range(120)]
    for _ in range(300):
        query = random_vector(rng, vocabulary)
        others = [random_vector(rng, vocabulary) for _ in range(rng.randint(1, 40))]
        assert _scoring.weighted_cosines(query, others, PART_WEIGHTS) == numpy_weighted_cosines(query, others)
        dates = [rng.uniform(18_000, 20_000) for _ in range(rng.randint(1, 2))]
        stories_days = [np.array(sorted(rng.uniform(18_000, 20_000) for _ in range(rng.randint(0, 8)))) for _ in others]
        assert _scoring.fades(dates, stories_days, 1.5) == numpy_fades(dates, stories_days, 1.5)


def test_what_is_not_packed_is_refused_not_misread():
    query = Packed.of({"t": {"t:flood": 1.0}})
    with pytest.raises(ValueError):
        _scoring.weighted_cosines(query, [query], (1.0, 1.0))  # a weight per part
    with pytest.raises(ValueError):
        _scoring.fades([1.0], [np.arange(8.0)[::2]], 1.5)  # days not one contiguous run
    for days in (np.arange(8, dtype=np.int32), np.arange(8, dtype=np.int64)):
        with pytest.raises(ValueError):
            _scoring.fades([1.0], [days], 1.5)  # days not float64
    with pytest.raises(ValueError):
        _scoring.weighted_cosines(query, [Packed(query.block.view(np.float64), 1)], PART_WEIGHTS)
    with pytest.raises(AttributeError):
        _scoring.weighted_cosines(query, [{"t:flood": 1.0}], PART_WEIGHTS)
