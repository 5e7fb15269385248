import math
import random
from collections import defaultdict

from streams.pipeline.cluster import (
    MAX_POSTINGS,
    MERGE_CANDIDATES,
    POSTING_BUDGET,
    StoryIndex,
    StoryProfile,
    article_parts,
    decide,
    fades,
    scores,
)
from streams.pipeline.features import features, terms

FLOOD = "Heavy rain flooded Porto Alegre, Brazil, displacing thousands, mayor Sebastiao Melo said."
FLOOD_2 = "Mayor Sebastiao Melo said floods in Porto Alegre forced thousands from homes."
RATES = "The Reserve Bank of India raised its repo rate by a quarter point to curb inflation."


def score(article: dict[str, float], days, story: StoryProfile) -> float:
    return scores(article_parts(article), days, [story], 1.5)[0]


def test_features_keep_body_entities_and_headline_apart():
    vector = features("Floods hit Porto Alegre", "Heavy rain flooded Porto Alegre on Monday, the mayor Sebastiao Melo said.")
    assert {k[0] for k in vector} == {"t", "e", "h"}
    assert "e:porto alegre" in vector and "h:flood" in vector
    assert "t:the" not in vector and "t:said" not in vector  # common words carry no topic


def test_a_headline_only_article_has_only_headline_features():
    vector = features("Fed's Plosser Says Nasty Weather Curbed Job Growth", "")
    assert vector and {k[0] for k in vector} == {"h"}  # title case says nothing about names
    assert "h:fed" in vector and "h:plosser" in vector  # possessive dropped


def test_plurals_meet_their_singular_but_no_word_is_made_up():
    assert terms("Gas prices rise") == terms("gas price rises")


def test_articles_on_one_event_score_above_articles_on_another():
    a = features("Floods hit Porto Alegre", FLOOD)
    b = features("Porto Alegre floods displace thousands", FLOOD_2)
    c = features("Central bank raises rates", RATES)
    story = StoryProfile("s")
    story.add(a, 0.0, {0.0})
    assert score(b, {0.1}, story) > 0.3 > 0.05 > score(c, {0.1}, story)


def test_headlines_are_compared_with_headlines_and_bodies_with_bodies():
    headline_only = features("Porto Alegre floods displace thousands", "")
    story = StoryProfile("s")
    story.add(features("Floods hit Porto Alegre", FLOOD), 0.0)
    # Only the headline part is shared, so the headline cosine alone decides: not diluted by the missing body.
    alone = StoryProfile("h")
    alone.add(features("Floods hit Porto Alegre", ""), 0.0)
    assert score(headline_only, (), story) == score(headline_only, (), alone) > 0.3


def test_a_larger_story_draws_no_more_than_an_equally_similar_small_one():
    one, many = StoryProfile("one"), StoryProfile("many")
    one.add(features("Floods hit Porto Alegre", ""), 0.0)
    for _ in range(20):
        many.add(features("Floods hit Porto Alegre", ""), 0.0)
    article = features("Porto Alegre floods worsen", "")
    assert math.isclose(score(article, (), many), score(article, (), one))


def dated(days: list[float]) -> StoryProfile:
    story = StoryProfile("s")
    story.add({"t:flood": 1.0}, 0.0, days)
    return story


def test_a_quiet_story_fades_and_one_from_years_before_takes_nothing():
    stories = [dated(days) for days in ([9.5], [7.0], [8.5], [-9.0], [3.2], [], [20.0, 3.0])]
    near, week_ago, days_ago, weeks_ago, events_day, undated, either = fades({10.0, 3.0}, stories, 1.5)
    assert near == 1.0 and events_day == 1.0  # a late report of the story's event: its event date meets it
    assert fades({10.0}, stories[1:3], 1.5) == [0.5 ** (2 / 1.5), 0.5 ** (0.5 / 1.5)]
    assert fades({10.0}, stories[3:4], 1.5)[0] < 0.001  # three weeks of silence
    assert undated == 1.0 and either == 1.0 and fades((), stories, 1.5) == [1.0] * len(stories)
    story = StoryProfile("s")
    story.add(features("Floods hit Porto Alegre", FLOOD), 0.0, {0.0})
    article = features("Porto Alegre floods displace thousands", FLOOD_2)
    assert score(article, {0.1}, story) > 0.3 > 0.001 > score(article, {3 * 365.0}, story)


def test_decide_joins_only_at_or_above_the_threshold_and_breaks_ties_by_id():
    assert decide([("b", 0.5), ("a", 0.5), ("c", 0.2)], 0.3).story_id == "a"
    assert decide([("a", 0.29)], 0.3).story_id is None
    assert decide([], 0.3).story_id is None


def test_index_retrieves_only_stories_sharing_salient_features():
    index = StoryIndex(half_life_days=1.5, window_seconds=3600)
    index.add("floods", features("Floods hit Porto Alegre", "Rain flooded Porto Alegre."), 0.0)
    index.add("rates", features("Reserve Bank raises rates", "The Reserve Bank of India raised rates."), 0.0)
    found = index.candidates(features("Porto Alegre floods worsen", "More rain in Porto Alegre."))
    assert found == ["floods"]


def test_retrieval_reads_the_strongest_features_first_and_stops_at_the_posting_budget():
    index = StoryIndex(half_life_days=1.5, window_seconds=10**9, merge_threshold=2.0)  # no merging here
    first, second = MAX_POSTINGS - 50, POSTING_BUDGET - (MAX_POSTINGS - 50) - 10  # leaves 10 postings of budget
    for n in range(first - 1):
        index.add(f"first-{n}", {"t:first": 1.0}, 0.0)
    index.add("rare", {"t:first": 1.0, "e:rare": 1.0}, 0.0)
    for n in range(second):
        index.add(f"second-{n}", {"t:second": 1.0}, 0.0)
    for n in range(20):  # would outrank "rare" if read, but 20 postings no longer fit
        index.add(f"late-{n}", {"t:late": 1.0, "t:later": 1.0}, 0.0)
    article = {"t:first": 0.9, "t:second": 0.85, "t:late": 0.8, "t:later": 0.75, "e:rare": 0.5}
    found = index.candidates(article)
    assert found[0] == "rare"  # the rare feature after the skipped ones still counts
    assert not any(story.startswith("late-") for story in found)


def test_stories_quiet_longer_than_the_window_leave_the_index_and_memory_and_say_so():
    index = StoryIndex(half_life_days=1.5, window_seconds=100)
    index.add("old", features("Floods hit Porto Alegre", "Rain flooded Porto Alegre."), 0.0)
    placed = index.add("new", features("Reserve Bank raises rates", "The Reserve Bank of India raised rates."), 500.0)
    assert index.live == 1 and placed.expired == ("old",)
    assert index.candidates(features("Porto Alegre floods", "Porto Alegre rain.")) == []
    assert "old" not in index.stories  # its state is the caller's to keep (on disk)


def test_a_stored_profile_restores_to_the_same_scores():
    index = StoryIndex(half_life_days=1.5, window_seconds=10**9)
    index.add("floods", features("Floods hit Porto Alegre", FLOOD), 0.0, {1.0, 3.5})
    stored = index.stories["floods"].to_json()
    restored = StoryIndex(half_life_days=1.5, window_seconds=10**9)
    restored.restore(StoryProfile.from_json("floods", stored))
    assert restored.stories["floods"].to_json() == stored and stored["days"] == [1.0, 3.5]
    probe = features("Porto Alegre floods", FLOOD_2)
    for days in ({1.0}, {30.0}, ()):
        assert restored.scored_candidates(probe, days) == index.scored_candidates(probe, days)
    # Its days came back with it: a probe weeks after them fades.
    assert restored.scored_candidates(probe, {30.0})[0][1] < 0.001 < restored.scored_candidates(probe, {4.0})[0][1]


def test_a_story_is_dated_by_its_latest_days():
    story = dated([float(day) for day in range(10)])
    assert story.days == tuple(float(day) for day in range(2, 10))
    assert fades({0.0}, [story], 1.5) == [0.5 ** (1 / 1.5)]  # the nearest kept day is 2: a day past the free one


def test_two_fragments_of_one_story_merge_into_the_larger_and_unrelated_stories_do_not():
    index = StoryIndex(half_life_days=1.5, window_seconds=10**9, merge_threshold=0.3)
    for n, title in enumerate(["Floods hit Porto Alegre", "Porto Alegre floods displace thousands", "Porto Alegre flood toll rises"]):
        index.add("big", features(title, ""), float(n))
    assert index.add("rates", features("Reserve Bank of India raises repo rate", ""), 3.0).merged is None
    assert index.live == 2
    # A second story that grew on the same event: merged into the larger, and leaves the index.
    placed = index.add("small", features("Thousands flee Porto Alegre floods", ""), 4.0)
    assert placed.merged == ("small", "big") and index.live == 2
    assert index.stories["big"].size == 4 and "small" not in index.stories
    assert "small" not in index.candidates(features("Porto Alegre floods", ""))


def test_a_merge_named_by_a_recorded_entry_merges_those_two_stories_and_not_the_nearest():
    """Healing a merge after a crash: the story nearest now may be another than the one the entry merged."""

    def index_with_three_stories() -> StoryIndex:
        index = StoryIndex(half_life_days=1.5, window_seconds=10**9, merge_threshold=0.3)
        for n, title in enumerate(["Floods hit Porto Alegre", "Porto Alegre floods displace thousands"]):
            index.add("nearest", features(title, ""), float(n))
        index.add("named", features("Thousands flee Porto Alegre floods", ""), 2.0, merge=False)
        index.add("rates", features("Reserve Bank of India raises repo rate", ""), 3.0)
        return index

    article = features("Porto Alegre floods displace thousands", "")
    assert index_with_three_stories().add("new", article, 4.0).merged == ("new", "nearest")  # what it would merge now
    index = index_with_three_stories()
    placed = index.add("new", article, 4.0, merge=("named", "new"))
    assert placed.merged == ("named", "new")
    assert set(index.stories) == {"nearest", "new", "rates"} and index.stories["new"].size == 2
    assert "named" not in index.candidates(article)
    # A pair of which one is no longer live merges nothing.
    assert index.add("new", article, 5.0, merge=("named", "new")).merged is None


def test_a_story_merges_only_at_or_above_the_merge_threshold():
    strict = StoryIndex(half_life_days=1.5, window_seconds=10**9, merge_threshold=0.99)
    strict.add("a", features("Floods hit Porto Alegre", ""), 0.0)
    assert strict.add("b", features("Thousands flee Porto Alegre floods", ""), 1.0).merged is None
    assert strict.live == 2



def test_a_profile_restored_over_a_live_one_replaces_it_in_the_postings():
    index = StoryIndex(half_life_days=1.5, window_seconds=10**9)
    vector = {"t:flood": 0.8, "e:thames": 0.6}
    index.add("s1", vector, 1.0)
    restored = StoryProfile.from_json("s1", index.stories["s1"].to_json())
    index.restore(restored)
    assert index._found(vector, 8) == [restored]  # the profile it replaced is found under no feature


def test_the_postings_are_the_live_stories_salient_features_after_every_change():
    """A story is posted again only under the features it lost or gained: after every add, merge, expiry,
    repeated article and restore, the postings are what posting every live story afresh gives."""
    rng = random.Random(4)
    words = [f"w{n}" for n in range(40)]
    index = StoryIndex(half_life_days=1.5, window_seconds=30.0)
    merges = expiries = repeats = 0
    for number in range(1, 401):
        vector = {f"{rng.choice('teh')}:{word}": rng.random() for word in rng.sample(words, rng.randint(1, 12))}
        repeated = number % 9 == 0  # an article counted already (a crash's redelivery): the profile stays as it is
        placed = index.add(f"s{rng.randint(0, 40)}", vector, float(number), position=1 if repeated else number)
        merges, expiries, repeats = merges + (placed.merged is not None), expiries + len(placed.expired), repeats + repeated
        if number % 50 == 0:
            story_id = rng.choice(sorted(index.stories))
            index.restore(StoryProfile.from_json(story_id, index.stories[story_id].to_json()))
        afresh: dict[str, dict[StoryProfile, str]] = defaultdict(dict)
        for profile in index.stories.values():
            for key in profile.salient:
                afresh[key][profile] = profile.story_id
        assert index._postings.features() == dict(afresh)
        assert len(index._postings) == len(afresh)
    assert merges and expiries and repeats


def test_a_decision_and_the_merge_check_are_decide_on_the_scored_candidates_after_every_change():
    """`decision` and the merge check score each candidate by the block its postings row keeps (`Postings.best`):
    after every add, merge, expiry, repeated article and restore, they choose as `decide` on `scored_candidates`,
    which score through the profiles, to the last bit, ties included."""
    rng = random.Random(9)
    words = [f"w{n}" for n in range(30)]
    # Few vectors: stories alike, so scores tie often.
    templates = [{f"{rng.choice('teh')}:{word}": rng.choice((0.5, 1.0)) for word in rng.sample(words, rng.randint(1, 10))} for _ in range(12)]
    index = StoryIndex(half_life_days=1.5, window_seconds=30.0, merge_threshold=0.6)
    merges = expiries = repeats = ties = 0
    for number in range(1, 401):
        vector, days = rng.choice(templates), set(rng.sample([1.0, 2.0, 9.0], rng.randint(0, 2)))
        for threshold in (0.0, 0.3, 0.9):
            scored = index.scored_candidates(vector, days)
            assert index.decision(vector, days, threshold) == decide(scored, threshold)
        ties += len(scored) > 1 and sorted(score for _, score in scored)[-2:] == [max(s for _, s in scored)] * 2
        repeated = number % 9 == 0  # an article counted already (a crash's redelivery): the profile stays as it is
        story_id = f"s{rng.randint(0, 40)}"
        placed = index.add(story_id, vector, float(number), days, position=1 if repeated else number, merge=False)
        profile = index.stories[story_id]
        found = index._found(profile.salient, MERGE_CANDIDATES, profile)
        near = [(other_id, sim) for other_id, sim in index._scored(found, profile, profile.days) if sim >= index.merge_threshold]
        nearest = min(near, key=lambda pair: (-pair[1], pair[0]))[0] if near else None
        merged = index._merge_near(profile)
        assert merged is None if nearest is None else nearest in merged
        merges, expiries, repeats = merges + (merged is not None), expiries + len(placed.expired), repeats + repeated
        if number % 50 == 0:
            story_id = rng.choice(sorted(index.stories))
            index.restore(StoryProfile.from_json(story_id, index.stories[story_id].to_json()))
    assert merges and expiries and repeats and ties
