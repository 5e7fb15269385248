"""Story events (the changelog entries) and the snapshot that folding them yields."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from schemas.base import Message


class Entity(Message):
    """A person, organisation or place an article names."""

    name: str
    kind: Literal["person", "organisation", "place", "other"] = "other"
    role: str | None = Field(default=None, description="The role the text gives a person, e.g. 'Deputy Foreign Minister'.")


class Quote(Message):
    """A direct quote and, where the text says, who said it."""

    text: str
    speaker: str | None = None


class NumericClaim(Message):
    """A number the article states, with what it counts and how it is hedged."""

    subject: str = Field(description="What is counted or measured, e.g. 'troops' or 'hours'.")
    value: float
    qualifier: Literal["exact", "about", "nearly", "more than", "less than", "at least"] = "exact"
    text: str = Field(description="The words of the article that state it.")


class ArticleFacts(Message):
    """What one article contributes to its story; the fold of these is the story's state."""

    title: str | None = None
    published_at: datetime | None = None
    event_date: date | None = None
    event_weekday: str | None = Field(
        default=None, description="The weekday the article names most, for dating it within its story."
    )
    key_phrases: list[str] = Field(default_factory=list, description="Salient multi-word names, most salient first.")
    entities: list[Entity] = Field(default_factory=list)
    quotes: list[Quote] = Field(default_factory=list)
    claims: list[NumericClaim] = Field(default_factory=list)
    terms: dict[str, float] = Field(
        default_factory=dict, description="The article's most salient terms with their TF-IDF weights (clustering)."
    )
    weekday_mentions: dict[str, str] = Field(
        default_factory=dict, description="Event name (e.g. 'Vienna talks') -> weekday the article gives for it."
    )

    def reported_date(self) -> date | None:
        """The date the article reports on: its event date, else its publication date, else unknown."""
        return self.event_date or (self.published_at.date() if self.published_at else None)


class Corroboration(Message):
    """A quote or claim that one more outlet now reports."""

    what: Literal["quote", "claim"]
    text: str
    outlets: int = Field(ge=2, description="How many outlets report it now.")


class ConflictSide(Message):
    value: str
    outlets: list[str]


class Conflict(Message):
    """Outlets disagreeing on one thing: each side with the outlets that report it."""

    about: str
    sides: list[ConflictSide]


class _StoryEventBase(Message):
    story_id: str
    version: int = Field(ge=1, description="1 for the first entry; gap-free and increasing per story.")
    position: int = Field(
        default=0,
        ge=0,
        description="The article's place in the order the story stage placed all articles (1, 2, ...): "
        "a restarted worker rebuilds its indexes in this order, so it decides as the uninterrupted one would.",
    )
    time: datetime = Field(description="When the article was published to storywire (the raw message's timestamp).")
    article_id: str
    outlet: str | None = None
    facts: ArticleFacts
    event_date: date | None = Field(
        default=None,
        description="The article's event date; where the article alone can't tell (it says only 'Wednesday' and "
        "gives no publication date), the story's event date when that falls on the weekday the article names.",
    )
    label: str = Field(description="The story's label after this entry.")
    # What this entry changed, relative to the story before it.
    new_outlet: bool = False
    new_entities: list[str] = Field(default_factory=list)
    new_quotes: list[Quote] = Field(default_factory=list)
    new_claims: list[NumericClaim] = Field(default_factory=list)
    corroborations: list[Corroboration] = Field(default_factory=list)
    conflicts: list[Conflict] = Field(default_factory=list, description="Conflicts this entry opened or widened.")


class StoryStarted(_StoryEventBase):
    """The first article of a new story."""

    kind: Literal["started"] = "started"


class ArticleJoined(_StoryEventBase):
    """An article that joined an existing story, with the score that decided it."""

    kind: Literal["joined"] = "joined"
    score: float = Field(ge=0)


StoryEvent = Annotated[StoryStarted | ArticleJoined, Field(discriminator="kind")]
_story_event_adapter: TypeAdapter[StoryStarted | ArticleJoined] = TypeAdapter(StoryEvent)


def parse_story_event(data: bytes | str | dict) -> StoryStarted | ArticleJoined:
    if isinstance(data, dict):
        return _story_event_adapter.validate_python(data)
    return _story_event_adapter.validate_json(data)


class QuoteView(Message):
    text: str
    speaker: str | None = None
    outlets: list[str]


class StorySnapshot(Message):
    """A story's current state: a pure fold of its events, published compacted per story."""

    story_id: str
    version: int
    label: str
    article_ids: list[str]
    outlets: list[str]
    first_seen: datetime
    last_seen: datetime
    event_date: date | None = None
    article_event_dates: dict[str, date | None] = Field(
        default_factory=dict,
        description="Each article's event date: its own, or the story's where it names only the weekday.",
    )
    people: list[Entity] = Field(default_factory=list, description="People named, most cited first.")
    organisations: list[str] = Field(default_factory=list)
    places: list[str] = Field(default_factory=list)
    quotes: list[QuoteView] = Field(default_factory=list)
    claims: list[NumericClaim] = Field(default_factory=list)
    conflicts: list[Conflict] = Field(default_factory=list)
