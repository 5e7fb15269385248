import math
import struct

from streams.pipeline.features import feature_idf
from streams.pipeline.packed import (
    FeatureNumbers,
    Packed,
    feature_hash,
    weighted_cosines,
)

EVEN = (1.0, 1.0, 1.0)  # every part weighs the same
BODY = {"t:flood": 0.6, "t:rain": 0.8}
HEADLINE = {"h:flood": 1.0}


def test_a_vector_meets_itself_fully_and_a_disjoint_one_not_at_all():
    query = Packed.of({"t": BODY, "h": HEADLINE})
    other = Packed.of({"t": {"t:rate": 1.0}, "h": {"h:bank": 1.0}})
    same, disjoint = weighted_cosines(query, [query, other], EVEN)
    assert math.isclose(same, 1.0) and disjoint == 0.0


def test_only_parts_both_sides_have_count():
    headline_only = Packed.of({"h": HEADLINE})
    story = Packed.of({"t": {"t:strike": 1.0}, "h": HEADLINE})
    # The story's body is not compared with a body the article lacks, so it does not dilute the headline match.
    assert weighted_cosines(headline_only, [story], (0.45, 0.35, 0.2)) == [1.0]
    assert weighted_cosines(Packed.of({}), [story], EVEN) == [0.0]
    assert weighted_cosines(headline_only, [Packed.of({})], EVEN) == [0.0]


def test_part_weights_weigh_the_parts():
    query = Packed.of({"t": {"t:flood": 1.0}, "h": {"h:bank": 1.0}})
    story = Packed.of({"t": {"t:flood": 1.0}, "h": {"h:rate": 1.0}})  # shares the body, not the headline
    assert math.isclose(weighted_cosines(query, [story], (0.75, 0.0, 0.25))[0], 0.75)


def test_scores_do_not_depend_on_feature_order_or_on_the_other_stories_scored():
    words = [f"t:w{i}" for i in range(60)]
    weights = {key: 1 / (i + 3) for i, key in enumerate(words)}
    norm = math.sqrt(sum(w * w for w in weights.values()))
    forward = {key: weights[key] / norm for key in words}
    backward = {key: forward[key] for key in reversed(words)}
    story = Packed.of({"t": {key: forward[key] for key in words[::2]}})
    other = Packed.of({"t": {key: forward[key] for key in words[1::3]}})
    # Bit for bit: a restarted worker that rebuilt a profile in another order must score as the one before it.
    alone = weighted_cosines(Packed.of({"t": forward}), [story], EVEN)
    assert weighted_cosines(Packed.of({"t": backward}), [story], EVEN) == alone
    assert weighted_cosines(Packed.of({"t": forward}), [other, story], EVEN)[1] == alone[0]
    assert Packed.of({"t": backward}).block.tolist() == Packed.of({"t": forward}).block.tolist()


def test_a_features_numbers_are_its_idf_and_hash_and_the_table_stays_bounded():
    table = FeatureNumbers(capacity=3)
    keys = [f"t:w{n}" for n in range(10)]
    for key in keys:
        assert struct.unpack("dq", table[key]) == (feature_idf(key), feature_hash(key))
        assert len(table) <= 3 and len(table.older) <= 3
    kept = table.older[keys[-2]]
    table.older[keys[-2]] = bytes(16)  # what the older half holds comes back as it is, not computed again
    table.clear()
    assert table[keys[-2]] == bytes(16) and kept != bytes(16)
