"""Messages about single articles: as published, as cleaned, as judged duplicate, as rejected."""

from __future__ import annotations

import base64
import struct
from datetime import date, datetime
from typing import Any, Literal

import orjson
from pydantic import ConfigDict, Field, ValidationError, field_validator

from schemas.base import Message
from schemas.stories import ArticleFacts, without_earlier_terms

# Values in a MinHash signature: the dedup stage's permutations (streams.pipeline.dedup.NUM_PERM).
SIGNATURE_VALUES = 64
# Its base64: four characters per three bytes, the last group padded with "=", so a string that matches is read
# as exactly 8 * SIGNATURE_VALUES bytes.
_SIGNATURE_BYTES = 8 * SIGNATURE_VALUES
_PADDING = -_SIGNATURE_BYTES % 3
_SIGNATURE_BASE64 = rf"^[A-Za-z0-9+/]{{{4 * ((_SIGNATURE_BYTES + 2) // 3) - _PADDING}}}={{{_PADDING}}}$"


class RawArticle(Message):
    """An article as a feed or scraper publishes it to the raw topic.

    Every field may be missing; unknown fields are kept (and carried into the
    cleaned article's `extra`), because feeds add fields we do not know yet.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    id: str | None = None
    title: str | None = None
    text: str | None = None
    source: str | None = None
    url: str | None = None
    published_at: str | None = Field(default=None, description="As given by the feed: ISO 8601 or free text.")
    author: str | None = Field(default=None, description="The author as the page or feed names them.")


class RemovedBlock(Message):
    """A piece of scraped text that cleaning removed, and why, so a user can audit the decision."""

    text: str
    reason: str


class _ArticleDescription(Message):
    """The fields a cleaned article shares with its metadata."""

    article_id: str
    title: str | None = None
    outlet: str | None = None
    author: str | None = Field(default=None, description="The author the raw article names (its page's or feed's).")
    url: str | None = None
    language: str | None = Field(default=None, description="ISO 639-1 code, absent when unknown.")
    published_at: datetime | None = Field(default=None, description="Publication time, absent when not found.")
    event_date: date | None = Field(default=None, description="Date of the event reported, absent when not found.")
    dates_seen: list[date] = Field(
        default_factory=list, description="Every date the text names or implies (weekdays resolved), most cited first."
    )
    weekdays: list[str] = Field(
        default_factory=list,
        description="Weekdays the reporting names ('on Wednesday'), most cited first, resolved or not.",
    )
    received_at: datetime | None = Field(default=None, description="Timestamp of the raw message on the broker.")
    extra: dict[str, Any] = Field(default_factory=dict, description="Unknown fields of the raw article, kept.")


class ArticleMetadata(_ArticleDescription):
    """What a cleaned article says about itself, without its text: what the prepared article carries on to the
    story stage, which reads its id, outlet and time on the broker, and the rest of it for whoever reads the
    prepared topic. The text (and the blocks cleaning removed) stays behind with the stage that prepares: nothing
    after it reads them, and sent on they were nearly all of a prepared article's bytes. CleanArticle's sibling,
    not its base: a prepared article given the whole article by mistake is refused, not sent with its text."""


class CleanArticle(_ArticleDescription):
    """An article after cleaning: reporting text only, with the metadata found in it."""

    text: str = Field(description="The reporting text, paragraphs separated by blank lines.")
    removed: list[RemovedBlock] = Field(default_factory=list)

    def metadata(self) -> ArticleMetadata:
        """The article without its text and removed blocks, as the prepared article carries it (its values are
        this article's, validated already)."""
        return ArticleMetadata.model_construct(**{name: getattr(self, name) for name in ArticleMetadata.model_fields})


class DuplicateVerdict(Message):
    """An article that appended nothing because its text was already seen."""

    article_id: str
    duplicate_of: str
    similarity: float = Field(ge=0, le=1)
    kind: Literal["redelivery", "exact", "near"] = Field(
        description="redelivery: the same article id again; exact: same text; near: a copy with small changes."
    )
    story_id: str | None = Field(
        default=None,
        description="The story the original belongs to: the one that absorbed its story, if a merge within the "
        "story or the dedup window did.",
    )


class DeadLetter(Message):
    """A payload the worker could not use, with a reason a person can act on."""

    article_id: str | None = None
    reason: str
    stage: Literal["decode", "validate", "clean", "process"]
    payload_bytes: int = Field(ge=0, description="Size of the original payload.")
    payload_preview: str = Field(description="The first bytes of the payload, for finding it again.")


class PreparedArticle(Message):
    """A cleaned article's metadata with everything the global story stage needs, computed in the parallel stage.

    Internal: flows from the cleaning agents (one per raw partition) to the
    single story agent, so the expensive per-article work is spread out and the
    global stage only looks things up.
    """

    article: ArticleMetadata
    facts: ArticleFacts
    # Required: a message without them would be placed with no features, always a story of its own.
    terms: dict[str, float] = Field(
        description="The article's most salient terms with their TF-IDF weights: its features for clustering, which "
        "the story stage reads and no entry carries.",
    )
    exact: str = Field(description="Hash of the normalised reporting words (exact duplicates).")
    # Of exactly SIGNATURE_VALUES values: one of another length would enter the dedup index and break the
    # comparison of every later article sharing a band with it, so the message is refused.
    signature: str = Field(
        description=f"MinHash signature of the word shingles (near duplicates): base64 of its {SIGNATURE_VALUES} values, "
        "each 64 bits, little-endian, as the fingerprints table stores it.",
        pattern=_SIGNATURE_BASE64,
    )

    @classmethod
    def from_bytes(cls, data: bytes | str) -> PreparedArticle:
        """As every message is read; one sent by an earlier worker, still on the prepared topic when a worker is
        upgraded, is read as a worker sends it now (`_as_sent_now`)."""
        try:
            return cls.model_validate_json(data)
        except ValidationError:
            now = _as_sent_now(data)
            if now is None:
                raise
        return cls.model_validate(now)  # validated outside the handler: its error, if any, is the one to read

    @field_validator("signature", mode="before")
    @classmethod
    def _signature_of_earlier_versions(cls, value: object) -> object:
        """Earlier workers sent the values as a list of ints (twice the bytes, three times the reading): such
        messages, still on the prepared topic when a worker is upgraded, are read as they were meant."""
        if isinstance(value, list) and all(isinstance(v, int) and 0 <= v < 1 << 64 for v in value):
            return base64.b64encode(struct.pack(f"<{len(value)}Q", *value)).decode()
        return value


def _as_sent_now(data: bytes | str) -> dict | None:
    """A prepared article of an earlier version as a worker sends it now, or None for data that is not one (its
    validation error stands): earlier articles carried their text and removed blocks, which the story stage
    never read, and dropped here unread; before that, their clustering terms were in their facts."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(value, dict):
        return None
    article, now = value.get("article"), value
    if isinstance(article, dict) and _LEFT_BEHIND & article.keys():
        now = {**value, "article": {key: item for key, item in article.items() if key not in _LEFT_BEHIND}}
    earlier = without_earlier_terms(now)
    if earlier is not None:
        now = {**earlier[0], "terms": earlier[1]}
    return None if now is value else now


_LEFT_BEHIND = frozenset(CleanArticle.model_fields) - frozenset(ArticleMetadata.model_fields)  # text, removed
