from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from schemas import (
    ArticleFacts,
    DuplicateVerdict,
    RawArticle,
    StoryStarted,
    parse_story_event,
)


def test_raw_article_keeps_unknown_fields():
    raw = RawArticle.from_bytes(b'{"id": "x", "title": "T", "lang_hint": "en", "score": 3}')
    assert raw.model_extra == {"lang_hint": "en", "score": 3}
    assert RawArticle.from_bytes(raw.to_bytes()).model_extra == raw.model_extra


def test_messages_are_frozen():
    verdict = DuplicateVerdict(article_id="b", duplicate_of="a", similarity=0.9, kind="near")
    with pytest.raises(ValidationError):
        verdict.similarity = 0.1


def test_story_event_round_trips_through_its_discriminator():
    event = StoryStarted(
        story_id="s", version=1, time=datetime(2022, 1, 12, tzinfo=timezone.utc), article_id="a",
        facts=ArticleFacts(), label="L",
    )
    parsed = parse_story_event(event.to_bytes())
    assert isinstance(parsed, StoryStarted) and parsed == event
