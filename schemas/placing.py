"""What the global stage tells the stage keyed by story: where each article goes, and which stories merge.

Each message is keyed by the story whose partition takes it (`story_id`). The global stage decides (is it a
copy? which story? are two stories one?) and numbers what it decides by one log position; the stage keyed by
story folds it into the story's state and publishes the entries. A merge takes three messages, since the two
stories' states may be on two partitions: `Close` to the absorbed story's, which answers with its state in a
`Handover` to the survivor's, and `Absorb` to the survivor's, which folds the merge once the handover is there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from schemas.articles import ArticleMetadata
from schemas.base import Message
from schemas.stories import ArticleFacts


class _Ordered(Message):
    story_id: str = Field(description="The story whose partition takes the message.")
    position: int = Field(ge=1, description="The log position of the entry it makes (the global stage's count).")


class Placement(_Ordered):
    """An article the global stage placed in a story: its story's next entry."""

    kind: Literal["article"] = "article"
    score: float = Field(ge=0, description="The score that joined it to the story (0 for a story's first).")
    article_time: datetime = Field(description="The article's own time, as the global stage's clock gave it.")
    article: ArticleMetadata
    facts: ArticleFacts


class Absorb(_Ordered):
    """The survivor of a merge: its next entry absorbs `absorbed_story_id`, whose state a `Handover` brings."""

    kind: Literal["absorb"] = "absorb"
    absorbed_story_id: str
    time: datetime = Field(description="The broker time of the article whose placing merged the two.")


class Close(_Ordered):
    """The absorbed story of a merge: it takes no more entries, and hands its state to `into`."""

    kind: Literal["close"] = "close"
    into: str


class Handover(_Ordered):
    """An absorbed story's last state, from its partition to its survivor's (`story_id`)."""

    kind: Literal["handover"] = "handover"
    absorbed_story_id: str
    state: dict | None = Field(
        description="The absorbed story's state as the stage keyed by story stores it; null: a bug kept the absorbed "
        "story's partition from taking its `Close`, and the merge is given up, so that the survivor waits no longer."
    )


ToStory = Annotated[Placement | Absorb | Close | Handover, Field(discriminator="kind")]
_to_story_adapter: TypeAdapter[Placement | Absorb | Close | Handover] = TypeAdapter(ToStory)


def parse_to_story(data: bytes | str) -> Placement | Absorb | Close | Handover:
    return _to_story_adapter.validate_json(data)


def parse_to_story_object(data: dict) -> Placement | Absorb | Close | Handover:
    """As `parse_to_story`, from the message's JSON already parsed (a row holds messages so)."""
    return _to_story_adapter.validate_python(data)
