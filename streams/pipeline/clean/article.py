"""The entry point: `clean_article` runs repair, HTML, paragraphs, rules, title, outlet, dates and language
on one raw article, in that order, and composes the `CleanArticle`.
"""

from __future__ import annotations

from datetime import timezone

from schemas.articles import CleanArticle, RawArticle, RemovedBlock
from streams.pipeline.clean.dates import (
    days_in_reporting,
    parse_datetime_text,
    published_from_text,
)
from streams.pipeline.clean.html import PageHints, html_to_text, looks_like_html
from streams.pipeline.clean.language import detect_language
from streams.pipeline.clean.outlet import find_outlet
from streams.pipeline.clean.paragraphs import Block, split_paragraphs
from streams.pipeline.clean.repair import (
    UnusableArticle,
    cap_text,
    check_not_binary,
    check_readable,
    repair_line,
    repair_text,
)
from streams.pipeline.clean.rules import classify

# Only this many characters of an article are read: news articles are far
# shorter, and every step below stays linear in it (the caller dead-letters
# payloads above settings.max_article_bytes before they get here).
MAX_CLEAN_CHARS = 200_000
# A web page is read up to this many characters of markup, the default payload limit: a real page's scripts and
# styles can outweigh its text many times over. The text it gives is then capped as any other text.
MAX_MARKUP_CHARS = 2_000_000


def clean_article(raw: RawArticle, article_id: str, *, max_chars: int = MAX_CLEAN_CHARS) -> CleanArticle:
    """The reporting text of `raw`, its metadata, and every removed block with its reason.

    Raises UnusableArticle when nothing can be kept (no text and no title,
    binary data, text that is all site furniture and no title).
    """
    removed: list[RemovedBlock] = []
    raw_title = repair_line(raw.title) if raw.title else None
    text = raw.text or ""
    if not text.strip() and not raw_title:
        raise UnusableArticle("empty article: no text and no title (check the feed or scraper for this source)")
    page_like = looks_like_html(text)
    text, cut = cap_text(text, max(max_chars, MAX_MARKUP_CHARS) if page_like else max_chars)
    removed.extend(cut)
    check_not_binary(text)
    text = repair_text(text)
    hints = PageHints()
    if page_like:
        page = html_to_text(text)
        text, cut = cap_text(repair_text(page.text), max_chars)
        hints = page.hints
        removed.extend(page.removed + cut)
    check_readable(text, raw_title or hints.title)

    blocks = [Block.of(p) for p in split_paragraphs(text)]
    title = classify(blocks, raw_title or hints.title)
    removed.extend(RemovedBlock(text=b.text, reason=b.reason) for b in blocks if b.reason)
    kept = [b.text for b in blocks if not b.reason]
    if not kept and not title:
        first = next((b.reason for b in blocks if b.reason), "no paragraphs")
        raise UnusableArticle(
            f"nothing left after cleaning: all {len(blocks)} paragraphs are site furniture (first: {first}); "
            "check that the scraper picks the article body"
        )

    published = parse_datetime_text(raw.published_at) if raw.published_at else None
    published = published or (parse_datetime_text(hints.published) if hints.published else None)
    published = published or published_from_text(blocks)
    dates, weekdays = days_in_reporting(([title] if title else []) + kept, published.date() if published else None)
    published = published.astimezone(timezone.utc) if published else None
    body = "\n\n".join(kept)
    return CleanArticle(
        article_id=article_id,
        title=title,
        text=body,
        outlet=find_outlet(raw, hints, blocks),
        author=repair_line(raw.author) if raw.author else None,
        url=raw.url,
        language=detect_language(body or title or ""),
        published_at=published,
        event_date=dates[0] if dates else None,
        dates_seen=dates,
        weekdays=weekdays,
        removed=removed,
        extra=dict(raw.model_extra or {}),
    )
