"""The entry point: one article through the passes, in order, into its ArticleFacts."""

from __future__ import annotations

from schemas.articles import CleanArticle
from schemas.stories import ArticleFacts, Entity
from streams.pipeline.facts.claims import claims
from streams.pipeline.facts.document import analyse
from streams.pipeline.facts.entities import resolve
from streams.pipeline.facts.keyphrases import key_phrases
from streams.pipeline.facts.names import find_mentions
from streams.pipeline.facts.quotes import quotes
from streams.pipeline.facts.weekdays import weekday_mentions

MAX_CHARS = 40_000  # longer texts are cut: the facts of a news story are in its first pages


def extract_facts(article: CleanArticle) -> ArticleFacts:
    """Everything one article contributes to its story: names, quotes, claims, weekdays and key phrases."""
    text = article.text[:MAX_CHARS]
    doc = analyse(text)
    mentions = find_mentions(doc)
    entities = resolve(mentions)
    ordered = sorted(entities, key=lambda e: (-e.count, e.first))
    return ArticleFacts(
        title=article.title,
        published_at=article.published_at,
        event_date=article.event_date,
        event_weekday=article.weekdays[0] if article.weekdays else None,
        key_phrases=key_phrases(entities, article.title),
        entities=[Entity(name=e.name, kind=e.kind, role=e.role if e.kind == "person" else None) for e in ordered],
        quotes=quotes(doc, mentions, entities),
        claims=claims(doc),
        weekday_mentions=weekday_mentions(doc, mentions, entities),
    )
