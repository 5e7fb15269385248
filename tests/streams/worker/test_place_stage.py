"""The place stage's batches, without a broker: a bug placing one article costs only that article."""

from __future__ import annotations

from types import SimpleNamespace

import orjson

from schemas import DeadLetter
from streams.pipeline.prepare import prepare
from streams.settings import Settings
from streams.story.desk import DeskStores, StoryDesk
from streams.story.staging import Staging
from streams.tools.synthetic import generate
from streams.worker import place_stage
from streams.worker.counters import Counters
from streams.worker.metrics import WorkerMetrics
from streams.worker.place_stage import OpenBatch

SETTINGS = Settings(broker="127.0.0.1:1")


def _context() -> SimpleNamespace:
    """What the place stage reads of a worker's context; topics stand for themselves."""
    topics = SimpleNamespace(
        story_events="events", story_snapshots="snapshots", duplicates="duplicates", dead_letters="dead-letters"
    )
    return SimpleNamespace(
        settings=SETTINGS, staging=Staging(DeskStores()), desk=None, topics=topics, metrics=WorkerMetrics(Counters(), 60)
    )


def _events(n: int) -> list[SimpleNamespace]:
    articles = generate(n, seed=3, max_paragraphs=2).articles
    prepared = [prepare(orjson.dumps(a), None, 1_700_000_000 + i, 2_000_000) for i, a in enumerate(articles)]
    return [SimpleNamespace(key=p.article.article_id.encode(), value=p.to_bytes()) for p in prepared if not isinstance(p, DeadLetter)]


def test_an_article_that_fails_to_place_becomes_a_dead_letter_and_its_batch_is_as_if_it_never_came(monkeypatch):
    events = _events(60)
    failing = events[37]

    calm = _context()
    calm_batch = OpenBatch()
    for event in events:
        if event is not failing:
            place_stage._place(calm, calm_batch, event)

    place = StoryDesk.place

    def place_with_a_bug(desk, prepared):
        outcome = place(desk, prepared)  # its writes are staged and the desk changed, then it fails
        if prepared.article.article_id == failing.key.decode():
            raise RuntimeError("a bug")
        return outcome

    monkeypatch.setattr(StoryDesk, "place", place_with_a_bug)
    ctx = _context()
    batch = OpenBatch()
    for event in events:
        place_stage._place(ctx, batch, event)

    letters = [p for p in batch.placed if p.outcome is None]
    assert [p.event for p in letters] == [failing]
    topic, _, value = letters[0].sends[0]
    assert topic == "dead-letters" and "internal error while placing" in orjson.loads(value)["reason"]
    others = [p for p in batch.placed if p.outcome is not None]
    assert [p.event for p in others] == [p.event for p in calm_batch.placed]
    assert [p.outcome for p in others] == [p.outcome for p in calm_batch.placed]
    assert [p.sends for p in others] == [p.sends for p in calm_batch.placed]
    assert ctx.staging.open == calm.staging.open  # the failed article's staged writes are gone
