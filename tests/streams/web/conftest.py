"""A story events log written the way the place stage writes it (the fold's own next_event and merge_event)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from schemas import ArticleFacts, Entity, NumericClaim, Quote
from streams.story.fold import StoryEventModel, apply, merge_event, next_event
from streams.story.state import StoryState

T0 = datetime(2023, 3, 7, 9, 0, tzinfo=UTC)


class Newsroom:
    """Appends entries to stories, in log order (positions 1, 2, ...), keeping each story's state as the worker does."""

    def __init__(self) -> None:
        self.states: dict[str, StoryState] = {}
        self.position = 0

    def article(
        self,
        story_id: str,
        article_id: str,
        outlet: str | None,
        *,
        at: datetime = T0,
        title: str | None = None,
        people: tuple[str, ...] = (),
        places: tuple[str, ...] = (),
        quotes: tuple[tuple[str, str], ...] = (),
        claims: tuple[tuple[str, float, str], ...] = (),
        phrases: tuple[str, ...] = ("Port Authority Board",),
    ) -> StoryEventModel:
        facts = ArticleFacts(
            title=title,
            published_at=at,
            event_date=date(2023, 3, 6),
            key_phrases=list(phrases),
            entities=[Entity(name=n, kind="person") for n in people] + [Entity(name=n, kind="place") for n in places],
            quotes=[Quote(text=text, speaker=speaker) for text, speaker in quotes],
            claims=[
                NumericClaim(subject=subject, value=value, qualifier=qualifier, text=f"{qualifier} {value} {subject}")
                for subject, value, qualifier in claims
            ],
        )
        state = self.states.setdefault(story_id, StoryState())
        self.position += 1
        event = next_event(
            story_id, state, article_id, outlet, at, facts, score=0.5, position=self.position, article_time=at
        )
        apply(state, event)
        return event

    def merge(self, survivor: str, absorbed: str, at: datetime = T0) -> StoryEventModel:
        self.position += 1
        event = merge_event(survivor, self.states[survivor], absorbed, self.states[absorbed], at, self.position)
        apply(self.states[survivor], event, self.states[absorbed])
        return event


@pytest.fixture
def newsroom() -> Newsroom:
    return Newsroom()


@pytest.fixture
def minutes():
    """T0 plus n minutes."""
    return lambda n: T0 + timedelta(minutes=n)
