from collections import Counter

from streams.tools.synthetic import generate


def test_the_same_seed_gives_the_same_stream_and_another_seed_another():
    assert generate(200, seed=3) == generate(200, seed=3)
    assert generate(200, seed=3).articles != generate(200, seed=4).articles


def test_the_stream_has_the_asked_size_stories_and_syndicated_copies_in_publication_order():
    stream = generate(600, seed=1, duplicate_rate=0.1, mean_story_size=6)
    assert len(stream.articles) == 600 and set(stream.gold) == {a["id"] for a in stream.articles}
    sizes = Counter(stream.gold.values())
    assert 60 <= len(sizes) <= 100 and max(sizes.values()) > 6
    copies = [a for a in stream.articles if "-copy" in a["id"]]
    assert 30 <= len(copies) <= 90
    times = [a["published_at"] for a in stream.articles]
    assert times == sorted(times)
