from datetime import date

from streams.cluster import StoryIndex, cosine, decay, decide, features, score, StoryProfile


def test_features_keep_body_entities_and_headline_apart():
    vector = features("Floods hit Porto Alegre", "Heavy rain flooded Porto Alegre on Monday, the mayor Sebastiao Melo said.")
    assert {k[0] for k in vector} == {"t", "e", "h"}
    assert "e:porto alegre" in vector and "h:floods" in vector
    assert "t:the" not in vector and "t:said" not in vector  # common words carry no topic


def test_articles_on_one_event_score_above_articles_on_another():
    a = features("Floods hit Porto Alegre", "Heavy rain flooded Porto Alegre, Brazil, displacing thousands, mayor Sebastiao Melo said.")
    b = features("Porto Alegre floods displace thousands", "Mayor Sebastiao Melo said floods in Porto Alegre forced thousands from homes.")
    c = features("Central bank raises rates", "The Reserve Bank of India raised its repo rate by a quarter point to curb inflation.")
    story = StoryProfile("s")
    story.add(a, "outlet-a", date(2024, 5, 6), 0.0)
    assert score(b, None, date(2024, 5, 6), story, 1.5) > 0.3 > score(c, None, date(2024, 5, 6), story, 1.5)


def test_a_quiet_story_fades():
    assert decay(date(2024, 1, 1), date(2024, 1, 2), 1.5) == 1.0
    assert decay(date(2024, 1, 1), date(2024, 1, 20), 1.5) < 0.01
    assert decay(None, date(2024, 1, 2), 1.5) == 1.0


def test_decide_joins_only_at_or_above_the_threshold_and_breaks_ties_by_id():
    assert decide([("b", 0.5), ("a", 0.5), ("c", 0.2)], 0.3).story_id == "a"
    assert decide([("a", 0.29)], 0.3).story_id is None
    assert decide([], 0.3).story_id is None


def test_index_retrieves_only_stories_sharing_salient_features():
    index = StoryIndex(half_life_days=1.5, window_seconds=3600)
    index.add("floods", features("Floods hit Porto Alegre", "Rain flooded Porto Alegre."), None, None, 0.0)
    index.add("rates", features("Reserve Bank raises rates", "The Reserve Bank of India raised rates."), None, None, 0.0)
    found = index.candidates(features("Porto Alegre floods worsen", "More rain in Porto Alegre."))
    assert found == ["floods"]


def test_stories_quiet_longer_than_the_window_leave_the_index_but_stay_known():
    index = StoryIndex(half_life_days=1.5, window_seconds=100)
    index.add("old", features("Floods hit Porto Alegre", "Rain flooded Porto Alegre."), None, None, 0.0)
    index.add("new", features("Reserve Bank raises rates", "The Reserve Bank of India raised rates."), None, None, 500.0)
    assert index.live == 1
    assert index.candidates(features("Porto Alegre floods", "Porto Alegre rain.")) == []
    assert "old" in index.stories


def test_cosine_of_disjoint_vectors_is_zero():
    assert cosine({"a": 1.0}, {"b": 1.0}) == 0.0
    assert abs(cosine({"a": 1.0, "b": 1.0}, {"a": 2.0, "b": 2.0}) - 1.0) < 1e-9
