"""The C kernels of clustering, deduplication and fact extraction against the Python, numpy and regex they replaced:
the same results to the last bit, ties included, so no story already placed would have been placed otherwise, a
fingerprint stored before compares with one made now, and an article's facts are what they were."""

import gc
import hashlib
import math
import random
import re
import struct
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from streams.pipeline import _kernels, prepare
from streams.pipeline.clean import repair
from streams.pipeline.cluster import StoryProfile, article_parts
from streams.pipeline.dedup import _A, _B, SHINGLE_WORDS, minhash
from streams.pipeline.english import ComputedTable
from streams.pipeline.facts.document import (
    _MARK,
    _NUMBER,
    _OPENER,
    _PLAIN,
    _WORD,
    TOKEN_FORMS,
    _token_form,
)
from streams.pipeline.features import feature_idf, features, idf
from streams.pipeline.packed import (
    FEATURE_NUMBERS,
    PARTS,
    FeatureNumbers,
    Packed,
    feature_hash,
)

PART_WEIGHTS = (0.45, 0.35, 0.2)
SEEDS = [path.read_text() for path in sorted((Path(__file__).parents[3] / "seeds").glob("*.txt"))]
DAY_HASH = 2**63 - 1  # a story's days end its block, each in a column of this hash (`refresh`)


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


def with_days(packed: Packed, days: np.ndarray) -> Packed:
    """A block as `refresh` makes a story's: its features' columns, then a column per day."""
    hashes = np.concatenate([packed.hashes, np.full(len(days), DAY_HASH, np.int64)])
    weights = np.concatenate([packed.weights, np.asarray(days, np.float64)])
    return Packed(hashes.tobytes() + weights.tobytes(), packed.present)


def python_shingles(joined: bytes, size: int = SHINGLE_WORDS) -> list[bytes]:
    ends = [i for i, byte in enumerate(joined) if byte == 32]
    if len(ends) < size:
        return [joined]
    starts = [0, *(end + 1 for end in ends)]
    ends.append(len(joined))
    return [joined[starts[i] : ends[i + size - 1]] for i in range(len(ends) - size + 1)]


def numpy_minhash(joined: bytes) -> np.ndarray:
    hashes = np.frombuffer(b"".join(hashlib.sha1(s).digest()[:8] for s in python_shingles(joined)), "<u8")
    hashes = hashes ^ (hashes >> np.uint64(33))
    hashes = hashes * np.uint64(0xFF51AFD7ED558CCD)
    hashes = hashes ^ (hashes >> np.uint64(33))
    hashes = hashes * np.uint64(0xC4CEB9FE1A85EC53)
    hashes = hashes ^ (hashes >> np.uint64(33))
    return (hashes[:, None] * _A + _B).min(axis=0)


def python_found(weighted, postings, n, besides, budget, max_postings) -> list[str]:
    """The story ids of the profiles `found` ranks."""
    besides = besides.story_id if besides is not None else None
    hits: dict[str, float] = defaultdict(float)
    for negated_weight, key in sorted([(-weight, key) for key, weight in weighted.items()]):
        stories = postings.get(key)
        if not stories or len(stories) > min(budget, max_postings):
            continue
        budget -= len(stories)
        for story_id in stories.values():
            hits[story_id] -= negated_weight
        if not budget:
            break
    hits.pop(besides, None)
    return [story_id for _, story_id in sorted(zip(hits.values(), hits), reverse=True)[:n]]


def kernel_postings(postings: dict[str, dict[StoryProfile, str]], order=None) -> tuple[_kernels.Postings, dict]:
    """The kernels' postings of these (feature -> {profile: story id}), each story entered under its features, in
    `order` (default: as first met); and each story's row."""
    features_of: dict[StoryProfile, dict[str, float]] = defaultdict(dict)
    for key, stories in postings.items():
        for story in stories:
            features_of[story][key] = 1.0
    table = _kernels.Postings()
    rows = {story: table.enter(story, story.story_id, features_of[story]) for story in order or features_of if story in features_of}
    return table, rows


def python_strongest(vector: dict[str, float], n: int) -> dict[str, float]:
    if len(vector) <= n:
        return vector
    return {key: weight for weight, key in sorted(zip(vector.values(), vector), reverse=True)[:n]}


def python_by_part(vector: dict[str, float]) -> dict[str, dict[str, float]]:
    """`features.by_part` as it was: the vector split by part, the parts in the order they first appear."""
    parts: dict[str, dict[str, float]] = defaultdict(dict)
    for key, value in vector.items():
        parts[key[0]][key] = value
    return parts


def python_unit_vector(vector: dict[str, float]) -> dict[str, float]:
    """`features.unit_vector` as it ran on Python 3.11, whose `sum` added the squares one by one (3.12's
    compensates); {} for a vector of norm 0."""
    squares = 0.0
    for weight in vector.values():
        squares += weight * weight
    norm = math.sqrt(squares)
    return {key: weight / norm for key, weight in vector.items()} if norm else {}


def python_refresh(counts: dict[str, int], per_part: int, posting: int, days: list[float]):
    """StoryProfile._refresh as it was in Python (the sums of squares taken in order, as Python 3.11's sum), its
    block followed by the story's days."""
    kept, parts = {}, {}
    for part, weights in python_by_part({key: (1 + math.log(n)) * feature_idf(key) for key, n in counts.items()}).items():
        top = python_strongest(weights, per_part)
        kept.update((key, counts[key]) for key in top)
        parts[part] = python_unit_vector(top)
    keys = [key for part in parts.values() for key in part]
    hashes = np.array([feature_hash(key) for key in keys], np.int64)
    order = np.argsort(hashes)
    weights = np.array([w for part in parts.values() for w in part.values()], np.float64)[order]
    block = np.stack([hashes[order], weights.view(np.int64)]) if keys else np.empty((2, 0), np.int64)
    block = np.concatenate([block, np.stack([np.full(len(days), DAY_HASH), np.array(days, np.float64).view(np.int64)])], axis=1)
    present = sum(1 << i for i, part in enumerate(PARTS) if parts.get(part))
    salient = {key: weight for part in parts.values() for key, weight in python_strongest(part, posting).items()}
    return kept, block, present, salient


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
        expected = numpy_weighted_cosines(query, others)
        assert _kernels.weighted_cosines(query, others, PART_WEIGHTS) == expected
        dates = [rng.uniform(18_000, 20_000) for _ in range(rng.randint(1, 2))]
        stories_days = [np.array(sorted(rng.uniform(18_000, 20_000) for _ in range(rng.randint(0, 8)))) for _ in others]
        dated = [with_days(other, days) for other, days in zip(others, stories_days)]
        assert _kernels.fades(dates, dated, 1.5) == numpy_fades(dates, stories_days, 1.5)
        # The days at the end of a story's block are no features: the cosines are the same with them, on
        # either side (a story is the query when it is compared with others, to merge them).
        assert _kernels.weighted_cosines(query, dated, PART_WEIGHTS) == expected
        assert _kernels.weighted_cosines(with_days(query, stories_days[0]), others, PART_WEIGHTS) == expected
        assert _kernels.weighted_cosines(with_days(query, stories_days[0]), dated, PART_WEIGHTS) == expected
        # A story whose features all left it (or none came) is its days alone: no similarity, and its fade.
        undescribed = with_days(Packed.of({}), stories_days[0])
        assert _kernels.weighted_cosines(query, [undescribed], PART_WEIGHTS) == [0.0]
        assert _kernels.fades(dates, [undescribed], 1.5) == numpy_fades(dates, stories_days[:1], 1.5)


def test_candidates_are_pythons_ties_and_budget_included():
    rng = random.Random(8)
    keys = [f"t:w{n}" for n in range(60)]
    for _ in range(300):
        stories = [StoryProfile(f"s{n}") for n in range(rng.randint(1, 300))]
        postings = {key: {story: story.story_id for story in rng.sample(stories, rng.randint(1, len(stories)))} for key in rng.sample(keys, 40)}
        # Few distinct weights, so features and stories tie often.
        weighted = {key: rng.choice((0.25, 0.5, 0.75, 1.0)) for key in rng.sample(keys, rng.randint(0, 60))}
        budget, n = rng.randint(1, 400), rng.randint(0, 50)
        besides = rng.choice([None, *stories])
        expected = python_found(weighted, postings, n, besides, budget, 250)
        table, rows = kernel_postings(postings)
        assert [story.story_id for story in table.found(weighted, n, rows.get(besides, -1), budget, 250)] == expected
        # Which row a story holds, and so where it stands in a feature's postings, is no matter.
        table, rows = kernel_postings(postings, rng.sample(stories, len(stories)))
        assert [story.story_id for story in table.found(weighted, n, rows.get(besides, -1), budget, 250)] == expected


def python_best(table, weighted, n, besides, query, days) -> tuple[str | None, float]:
    """`best` as cluster.py gives it in Python: the found stories scored through their profiles (`scores`), the
    greatest score, ties to the lesser story id (`decide`)."""
    found = table.found(weighted, n, besides, 320, 250)
    cosines, pulls = _kernels.weighted_cosines(query, found, PART_WEIGHTS), _kernels.fades(days, found, 1.5)
    scored = [(story.story_id, cosine * pull) for story, cosine, pull in zip(found, cosines, pulls)]
    if not scored:
        return None, 0.0
    best = max(score for _, score in scored)
    return min(story_id for story_id, score in scored if score == best), best


def test_the_best_candidate_is_the_pythons_scores_and_decide_to_the_last_bit():
    """Scored by the block each story's row keeps, as of its last enter or move: the profile's own, for the index
    moves a story after every change to it."""
    rng = random.Random(21)
    keys = [f"{part}:w{n}" for part in PARTS for n in range(12)]
    # Few vectors and weights: stories alike, so scores tie and ties go to the lesser id.
    templates = [{key: rng.choice((0.5, 1.0)) for key in rng.sample(keys, rng.randint(1, 10))} for _ in range(8)]
    for _ in range(60):
        table, rows = _kernels.Postings(), {}
        for number in rng.sample(range(100), rng.randint(1, 30)):
            story = StoryProfile(f"s{number}")
            story.add(rng.choice(templates), 0.0, rng.sample([18_000.0, 18_002.0, 18_010.0], rng.randint(0, 2)))
            rows[story] = table.enter(story, story.story_id, story.salient)
        for _ in range(10):
            grown = rng.choice(list(rows))
            grown.add(rng.choice(templates), 0.0, [rng.choice([18_001.0, 18_030.0])])
            table.move(rows[grown], grown.salient)
            weighted = rng.choice(templates)
            besides = rng.choice([-1, *rows.values()])
            days = rng.sample([18_000.5, 18_020.0], rng.randint(0, 2))
            for query in (article_parts(weighted), grown):  # an article, or a story in the merge check
                n = rng.randint(0, 45)
                expected = python_best(table, weighted, n, besides, query, days)
                assert table.best(weighted, n, besides, 320, 250, query, PART_WEIGHTS, days, 1.5) == expected
    # A block changed with no move is not what the row scores: the row keeps the block it last read.
    story = StoryProfile("s1")
    story.add({"t:w1": 1.0}, 0.0)
    table = _kernels.Postings()
    table.enter(story, "s1", {"t:w1": 1.0})
    query = article_parts({"t:w1": 1.0})
    story.data = article_parts({"t:w2": 1.0}).data
    assert table.best({"t:w1": 1.0}, 8, -1, 320, 250, query, PART_WEIGHTS, [], 1.5) == ("s1", 1.0)
    table.move(0, {"t:w1": 1.0})
    assert table.best({"t:w1": 1.0}, 8, -1, 320, 250, query, PART_WEIGHTS, [], 1.5) == ("s1", 0.0)
    assert table.best({"t:w9": 1.0}, 8, -1, 320, 250, query, PART_WEIGHTS, [], 1.5) == (None, 0.0)  # none found
    # A story whose score is no number (dated NaN) is passed over, wherever it stands: no number reaches a threshold.
    for order in ([0.0, math.nan], [math.nan, 0.0]):
        table = _kernels.Postings()
        for number, day in enumerate(order):
            dated = StoryProfile(f"d{number}")
            dated.add({"t:w1": 1.0}, 0.0, [day])
            table.enter(dated, dated.story_id, {"t:w1": 1.0})
        best = table.best({"t:w1": 1.0}, 8, -1, 320, 250, query, PART_WEIGHTS, [0.0], 1.5)
        assert best == (f"d{order.index(0.0)}", 1.0)
    assert table.best({"t:w1": 1.0}, 8, -1, 320, 250, query, PART_WEIGHTS, [math.nan], 1.5) == (None, 0.0)


def test_the_postings_are_what_they_were_told_as_stories_come_move_and_go():
    """Rows given again, features' entries made and deleted, the table grown and then shrunk: the postings are what
    a dict of the same moves holds, and once every story has left they are empty."""
    rng = random.Random(12)
    keys = [f"{rng.choice('teh')}:w{n}" for n in range(3000)]
    table, model, rows = _kernels.Postings(), {}, {}

    def check() -> None:
        expected: dict[str, dict[StoryProfile, str]] = defaultdict(dict)
        for story, posted in model.items():
            for key in posted:
                expected[key][story] = story.story_id
        assert table.features() == dict(expected) and len(table) == len(expected)
        for key in rng.sample(keys, 100):  # and each feature's postings are found by its key
            assert set(table.found({key: 1.0}, 2000, -1, 2000, 2000)) == set(expected.get(key, ()))

    for step in range(3000):  # stories come more often than they go, then go more often than they come
        coming, live = (0.6 if step < 1500 else 0.2), list(model)
        odds = rng.random()
        if not live or odds < coming:
            story = StoryProfile(f"s{step}")
            model[story] = {key: 1.0 for key in rng.sample(keys, rng.randint(0, 36))}
            rows[story] = table.enter(story, story.story_id, model[story])
        elif odds < coming + 0.25:
            story = rng.choice(live)
            model[story] = {key: 1.0 for key in rng.sample(keys, rng.randint(0, 36))}
            table.move(rows[story], model[story])
        else:
            story = rng.choice(live)
            table.leave(rows.pop(story))
            del model[story]
        if step % 50 == 0:
            check()
        if step == 1499:
            assert len(table) > 2000  # grown from its 64 entries
        assert len(set(rows.values())) == len(rows)
    assert max(rows.values(), default=0) < 1500  # rows let go were given again
    for story in list(model):
        table.leave(rows.pop(story))
        del model[story]
        if len(model) % 20 == 0:
            check()
    assert len(table) == 0 and table.features() == {}
    assert table.found({keys[0]: 1.0}, 8, -1, 320, 250) == []


def test_a_profile_is_reweighed_and_packed_as_python_did_ties_and_order_included():
    rng = random.Random(3)
    words = [f"w{n}" for n in range(300)]  # unknown to wordfreq: one IDF for all, so weights tie often
    for _ in range(300):
        keys = [f"{rng.choice('teh')}:{word}" for word in rng.sample(words, rng.randint(0, 300))]
        counts = {key: rng.choice((1, 1, 1, 2, 3, 7)) for key in keys}
        days = sorted(rng.uniform(18_000, 20_000) for _ in range(rng.randint(0, 8)))
        kept, block, present, salient = _kernels.refresh(counts, FEATURE_NUMBERS, 80, 12, days)
        expected_kept, expected_block, expected_present, expected_salient = python_refresh(counts, 80, 12, days)
        assert list(kept.items()) == list(expected_kept.items())  # the order too: it is the next sum's order
        assert block == expected_block.tobytes()
        assert (present, list(salient.items())) == (expected_present, list(expected_salient.items()))


def python_article_parts(vector: dict[str, float]) -> Packed:
    """`cluster.article_parts` as it was in Python: the vector split by part, each part normalised as `unit_vector`
    did on Python 3.11 (its squares added one by one), then packed."""
    return Packed.of({part: python_unit_vector(weights) for part, weights in python_by_part(vector).items()})


def test_article_parts_are_the_python_they_replaced_to_the_last_bit():
    rng = random.Random(29)
    vocabulary = ["nato", "russia", "talks", "jens stoltenberg", "é"] + [f"w{i}" for i in range(200)]
    for _ in range(3_000):
        vector = {}
        for _ in range(rng.randint(0, 90)):  # the parts interleaved, as no article has them but any caller may
            weight = rng.choice([0.0, 1.0, 1e-300, rng.random(), round(rng.random(), 5)])
            vector[f"{rng.choice(PARTS)}:{rng.choice(vocabulary)}"] = weight
        ours, python = article_parts(vector), python_article_parts(vector)
        assert (ours.data, ours.present) == (python.data, python.present), vector
    for text in SEEDS:  # and the seeds' features, as placing gets them
        vector = features(text.splitlines()[0], text)
        ours, python = article_parts(vector), python_article_parts(vector)
        assert len(vector) > 40 and (ours.data, ours.present) == (python.data, python.present)
    assert article_parts({"t:flood": 0.0, "h:flood": 2.0}).present == 1 << PARTS.index("h")  # a part of norm 0 is left out
    with pytest.raises(ValueError):
        _kernels.pack_parts({"x:flood": 1.0}, FEATURE_NUMBERS)  # no such part
    with pytest.raises(TypeError):
        _kernels.pack_parts({"t:flood": "1.0"}, FEATURE_NUMBERS)
    with pytest.raises(TypeError):
        _kernels.pack_parts({"": 1.0}, FEATURE_NUMBERS)
    with pytest.raises(TypeError):
        _kernels.pack_parts([("t:flood", 1.0)], FEATURE_NUMBERS)
    with pytest.raises(TypeError):
        _kernels.pack_parts({"t:flood": 1.0}, {"t:flood": 7.0})

    class Leaving:  # a weight whose __float__ takes every weight out of the vector, itself included
        def __float__(self):
            vector.clear()
            return 3.0

    vector = {"t:flood": Leaving()}
    with pytest.raises(RuntimeError):  # the vector changed size under it: an error, not a crash
        _kernels.pack_parts(vector, FEATURE_NUMBERS)
    vector = {"".join(["t:", "flood"]): Leaving()}  # a key only the vector holds, read after its weight's __float__
    block, present = _kernels.pack({"t": vector}, FEATURE_NUMBERS)
    assert present == 1 and Packed(block, present).hashes.tolist() == [feature_hash("t:flood")]


def test_the_kernels_know_the_parts_in_packeds_order():
    for index, part in enumerate(PARTS):
        block, present = _kernels.pack({part: {f"{part}:flood": 1.0}}, FEATURE_NUMBERS)
        assert present == 1 << index
        assert _kernels.refresh({f"{part}:flood": 1}, FEATURE_NUMBERS, 80, 12, ())[2] == 1 << index


def test_what_is_not_what_the_index_holds_is_refused_not_misread():
    query = Packed.of({"t": {"t:flood": 1.0}})
    with pytest.raises(ValueError):
        _kernels.weighted_cosines(query, [query], (1.0, 1.0))  # a weight per part
    with pytest.raises(ValueError):
        _kernels.weighted_cosines(query, [Packed(query.data[:-8], 1)], PART_WEIGHTS)  # not whole columns
    with pytest.raises(ValueError):
        _kernels.fades([1.0], [Packed(query.data[:-8], 1)], 1.5)
    with pytest.raises(ValueError):
        _kernels.fades([1.0], [np.arange(8.0)], 1.5)  # days, not a story's block (an array's data is no bytes)
    with pytest.raises(TypeError):
        _kernels.refresh({"t:flood": 1}, FEATURE_NUMBERS, 80, 12, ["19000"])  # days are numbers
    with pytest.raises(AttributeError):
        _kernels.weighted_cosines(query, [{"t:flood": 1.0}], PART_WEIGHTS)
    table, rows = kernel_postings({"t:flood": {StoryProfile("s1"): "s1"}})
    with pytest.raises(TypeError):
        table.found([("t:flood", 1.0)], 8, -1, 320, 250)  # not a dict
    with pytest.raises(TypeError):
        table.best({"t:flood": 1.0}, 8, -1, 320, 250, query, PART_WEIGHTS, [])  # no half-life
    with pytest.raises(ValueError):
        table.best({"t:flood": 1.0}, 8, -1, 320, 250, query, (1.0, 1.0), [], 1.5)  # a weight per part
    with pytest.raises(ZeroDivisionError):
        table.best({"t:flood": 1.0}, 8, -1, 320, 250, query, PART_WEIGHTS, [], 0.0)
    with pytest.raises(AttributeError):
        table.best({"t:flood": 1.0}, 8, -1, 320, 250, {"t:flood": 1.0}, PART_WEIGHTS, [], 1.5)  # no block
    with pytest.raises(AttributeError):
        table.enter(object(), "s2", {"t:flood": 1.0})  # no profile: no block to score it by
    with pytest.raises(TypeError):
        table.found({"t:flood": 1}, 8, -1, 320, 250)  # not a float
    with pytest.raises(TypeError):
        table.enter(StoryProfile("s2"), "s2", [("t:flood", 1.0)])  # features are a dict
    with pytest.raises(TypeError):
        table.enter(StoryProfile("s2"), "s2", {b"t:flood": 1.0})  # of str
    with pytest.raises(KeyError):
        table.move(7, {})  # no story holds that row
    with pytest.raises(TypeError):  # story ids ranked by id that are not str
        kernel_postings({"t:flood": {StoryProfile(1): 1, StoryProfile(2): 2}})[0].found({"t:flood": 1.0}, 8, -1, 320, 250)
    assert table.features() == {"t:flood": {story: "s1" for story in rows}}  # what was refused changed nothing
    with pytest.raises(ValueError):
        _kernels.refresh({"x:flood": 1}, {"x:flood": FEATURE_NUMBERS["t:flood"]}, 80, 12, ())  # no such part
    with pytest.raises(ValueError):
        _kernels.pack({"x": {"x:flood": 1.0}}, {"x:flood": FEATURE_NUMBERS["t:flood"]})
    with pytest.raises(TypeError):  # numbers are 16 bytes, read in place
        _kernels.refresh({"t:flood": 1}, {"t:flood": FEATURE_NUMBERS["t:flood"][:8]}, 80, 12, ())
    with pytest.raises(TypeError):
        _kernels.pack({"t": {"t:flood": 1.0}}, {"t:flood": 7.0})
    with pytest.raises(TypeError):  # a table, not a function
        _kernels.pack({"t": {"t:flood": 1.0}}, feature_hash)
    with pytest.raises(KeyError):  # a plain dict computes no numbers it lacks
        _kernels.refresh({"t:flood": 1}, {}, 80, 12, ())


def kept_order(weights: dict[str, float], n: int) -> list[str]:
    """The order in which `refresh` keeps a part's n strongest features, each counted once and weighing its given
    IDF: the order every ranking of features in the kernels (`keep_strongest`) gives."""
    numbers = {key: struct.pack("dq", weight, feature_hash(key)) for key, weight in weights.items()}
    kept, *_ = _kernels.refresh(dict.fromkeys(weights, 1), numbers, n, 12, ())
    return list(kept)


def test_odd_callers_get_an_error_not_a_corrupted_worker():
    """What a review found C could do with input no caller passes today: each is an error now."""

    story = StoryProfile("s1")
    story.add({"t:flood": 1.0, "t:rain": 1.0}, 0.0)  # a block of its own (an empty profile's is b"", shared)
    table, rows = kernel_postings({"t:flood": {story: "s1"}, "t:rain": {story: "s1"}})
    before, block_before = sys.getrefcount(story), sys.getrefcount(story.data)
    winners = table.found({"t:flood": 1.0, "t:rain": 0.5}, 8, -1, 320, 250)
    assert sys.getrefcount(story) == before + 1  # read in place: the one reference given is the list's
    assert winners[0] is story and len(winners) == 1
    del winners
    table.move(rows[story], {"t:flood": 1.0})
    block = story.data  # counted through a name: an assertion's own temporaries would hold one more
    assert sys.getrefcount(block) == block_before + 1  # the block read again, the one it held let go
    table.leave(rows[story])
    assert sys.getrefcount(story) == before - 1  # the postings held it once, and let go of it
    assert sys.getrefcount(block) == block_before  # and its block

    with pytest.raises(ValueError):  # no number: the rows could not be ranked
        kernel_postings({"t:flood": {story: "s1"}})[0].found({"t:flood": math.nan}, 8, -1, 320, 250)
    ranked = kept_order({f"t:w{n}": math.nan for n in range(100)}, 8)  # in no defined order, but in bounds
    assert len(ranked) == 8
    # The orders glibc's qsort (2.36) gave rows with NaN weights, which no comparison orders: the kernels' own sorts
    # sort as it did (taken from a build that still called it).
    assert kept_order({"t:w0": 0.5, "t:w1": 1.0, "t:w2": math.nan, "t:w3": 0.5}, 3) == ["t:w2", "t:w1", "t:w0"]
    assert kept_order({"t:a": math.nan, "t:b": 1.0, "t:c": math.nan, "t:d": 0.5, "t:e": math.nan}, 3) == ["t:b", "t:d", "t:a"]
    mixed = kept_order({f"t:w{n}": (math.nan if n % 3 else n / 7) for n in range(20)}, 19)
    assert [int(key[3:]) for key in mixed] == [17, 0, 16, 1, 14, 13, 2, 11, 10, 3, 8, 7, 18, 15, 12, 9, 6, 5, 4]
    assert len(_kernels.weigh("t:", {f"w{n}": 1 for n in range(100)}, lambda term: math.nan, 8)) == 8  # all NaN, in bounds

    class Endless(dict):
        def __iter__(self):
            return iter([f"t:w{n}" for n in range(100)])

    with pytest.raises(TypeError):  # a dict of its own kind is refused: a dict's table is read in place
        _kernels.Postings().enter(story, "s1", Endless({"t:flood": 1.0}))
    bits_3 = Packed(np.array([[7], [np.float64(1.0).view(np.int64)]], np.int64).tobytes(), 1)
    with pytest.raises(ValueError):  # part 3 would be written past the three parts' sums
        _kernels.weighted_cosines(bits_3, [bits_3], PART_WEIGHTS)
    counts = {f"t:w{n}": 1 for n in range(50)}

    class Growing(FeatureNumbers):
        def __missing__(self, key):
            counts[key + "x"] = 1
            return super().__missing__(key)

    with pytest.raises(RuntimeError):  # the counts grew under the loop that had sized its buffers
        _kernels.refresh(counts, Growing(100), 80, 12, ())

    # Python code run while the kernels read their arguments (a day's __float__, a block's properties) empties
    # the list they were given: what they read stays theirs (held in a copy), so they read no freed memory.
    class Day:
        def __float__(self):
            days.clear()
            return 19_000.0

    days = [Day(), Day()]
    _, block, _, _ = _kernels.refresh({"t:flood": 1}, FEATURE_NUMBERS, 80, 12, days)
    assert np.frombuffer(block, np.float64)[-2:].tolist() == [19_000.0, 19_000.0]

    class Emptying:
        def __init__(self, packed, listed):
            self.packed, self.listed = packed, listed

        @property
        def data(self):
            self.listed.clear()
            return self.packed.data

        @property
        def present(self):
            return self.packed.present

    query = Packed.of({"t": {"t:flood": 1.0}})
    # A profile whose block, read as it enters or moves, enters other stories or makes its own row leave.
    table = _kernels.Postings()

    class Entering:
        story_id, present = "s1", 1

        @property
        def data(self):
            for n in range(100):  # enough rows to grow the table's arrays under the caller
                table.enter(StoryProfile(f"x{n}"), f"x{n}", {"t:rain": 1.0})
            return query.data

    assert table.enter(Entering(), "s1", {"t:flood": 1.0}) == 100
    assert table.best({"t:flood": 1.0}, 8, -1, 320, 250, query, PART_WEIGHTS, [], 1.5) == ("s1", 1.0)

    class Leaving:
        story_id, present, row = "s2", 1, None

        @property
        def data(self):
            if self.row is not None:
                table.leave(self.row)
            return query.data

    leaving = Leaving()
    leaving.row = table.enter(leaving, "s2", {"t:hail": 1.0})
    with pytest.raises(KeyError):  # its row is gone: nothing to move
        table.move(leaving.row, {"t:hail": 1.0})
    assert "t:hail" not in table.features()

    class Keying:  # its block's reading puts a key of no str in the features it is entered under
        story_id, present = "s3", 1

        @property
        def data(self):
            features[b"t:snow"] = 1.0
            return query.data

    features = {"t:snow": 1.0}
    with pytest.raises(TypeError):
        table.enter(Keying(), "s3", features)

    class Held(bytes):  # a block whose letting go could run code: refused
        pass

    odd = StoryProfile("s4")
    odd.data = Held(query.data)
    with pytest.raises(ValueError):
        table.enter(odd, "s4", {"t:sleet": 1.0})
    assert "t:snow" not in table.features() and "t:sleet" not in table.features()
    others: list = []
    others.extend([Emptying(query, others), Emptying(query, others)])
    assert _kernels.weighted_cosines(query, others, PART_WEIGHTS) == [1.0, 1.0]
    dated = with_days(query, [10.0])
    stories: list = []
    stories.extend([Emptying(dated, stories), Emptying(dated, stories)])
    assert _kernels.fades([10.0], stories, 1.5) == [1.0, 1.0]
    with pytest.raises(ValueError):
        _kernels.refresh({"t:flood": 0}, FEATURE_NUMBERS, 80, 12, ())  # log(0): no weight


def _made(text: str) -> str:
    return "".join(["t:", text])  # a str made at run time, held by the dict alone (no interned constant)


def test_a_key_removed_by_code_run_while_reading_the_dict_stays_alive_until_the_kernel_is_done():
    """A term's IDF (weigh) or a table's __missing__ (refresh) removes an entry already read and adds one (same
    size: not seen as a change): the removed key and value would be freed while still in use."""
    terms: dict = {}

    def removing(term: str) -> float:
        if term == "t:w":
            del terms[next(iter(terms))]  # the first entry, already read
            terms[_made("zzz")] = 1
        return {"t:bbb": 0.95, "t:w": 0.9}.get(term, 0.1)

    terms[_made("bbb")] = 1
    terms[_made("w")] = 1
    for letter in "cde":
        terms[_made(letter * 3)] = 1
    reuse = [_made(f"q{n}") for n in range(1000)]  # would take over freed memory
    top = _kernels.weigh("", terms, removing, 3)
    assert reuse and list(top)[:2] == ["t:bbb", "t:w"]

    counts = {_made("bbbb"): 2, **{_made(letter * 4): 1 for letter in "cdef"}}

    class Replacing(FeatureNumbers):
        def __missing__(self, key):
            if key == "t:cccc" and "t:zzzz" not in counts:
                del counts[next(iter(counts))]
                counts[_made("zzzz")] = 10**6
            return super().__missing__(key)

    kept, *_ = _kernels.refresh(counts, Replacing(100), 80, 12, ())
    assert kept["t:bbbb"] == 2 and set(kept) <= {"t:bbbb", "t:cccc", "t:dddd", "t:eeee", "t:ffff", "t:zzzz"}


def test_the_postings_keep_their_own_record_of_a_storys_features():
    """A caller's dict changed after `enter`: the story left only the features still in it, and its row, given to
    the next story, stayed under the others (found returned a story that had left, or a NULL)."""
    table, features = _kernels.Postings(), {"t:a": 1.0, "t:b": 1.0}
    row = table.enter(StoryProfile("s1"), "s1", features)
    del features["t:b"]
    table.leave(row)
    assert table.found({"t:b": 1.0}, 8, -1, 320, 250) == [] and table.features() == {}
    moved = {"t:c": 1.0}
    row = table.enter(StoryProfile("s2"), "s2", {"t:a": 1.0})
    table.move(row, moved)
    moved["t:d"] = 1.0
    assert set(table.features()) == {"t:c"}


def test_code_run_by_features_or_pack_that_changes_what_they_read_frees_nothing_in_use():
    """A profile's __hash__ that enters stories while `features` lists them (the table it read was reallocated),
    and a weight's __float__ or a key's __hash__ that replaces the part `pack` is reading (it was freed)."""
    table, armed = _kernels.Postings(), [False]

    class Entering(StoryProfile):
        def __hash__(self):
            if armed[0]:
                armed[0] = False
                for n in range(200):
                    table.enter(StoryProfile(f"x{n}"), f"x{n}", {f"t:g{n}_{j}": 1.0 for j in range(4)})
            return id(self) >> 4

    stories = [Entering(f"s{n}") for n in range(3)]
    for story in stories:
        table.enter(story, story.story_id, {"t:a": 1.0, "t:b": 1.0})
    armed[0] = True
    listed = table.features()
    assert {story.story_id for story in listed["t:a"]} == {"s0", "s1", "s2"} and len(table.features()) == 2 + 800

    class Part(dict):  # a dict of its own class: not taken over by the next dict made, as a plain one is
        pass

    parts: dict = {}

    class Replacing:
        def __float__(self):
            parts["t"] = {}
            return 1.0

    parts["t"] = Part({"t:w0": Replacing(), **{f"t:w{n}": 1.0 for n in range(1, 50)}})
    block, present = _kernels.pack(parts, FEATURE_NUMBERS)
    assert present == 1 and len(block) == 16 * 50  # the part as it was when pack was called

    class Clearing(str):
        def __hash__(self):
            parts.clear()
            return str.__hash__(self)

        __eq__ = str.__eq__

    parts["t"] = Part({Clearing("t:odd"): 1.0, **{f"t:w{n}": 1.0 for n in range(50)}})
    block, present = _kernels.pack(parts, FeatureNumbers(1000))
    assert present == 1 and len(block) == 16 * 51


def test_the_kernels_that_hold_what_they_read_let_go_of_it():
    key, count = _made("flood"), 10**6
    terms = {key: count, **{_made(f"w{n}"): 1 for n in range(20)}}
    before = sys.getrefcount(key), sys.getrefcount(count)
    _kernels.weigh("", terms, lambda term: 0.01 if term is key else 1.0, 8)  # the weakest: not kept
    assert (sys.getrefcount(key), sys.getrefcount(count)) == before
    counts = {key: count, **{_made(f"w{n}"): 1 for n in range(20)}}
    before = sys.getrefcount(key), sys.getrefcount(count)
    result = _kernels.refresh(counts, FEATURE_NUMBERS, 80, 12, ())
    del result
    assert (sys.getrefcount(key), sys.getrefcount(count)) == before
    with pytest.raises(ValueError):  # an error half-way lets go too
        _kernels.refresh({key: count, _made("none"): 0}, FEATURE_NUMBERS, 80, 12, ())
    assert (sys.getrefcount(key), sys.getrefcount(count)) == before


@pytest.mark.parametrize("asked", ["found", "best"])
def test_a_collection_while_the_answer_is_made_frees_no_winner(asked):
    """The winners are borrowed from the postings until held; making the answer (found's list, best's tuple) may
    collect garbage, and a collection may run Python code (here a gc callback; a finalizer or a weakref callback
    would do)."""
    weights, during, collected, table, rows = {"t:flood": 1.0}, [False], [0], None, {}
    query = article_parts(weights)
    let_go: list[str] = []

    class Id(str):  # a story id that says when it is let go: one freed while it is the answer is seen so
        def __del__(self):
            let_go.append(str(self))

    def empty_the_postings(phase, info):
        if during[0] and phase == "start":
            collected[0] += 1
            for row in rows.values():
                table.leave(row)
            rows.clear()

    thresholds = gc.get_threshold()
    gc.callbacks.append(empty_the_postings)
    try:
        for _ in range(100):
            # The postings hold the stories' only references.
            table, rows = kernel_postings({"t:flood": {StoryProfile(Id(f"s{n}")): f"s{n}" for n in range(5)}})
            # None left to reuse: the winners' pair, or list, is a new object (and a new object may start a collection).
            pairs = [(n, n) for n in range(3000)]
            lists = [[] for _ in range(100)]
            gc.set_threshold(1)
            during[0] = True
            if asked == "found":
                winners = table.found(weights, 8, -1, 320, 250)
            else:
                # Undated, by a tuple read in place: nothing is made, so nothing collected, before the answer.
                winners = table.best(weights, 8, -1, 320, 250, query, PART_WEIGHTS, (), 1.5)
            during[0] = False
            gc.set_threshold(*thresholds)
            if collected[0]:
                break
    finally:
        during[0] = False
        gc.set_threshold(*thresholds)
        gc.callbacks.remove(empty_the_postings)
    assert collected[0] and not table.features() and lists and pairs
    if asked == "found":
        assert [story.story_id for story in winners] == ["s4", "s3", "s2", "s1", "s0"] and not let_go
    else:  # every story's block is empty: all score 0, and the tie goes to the lesser id
        assert winners == ("s0", 0.0) and "s0" not in let_go and len(let_go) == 4


def test_minhash_is_the_python_it_replaced_whatever_the_bytes():
    """sha1 per shingle, MurmurHash3's finalizer and every permutation, as numpy computed them: on texts of fewer
    words than a shingle (one shingle), of multi-byte characters, of odd spacing, empty, and of random bytes."""
    rng = random.Random(5)
    vocabulary = ["café", "über", "naïve", "señor", "déjà", "vu", "terminal", "a", "x" * 70, ""]
    texts = [b"", b"too short", b"one two three four five", b"one two three four five six", b" lead", b"trail "]
    texts += [" ".join(rng.choice(vocabulary) for _ in range(rng.choice([1, 4, 5, 6, 40, 400]))).encode() for _ in range(600)]
    texts += [bytes(rng.randrange(256) for _ in range(rng.randrange(200))) for _ in range(200)]
    for text in texts:
        assert minhash(text).tolist() == numpy_minhash(text).tolist(), text[:60]
    assert python_shingles(b"one two three four five six") == [b"one two three four five", b"two three four five six"]
    with pytest.raises(ValueError):
        _kernels.minhash(b"one two", 0, _A, _B)  # a shingle of no words
    with pytest.raises(ValueError):
        _kernels.minhash(b"one two", SHINGLE_WORDS, _A, _B[:3])  # a permutation without its offset
    with pytest.raises(ValueError):
        _kernels.minhash(b"one two", SHINGLE_WORDS, _A.astype(np.float64), _B)  # not uint64
    with pytest.raises(TypeError):
        _kernels.minhash("one two", SHINGLE_WORDS, _A, _B)  # str, not the joined words' bytes


def test_sha1_of_a_shingle_is_hashlibs_through_the_sha_instructions_and_without_them():
    """The MinHash reads each shingle's SHA-1 through the CPU's SHA instructions where it has them: both ways give
    hashlib's first 8 bytes, on messages of every length up to three blocks (padding into a second block from 56
    bytes), and the instructions are used exactly where Linux reports them."""
    rng = random.Random(11)
    for length in range(200):
        for message in (bytes(rng.randrange(256) for _ in range(length)), b"x" * length):
            expected = int.from_bytes(hashlib.sha1(message).digest()[:8], "little")
            assert _kernels.sha1_hash64(message, True) == expected, length  # the portable rounds
            assert _kernels.sha1_hash64(message, False) == expected, length  # as minhash runs here
    cpuinfo = Path("/proc/cpuinfo")
    if sys.platform == "linux" and cpuinfo.exists() and "flags" in cpuinfo.read_text():
        flags = next(line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")).split()
        assert _kernels.SHA1_INSTRUCTIONS == ("sha_ni" in flags)


# The tokens of fact extraction as a regex (what `_kernels.sentence` replaced), with Python's regex engine's classes of
# characters. Possessive quantifiers (*+, ++) match what plain ones would here; they spared the engine backtracking.
TOKEN_RE = re.compile(
    r"(?=\S)(?:(?:[A-Z]\.){2,}+(?:-[^\W\d_]\w*+)*+"  # U.S., U.S.-Chinese
    r"|\d++(?:,\d{3})*+(?:\.\d+)?+(?:-[^\W\d_]\w*+)*+"  # 100,000  2.5  57-nation
    r"|[^\W\d_]\w*+(?:[-'’]\w++)*+"  # words, hyphenated words, O'Brien, Norway's
    r"|[^\w\s])"  # one punctuation character
)
# Characters at every edge of the classes: ASCII capitals, periods and commas around digits, joints, "_", control
# characters that count as spaces, spaces of other scripts, letters and digits of other scripts (decimal or not:
# "٣" is \d, "²" and "½" only \w), combining marks, title case, astral and lone surrogate code points.
_TOKEN_ALPHABET = list("AUKBZaz09.,-'’_ \t\n") + [
    "\x1c", "\x85", "\u00a0", "\u2028", "é", "ß", "İ", "٣", "²", "½", "“", "$", "%", "\u0301", "😀", "\ud800", "Ⅻ", "ǅ", "—", "…",
]  # fmt: skip


def regex_tokens(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m[0]) for m in TOKEN_RE.finditer(text, start, end)]


def _as_found(surface: str) -> tuple:
    """A token form that keeps every surface as it is (a mark): `sentence` then gives the tokens as found."""
    return surface, surface, _MARK, False, False, False, False, False, False


def kernel_tokens(text: str, start: int, end: int) -> list[tuple[int, int, str]]:
    tokens: list = []
    _kernels.sentence(text, start, end, 0, set(), ComputedTable(_as_found, 1000), tokens, [], [], [], [])
    return [(t.start, t.end, t.text) for t in tokens]


def test_tokens_are_the_regexs_on_random_text_and_on_the_seeds():
    rng = random.Random(11)
    for _ in range(50_000):
        text = "".join(rng.choice(_TOKEN_ALPHABET) for _ in range(rng.randint(0, 30)))
        start = rng.randint(0, len(text))
        end = rng.randint(start, len(text))
        assert kernel_tokens(text, start, end) == regex_tokens(text, start, end), (text, start, end)
    assert len(SEEDS) == 5
    assert all(kernel_tokens(text, 0, len(text)) == regex_tokens(text, 0, len(text)) for text in SEEDS)


def test_tokens_take_only_what_lies_between_start_and_end():
    text = "Talks in U.S.-Chinese trade, 100,000 tonnes"
    assert kernel_tokens(text, 9, 16) == [(9, 16, "U.S.-Ch")]
    assert kernel_tokens(text, 9, 13) == [(9, 13, "U.S.")] and kernel_tokens(text, 9, 12) == [(9, 10, "U"), (10, 11, "."), (11, 12, "S")]
    assert kernel_tokens(text, 29, 34) == [(29, 32, "100"), (32, 33, ","), (33, 34, "0")]
    assert kernel_tokens(text, 5, 5) == [] and kernel_tokens(text, -3, 99) == regex_tokens(text, 0, len(text))


def python_weigh(prefix: str, counts: Counter, term_idf) -> dict[str, float]:
    """`features._weigh` as it was in Python: a dict comprehension of TF-IDF weights, then `unit_vector` as it ran
    on Python 3.11, whose `sum` added the squares one by one (3.12's compensates)."""
    tf = tuple(1 + math.log(n) if n else 0.0 for n in range(256))
    return python_unit_vector(
        {f"{prefix}:{term}": (tf[n] if n < 256 else 1 + math.log(n)) * term_idf(term) for term, n in counts.items()}
    )


def test_weigh_is_the_python_it_replaced_to_the_last_bit():
    rng = random.Random(23)
    vocabulary = ["nato", "russia", "talks", "brussels", "jens stoltenberg", "é", "troops", "council"] + [f"w{i}" for i in range(300)]
    for _ in range(3_000):
        counts = Counter({rng.choice(vocabulary): rng.choice([1, 1, 2, 3, 7, 255, 256, 1000]) for _ in range(rng.randint(0, 80))})
        for prefix, term_idf in (("t", idf), ("e", feature_idf_of_name), ("h", lambda term: rng.choice([0.0, 3.5, 18.4]))):
            most = rng.choice([None, 0, 5, 60, 200])
            state = rng.getstate()
            ours = _kernels.weigh(f"{prefix}:", counts, term_idf, most)
            rng.setstate(state)  # the same IDFs for the Python
            python = python_weigh(prefix, counts, term_idf)
            python = python if most is None else python_strongest(python, most)
            assert list(ours.items()) == list(python.items()), counts
    assert _kernels.weigh("t:", Counter(), idf, None) == {} and _kernels.weigh("t:", Counter({"a": 2}), lambda term: 0.0, 5) == {}
    with pytest.raises(ValueError):
        _kernels.weigh("t:", {"a": -1}, idf, None)
    with pytest.raises(ValueError):
        _kernels.weigh("t:", {"a": 1}, idf, -1)  # keep a number of terms, or None for all
    with pytest.raises(TypeError):
        _kernels.weigh("t:", {"a": 1}, lambda term: "not a weight", None)
    with pytest.raises(ZeroDivisionError):
        _kernels.weigh("t:", {"a": 1}, lambda term: 1 / 0, None)  # the IDF's own error comes through


def test_weigh_keeps_the_largest_weights_first_and_breaks_ties_by_the_greater_key_at_any_size():
    for size in (30, 500):  # the pairs from the tenth weight up sorted (ties at the cut), a quickselect
        idfs = {f"w{i:03d}": float(i % 7 + 1) for i in range(size)}
        every = _kernels.weigh("t:", dict.fromkeys(idfs, 1), idfs.__getitem__, None)
        top = _kernels.weigh("t:", dict.fromkeys(idfs, 1), idfs.__getitem__, 10)
        expected = sorted(every, key=lambda key: (every[key], key), reverse=True)[:10]
        assert list(top) == expected and all(top[key] == every[key] for key in top)
    few = _kernels.weigh("t:", {"b": 1, "a": 1}, {"a": 2.0, "b": 1.0}.__getitem__, 10)
    assert list(few) == ["t:b", "t:a"]  # at most `most`: as weighed, in the counts' order


def feature_idf_of_name(name: str) -> float:
    return feature_idf(f"e:{name}")


def test_rounded_is_pythons_round():
    rng = random.Random(29)
    weights = {str(i): rng.random() * 10 ** rng.randint(-9, 2) * rng.choice([1, -1]) for i in range(50_000)}
    weights.update({"tie down": 2.675, "tie even": 0.125, "tiny": -0.000001, "half": 0.5e-5, "half up": 1.5e-5, "zero": 0.0})
    for digits in (0, 2, 5, 12):
        ours, python = _kernels.rounded(weights, digits), {k: round(v, digits) for k, v in weights.items()}
        assert list(ours) == list(python) and all(repr(ours[k]) == repr(python[k]) for k in weights), digits
    with pytest.raises(ValueError):
        _kernels.rounded(weights, -1)
    for not_a_weight in ("0.5", 3):  # round(3, 5) is the int 3: only floats are weights
        with pytest.raises(TypeError):
            _kernels.rounded({"a": 0.5, "b": not_a_weight}, 5)


# The words of cleaning, deduplication and clustering (`streams.pipeline.english`) as the regexes they replaced.
WORD_REGEXES = {
    _kernels.alnum_words: re.compile(r"[^\W_]+"),
    _kernels.term_tokens: re.compile(r"[^\W\d_][\w'’-]*[^\W_]|[^\W\d_]"),
    _kernels.letter_words: re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*"),
    _kernels.word_tokens: re.compile(r"\w+|[^\w\s]"),
}


def test_words_are_the_regexs_on_random_text_and_on_the_seeds():
    rng = random.Random(17)
    texts = ["".join(rng.choice(_TOKEN_ALPHABET) for _ in range(rng.randint(0, 30))) for _ in range(20_000)]
    for scan, regex in WORD_REGEXES.items():
        for text in texts + SEEDS:
            assert scan(text) == regex.findall(text), (scan.__name__, text)
        assert len(scan(SEEDS[0])) > 300


def test_every_character_is_classed_as_the_regexs_ascii_ones_from_a_table_included():
    """ASCII characters are classed from a table filled from Unicode's (`ASCII_CLASSES`), the others by Unicode's:
    each character, between letters, digits and spaces, splits the words as the regexes do."""
    for code in [*range(0x3000), *range(0x10000, 0x10400)]:
        character = chr(code)
        text = f"a{character}1 {character}b 1{character}2,{character}3.{character} {character}-{character}"
        for scan, regex in WORD_REGEXES.items():
            assert scan(text) == regex.findall(text), (scan.__name__, hex(code))
        assert kernel_tokens(text, 0, len(text)) == regex_tokens(text, 0, len(text)), hex(code)


# Character classes as regexes, and the characters `count_chars` is given for each.
CHARACTER_CLASSES = {
    r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]": repair._CONTROL_CHARS,
    r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]": repair._UNUSUAL_SPACES,
    r"[\x00-\x08\x0b\x0e-\x1f\x7f]": repair._ASCII_CONTROL_CHARS,
    r"[\x00-\x08\x0b\x0c\x0e-\x1f]": prepare._CONTROL_CHARS,
    "[İıſ]": "İıſ",
}


def test_count_chars_counts_what_a_regex_of_the_class_finds():
    rng = random.Random(5)
    alphabet = [chr(code) for code in [*range(0x100), *range(0x2000, 0x2070), 0x1680, 0x3000, 0xFEFF, 0x130, 0x131, 0x17F]]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(5_000)] + SEEDS
    for pattern, chars in CHARACTER_CLASSES.items():
        regex = re.compile(pattern)
        for text in texts:
            count = len(regex.findall(text))
            assert _kernels.count_chars(text, chars) == count, (pattern, text)
            assert _kernels.count_chars(text, chars, 1) == min(count, 1)
    assert _kernels.count_chars("ıaıbı", "ı", 2) == 2 and _kernels.count_chars("", "ab") == 0
    assert _kernels.count_chars("😀a😀", "😀") == 2 and _kernels.count_chars("aé", "") == 0
    with pytest.raises(TypeError):
        _kernels.count_chars(b"bytes", "b")


def test_word_starts_are_where_the_regex_finds_them():
    rng = random.Random(6)
    texts = ["".join(rng.choice(_TOKEN_ALPHABET + ["J", "M", "1", "İ"]) for _ in range(rng.randint(0, 30))) for _ in range(20_000)]
    for chars, digits in (("JFMASOND", True), ("JFMASOND", False), ("İ٣a", True), ("", True), ("", False)):
        digit_class = r"\d" if digits else ""
        regex = re.compile(f"[{re.escape(chars)}{digit_class}]" + r"(?<!\w.)") if chars or digits else None
        for text in texts + SEEDS:
            expected = [m.start() for m in regex.finditer(text)] if regex else []
            assert _kernels.word_starts(text, chars, digits) == expected, (chars, digits, text)
    assert _kernels.word_starts("In March 2022, 12 Jan", "JFMASOND", True) == [3, 9, 15, 18]
    with pytest.raises(TypeError):
        _kernels.word_starts(b"bytes", "b", True)


def test_sentence_terms_are_the_term_tokens_of_each_piece_the_regex_splits():
    sentence_end = re.compile(r"[.!?]['\"”’]?\s+")  # what features.sentence_tokens split on
    rng = random.Random(12)
    alphabet = _TOKEN_ALPHABET + [".", "!", "?", '"', "”", "’", "'", " ", "\n", "\u2003", "Ab"]
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(30_000)] + SEEDS
    for text in texts:
        expected = [_kernels.term_tokens(piece) for piece in sentence_end.split(text)]
        assert _kernels.sentence_terms(text) == expected, repr(text)
    assert len(_kernels.sentence_terms(SEEDS[0])) > 10
    assert _kernels.sentence_terms('He left. "Why?" she asked.’ Then ') == [["He", "left"], ["Why"], ["she", "asked"], ["Then"]]
    with pytest.raises(TypeError):
        _kernels.sentence_terms(b"bytes")

def test_words_stop_after_the_first_most():
    text = "Don't stop: U.S.-led talks, 2 rounds"
    assert _kernels.letter_words(text) == ["Don't", "stop", "U", "S", "led", "talks", "rounds"]
    assert _kernels.letter_words(text, 2) == ["Don't", "stop"] and _kernels.letter_words(text, 0) == []
    assert _kernels.word_tokens(text, 3) == ["Don", "'", "t"] and _kernels.alnum_words(text, 99) == _kernels.alnum_words(text)
    assert _kernels.term_tokens("U.S.-led talks") == ["U", "S", "led", "talks"]
    with pytest.raises(TypeError):
        _kernels.letter_words(b"bytes")


@dataclass(slots=True)
class PythonTok:
    """The token dataclass `_kernels.Token` replaced."""

    text: str
    start: int
    end: int
    low: str
    sent: int
    initial: bool = False
    poss: bool = False


def python_sentence(text, start, end, index, openers, tokens, numbers, capital_tokens, capitalised, lowercase):
    """The loop of `document._add_sentence` that `_kernels.sentence` replaced, over the regex's tokens."""
    next_initial = True
    words = capitals = capital_stopwords = 0
    scanned = iter(regex_tokens(text, start, end))
    for s, e, surface in scanned:
        word, low, kind, poss, abbreviation, capital, lower, capital_stopword, number = _token_form(surface)
        if kind == _PLAIN:
            tokens.append(PythonTok(word, s, e, low, index, next_initial, False))
            lowercase.append(word)
            next_initial = False
            words += 1
            continue
        if kind == _WORD:
            if abbreviation and e < end and text[e] == ".":
                next(scanned)
                word, low, e = word + ".", low + ".", e + 1
            else:
                if poss:
                    e -= 2
                if capital_stopword and not next_initial:
                    capital_stopwords += 1
            initial, next_initial = next_initial, False
            words += 1
            capitals += capital
        elif kind == _NUMBER:
            initial, next_initial = next_initial, False
        else:
            initial = False
            if kind == _OPENER or s in openers:
                next_initial = True
        if number:
            numbers.append(len(tokens))
        if capital:
            capital_tokens.append(len(tokens))
            if not initial:
                capitalised.append(word)
        elif lower:
            lowercase.append(word)
        tokens.append(PythonTok(word, s, e, low, index, initial, poss))
    return words, capitals, capital_stopwords


def _sentence_both_ways(text: str, start: int, end: int, openers: set[int]) -> tuple[tuple, tuple]:
    noted = [[] for _ in range(5)]
    counts = _kernels.sentence(text, start, end, 3, openers, TOKEN_FORMS, *noted)
    python_noted = [[] for _ in range(5)]
    python_counts = python_sentence(text, start, end, 3, openers, *python_noted)
    as_fields = [(t.text, t.start, t.end, t.low, t.sent, t.initial, t.poss) for t in noted[0]]
    python_fields = [(t.text, t.start, t.end, t.low, t.sent, t.initial, t.poss) for t in python_noted[0]]
    return (counts, as_fields, *noted[1:]), (python_counts, python_fields, *python_noted[1:])


_SENTENCE_WORDS = [
    "Mr", "Dr", "J", "U.S.", "U.S.-Chinese", "Norway's", "allies'", "O'Brien", "The", "the", "And", "NATO", "said",
    "talks", "two", "Twenty-five", "100,000", "2.5", "57-nation", ".", ",", ":", "\"", "“", "‘", "'", "«", "•", "(", "—",
    "Brussels", "Stoltenberg’s", "é", "İstanbul",
]  # fmt: skip


def test_a_sentences_tokens_and_notes_are_the_python_loops_on_random_sentences_and_on_the_seeds():
    rng = random.Random(3)
    for _ in range(20_000):
        pieces = [rng.choice(_SENTENCE_WORDS) for _ in range(rng.randint(0, 14))]
        text = "".join(piece + rng.choice(["", " ", " ", "  ", "\n"]) for piece in pieces)
        start = rng.randint(0, len(text))
        end = rng.randint(start, len(text))
        openers = {i for i in range(start, end) if text[i] in "\"“‘'«" and rng.random() < 0.5}
        ours, python = _sentence_both_ways(text, start, end, openers)
        assert ours == python, (text, start, end, openers)
    for text in SEEDS:
        ours, python = _sentence_both_ways(text, 0, len(text), set())
        assert ours == python and len(ours[1]) > 300


def test_tokens_read_like_the_dataclass_they_replaced():
    token = _kernels.Token("Norway", 4, 10, "norway", 2, poss=True)
    assert (token.text, token.start, token.end, token.low, token.sent, token.initial, token.poss) == ("Norway", 4, 10, "norway", 2, False, True)
    assert token == _kernels.Token("Norway", 4, 10, "norway", 2, False, True) != _kernels.Token("Norway", 4, 10, "norway", 2, True, True)
    assert repr(token) == "Tok(text='Norway', start=4, end=10, low='norway', sent=2, initial=False, poss=True)"
    with pytest.raises(AttributeError):
        token.text = "Sweden"  # every pass reads the same tokens
    with pytest.raises(TypeError):
        _kernels.sentence("text", 0, 4, 0, [], TOKEN_FORMS, [], [], [], [], [])  # openers must be a set
    with pytest.raises(TypeError):
        _kernels.sentence("text", 0, 4, 0, set(), _token_form, [], [], [], [], [])  # the forms are a table, not a function
    not_forms = [
        lambda surface: (surface,),  # too short
        lambda surface: (surface, surface, 2**70, False, False, False, False, False, False),  # a kind out of range
        lambda surface: (surface, surface, _OPENER + 1, False, False, False, False, False, False),  # no such kind
        lambda surface: (7, 8, _WORD, False, True, False, False, False, False),  # not text
    ]
    for not_a_form in not_forms:
        with pytest.raises(TypeError):
            _kernels.sentence("Mr. X", 0, 5, 0, set(), ComputedTable(not_a_form, 10), [], [], [], [], [])


def test_band_keys_are_pythons_hash_of_each_band_and_filing_keeps_one_id_or_a_list():
    rng = random.Random(5)
    signature = bytes(rng.randrange(256) for _ in range(64 * 8))
    assert _kernels.band_keys(signature, 10, 48) == [hash(signature[b * 48 : (b + 1) * 48]) for b in range(10)]
    buckets: dict = {}
    _kernels.file_bands(buckets, signature, 10, 48, "a1")
    assert buckets == dict.fromkeys(_kernels.band_keys(signature, 10, 48), "a1")
    other = signature[:48] + bytes(rng.randrange(256) for _ in range(len(signature) - 48))  # shares the first band only
    _kernels.file_bands(buckets, other, 10, 48, "a2")
    _kernels.file_bands(buckets, signature, 1, 48, "a3")
    first = _kernels.band_keys(signature, 1, 48)[0]
    assert buckets[first] == ["a1", "a2", "a3"] and sum(isinstance(v, list) for v in buckets.values()) == 1
    for bad in ((signature, 11, 48), (signature, 1, 0), ("not bytes", 1, 8)):
        with pytest.raises((ValueError, TypeError)):
            _kernels.band_keys(*bad)
