import base64
from datetime import datetime, timezone

import orjson
import pytest
from pydantic import ValidationError

from schemas import (
    ArticleFacts,
    ArticleMetadata,
    CleanArticle,
    DuplicateVerdict,
    PreparedArticle,
    RawArticle,
    StoryStarted,
    parse_story_event,
)
from schemas.articles import SIGNATURE_VALUES


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


def _entry() -> StoryStarted:
    return StoryStarted(
        story_id="s", version=1, time=datetime(2022, 1, 12, tzinfo=timezone.utc), article_id="a",
        facts=ArticleFacts(title="Talks in Brussels", key_phrases=["NATO-Russia Council"]), label="L",
    )


def _prepared() -> PreparedArticle:
    return PreparedArticle(
        article=ArticleMetadata(article_id="a", title="Talks in Brussels"),
        facts=ArticleFacts(title="Talks in Brussels"),
        terms={"t:envoys": 0.5, "h:brussels": 0.75},
        exact="e",
        signature=base64.b64encode(bytes(8 * SIGNATURE_VALUES)).decode(),
    )


def test_an_entry_of_an_earlier_version_with_terms_in_its_facts_is_read_without_them():
    """Entries carried the article's clustering terms until they moved to the prepared article: logs and tables
    written before still hold such entries, and every reader of a story must read them."""
    entry = _entry()
    earlier = orjson.loads(entry.to_bytes())
    earlier["facts"]["terms"] = {"t:envoys": 0.5}
    assert b'"terms"' not in entry.to_bytes()
    assert parse_story_event(orjson.dumps(earlier)) == entry
    assert parse_story_event(earlier) == entry
    earlier["version"] = 0  # what makes it invalid is still said
    with pytest.raises(ValidationError, match="version"):
        parse_story_event(orjson.dumps(earlier))


def test_a_prepared_article_of_an_earlier_worker_is_read_with_its_terms_where_they_are_now():
    prepared = _prepared()
    assert PreparedArticle.from_bytes(prepared.to_bytes()) == prepared
    earlier = orjson.loads(prepared.to_bytes())
    earlier["facts"]["terms"] = earlier.pop("terms")
    assert PreparedArticle.from_bytes(orjson.dumps(earlier)) == prepared
    earlier["article"] |= {"text": "Envoys met in Brussels.", "removed": [{"text": "Subscribe", "reason": "cta"}]}
    assert PreparedArticle.from_bytes(orjson.dumps(earlier)) == prepared  # older still: the text too
    earlier["exact"] = 7
    with pytest.raises(ValidationError, match="exact"):
        PreparedArticle.from_bytes(orjson.dumps(earlier))
    with pytest.raises(ValidationError, match="facts.terms"):  # terms in both places: neither version's message
        PreparedArticle.from_bytes(orjson.dumps({**earlier, "exact": "e", "terms": {}}))


def test_a_prepared_article_carries_its_articles_metadata_not_its_text():
    """The text and removed blocks stay with the stage that prepares: the story stage never reads them. An
    earlier worker's article with them is read without them (above); the whole article is refused, not sent."""
    article = CleanArticle(
        article_id="a", title="Talks in Brussels", text="Envoys met in Brussels.", outlet="Wire",
        removed=[{"text": "Subscribe", "reason": "cta"}], extra={"section": "world"},
    )
    metadata = article.metadata()
    assert metadata == ArticleMetadata(article_id="a", title="Talks in Brussels", outlet="Wire", extra={"section": "world"})
    prepared = _prepared().model_copy(update={"article": metadata})
    assert orjson.loads(prepared.to_bytes())["article"] == orjson.loads(metadata.to_bytes())
    assert not {"text", "removed"} & orjson.loads(prepared.to_bytes())["article"].keys()
    with pytest.raises(ValidationError, match="article"):
        PreparedArticle(**{**dict(_prepared()), "article": article})
    with pytest.raises(ValidationError, match="text"):  # one field unknown to both versions: refused
        PreparedArticle.from_bytes(orjson.dumps({**orjson.loads(prepared.to_bytes()), "text": "stray"}))
