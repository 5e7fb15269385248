"""The headline: the title given, else the one the page prints above the body; its copies in the text."""

from __future__ import annotations

from streams.pipeline.clean.paragraphs import Block, text_key
from streams.pipeline.clean.wording import STOPWORDS
from streams.pipeline.english import letter_words

_HEADLINE_SEARCH = 30  # the headline is among the first paragraphs of a page, never deeper
_STEM = 4  # letters of a word compared with the body's ("raises" meets "raised", "rates" meets "rate")


def pick_headline(blocks: list[Block], first_body: int | None) -> str | None:
    """The headline: a short line above the body without sentence punctuation, preferably repeated,
    else the one nearest the body (site names and taglines sit higher up).

    A line repeated right after itself, or named inside a copyright/credit line, is the
    site's name, not a headline; a line that shares no word of substance with the body ("Don't miss
    our best stories") is the page's, not the article's: a headline says what the body reports.
    """
    top = range(min(first_body if first_body is not None else 3, _HEADLINE_SEARCH, len(blocks)))
    candidates = [i for i in top if _headline_like(blocks[i])]
    if not candidates:
        return None
    furniture = " \n ".join(b.core.lower() for b in blocks if b.reason and b.reason != "date line")
    candidates = [i for i in candidates if blocks[i].core.lower() not in furniture]
    if candidates and first_body is not None:
        body = set().union(*(_stems(b.core) for b in blocks[first_body:] if b.reason is None))
        candidates = [i for i in candidates if _stems(blocks[i].core) & body]
    if not candidates:
        return None
    where: dict[str, list[int]] = {}
    for j, b in enumerate(blocks):
        where.setdefault(b.key, []).append(j)

    def score(i: int) -> tuple[bool, int, int]:
        same = where[blocks[i].key]
        adjacent = any(b - a == 1 for a, b in zip(same, same[1:]))
        return (len(same) > 1 and not adjacent, -int(adjacent), i)

    best = max(candidates, key=score)
    return blocks[best].core


def _stems(text: str) -> set[str]:
    """The words of substance in a text, each by its first letters."""
    return {w[:_STEM] for w in map(str.lower, letter_words(text)) if len(w) > 2 and w not in STOPWORDS}


def _headline_like(b: Block) -> bool:
    if b.reason is not None or b.words < 3 or b.words > 30 or len(b.core) < 12:
        return False
    return not b.core.endswith((".", ":", ";", ",")) and not b.cta


def mark_title(blocks: list[Block], title: str, *, found: bool) -> None:
    """Copies of the title in the text: the first is the headline (moved to `title`), the rest are repeats."""
    key = text_key(title)
    first = True
    for b in blocks:
        if b.key and b.key == key:
            b.reason = "headline (kept as title)" if found and first else "repeated headline"
            first = False
