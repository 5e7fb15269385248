"""The bench's in-process figures time a desk in its steady state, not an empty one, and its clustering cost is
timed with as many live stories as it says."""

from __future__ import annotations

from schemas import DeadLetter
from streams.pipeline.prepare import prepare
from streams.settings import Settings
from streams.tools.bench import SteadyDesk, clustering_cost


def test_the_timed_articles_meet_the_history_s_live_stories_and_extend_them(tmp_path):
    settings = Settings(home=tmp_path)
    steady = SteadyDesk(settings, 1500, 100, 7, tmp_path, lambda _: None)
    desk = steady.desk
    sizes = {story_id: profile.size for story_id, profile in desk.stories.stories.items()}
    fingerprints = len(desk.duplicates)
    assert len(sizes) > 100 and len(steady.following) == 100
    for offset, payload in enumerate(steady.following[:50]):
        prepared = prepare(payload, None, steady.received_from + offset, settings.max_article_bytes)
        if not isinstance(prepared, DeadLetter):
            steady.place(prepared.to_bytes())
    # A stream that started after the history's window would have expired it all on its first article.
    assert desk.stories.live >= 0.8 * len(sizes)
    assert len(desk.duplicates) >= 0.8 * fingerprints
    grown = [story_id for story_id, size in sizes.items() if story_id in desk.stories.stories and desk.stories.stories[story_id].size > size]
    assert grown, "the history's stories go on in the timed articles"
    steady.close()


def test_the_clustering_cost_is_timed_with_as_many_live_stories_as_it_says():
    """The synthetic stream's one-article stories are alike: with merging on, they merge as they are added."""
    cost = clustering_cost([200, 600], probes=5, seed=7, progress=lambda _: None)
    assert cost["live_stories"] == {200: 200, 600: 600}
    assert set(cost["us_per_article"]) == {200, 600} and all(us > 0 for us in cost["us_per_article"].values())
