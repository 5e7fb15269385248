"""Story events (the changelog entries) and the snapshot that folding them yields."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import orjson
from pydantic import Field, TypeAdapter, ValidationError

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
    value: float = Field(allow_inf_nan=False)  # JSON has no infinity: it would be written as null
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


class _StoryEntry(Message):
    """What every changelog entry has: its story, its place in the story and in the log, and the label after it."""

    story_id: str
    version: int = Field(ge=1, description="1 for the first entry; gap-free and increasing per story.")
    position: int = Field(
        default=0,
        ge=0,
        description="The entry's place in the order the story stage made all entries (1, 2, ...): the log's "
        "order across stories, in which a fold of the whole log applies them.",
    )
    time: datetime = Field(description="When the article was published to storywire (the raw message's timestamp).")
    label: str = Field(description="The story's label after this entry.")


class _ArticleEntry(_StoryEntry):
    article_id: str
    article_time: datetime | None = Field(
        default=None,
        description="The article's own time, by which windows, decay and expiry go: its publication time, else "
        "its event date, else its broker time shifted by the stream's lag behind the broker.",
    )
    outlet: str | None = None
    facts: ArticleFacts
    event_date: date | None = Field(
        default=None,
        description="The article's event date; where the article alone can't tell (it says only 'Wednesday' and "
        "gives no publication date), the story's event date when that falls on the weekday the article names.",
    )
    # What this entry changed, relative to the story before it.
    new_outlet: bool = False
    new_entities: list[str] = Field(default_factory=list)
    new_quotes: list[Quote] = Field(default_factory=list)
    new_claims: list[NumericClaim] = Field(default_factory=list)
    corroborations: list[Corroboration] = Field(default_factory=list)
    conflicts: list[Conflict] = Field(default_factory=list, description="Conflicts this entry opened or widened.")


class StoryStarted(_ArticleEntry):
    """The first article of a new story."""

    kind: Literal["started"] = "started"


class ArticleJoined(_ArticleEntry):
    """An article that joined an existing story, with the score that decided it."""

    kind: Literal["joined"] = "joined"
    score: float = Field(ge=0)


class StoryMerged(_StoryEntry):
    """Another story turned out to be this one: its state is folded into this story's, and it takes no more
    articles (its snapshot says where it went)."""

    kind: Literal["merged"] = "merged"
    absorbed_story_id: str
    absorbed_version: int = Field(ge=1, description="The absorbed story's last version: its history up to the merge.")
    articles: int = Field(ge=1, description="Articles of the story after the merge.")


StoryEvent = Annotated[StoryStarted | ArticleJoined | StoryMerged, Field(discriminator="kind")]
_story_event_adapter: TypeAdapter[StoryStarted | ArticleJoined | StoryMerged] = TypeAdapter(StoryEvent)


def parse_story_event(data: bytes | str | dict) -> StoryStarted | ArticleJoined | StoryMerged:
    try:
        if isinstance(data, dict):
            return _story_event_adapter.validate_python(data)
        return _story_event_adapter.validate_json(data)
    except ValidationError:
        earlier = without_earlier_terms(data)
        if earlier is None:
            raise
    return _story_event_adapter.validate_python(earlier[0])  # outside the handler: its error is the one to read


def without_earlier_terms(data: bytes | str | dict) -> tuple[dict, object] | None:
    """An entry or a prepared article of a version that kept the article's clustering terms in its facts, as a
    dict without them, and the terms; None for data that is not one (its validation error stands). Every entry
    carried them, half its bytes, though no reader of a story used them, so an entry's are dropped unread;
    prepared articles carry them as their own `terms` now. Looked for only when validating as the current
    version fails, which costs the rest nothing."""
    try:
        value = data if isinstance(data, dict) else orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    facts = value.get("facts") if isinstance(value, dict) and "terms" not in value else None
    if not isinstance(facts, dict) or "terms" not in facts:
        return None
    return {**value, "facts": {key: item for key, item in facts.items() if key != "terms"}}, facts["terms"]


class QuoteView(Message):
    text: str
    speaker: str | None = None
    outlets: list[str]


class StorySnapshot(Message):
    """A story's current state: a pure fold of its events, published compacted per story.

    Bounded whatever the story's size: counts, the most cited names, quotes and
    claims, and the most recent articles. Its full membership is on the story
    events topic (the log).
    """

    story_id: str
    version: int
    label: str
    articles: int = Field(ge=0, description="Articles in the story (absorbed stories' included).")
    recent_article_ids: list[str] = Field(description="The story's most recent articles, oldest first.")
    outlets: list[str] = Field(description="Outlets reporting it, in order of first report (the most frequent, if many).")
    outlet_count: int = Field(ge=0, description="Distinct outlets that reported it.")
    first_seen: datetime
    last_seen: datetime
    event_date: date | None = None
    article_event_dates: dict[str, date | None] = Field(
        default_factory=dict,
        description="Each recent article's event date: its own, or the story's where it names only the weekday.",
    )
    people: list[Entity] = Field(default_factory=list, description="People named, most cited first.")
    organisations: list[str] = Field(default_factory=list)
    places: list[str] = Field(default_factory=list)
    quotes: list[QuoteView] = Field(default_factory=list)
    claims: list[NumericClaim] = Field(default_factory=list)
    conflicts: list[Conflict] = Field(default_factory=list)
    absorbed: list[str] = Field(default_factory=list, description="Stories merged into this one.")
    merged_into: str | None = Field(default=None, description="Set once this story was merged into another.")
