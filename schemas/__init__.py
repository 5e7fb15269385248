"""Pydantic models of every message storywire reads or writes, with their JSON Schema exports.

Import the models from here; `python -m schemas.export` rewrites `schemas/json/`.
"""

from schemas.articles import (
    ArticleMetadata,
    CleanArticle,
    DeadLetter,
    DuplicateVerdict,
    PreparedArticle,
    RawArticle,
    RemovedBlock,
)
from schemas.base import Message
from schemas.stories import (
    ArticleFacts,
    ArticleJoined,
    Conflict,
    ConflictSide,
    Corroboration,
    Entity,
    NumericClaim,
    Quote,
    QuoteView,
    StoryEvent,
    StoryMerged,
    StorySnapshot,
    StoryStarted,
    parse_story_event,
)

__all__ = [
    "ArticleFacts",
    "ArticleJoined",
    "ArticleMetadata",
    "CleanArticle",
    "Conflict",
    "ConflictSide",
    "Corroboration",
    "DeadLetter",
    "DuplicateVerdict",
    "Entity",
    "Message",
    "NumericClaim",
    "PreparedArticle",
    "Quote",
    "QuoteView",
    "RawArticle",
    "RemovedBlock",
    "StoryEvent",
    "StoryMerged",
    "StorySnapshot",
    "StoryStarted",
    "parse_story_event",
]
