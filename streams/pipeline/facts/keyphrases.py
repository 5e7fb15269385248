"""Key phrases: the multi-word names of organisations, events and places that say what a story is about."""

from __future__ import annotations

from streams.pipeline.english import zipf
from streams.pipeline.facts.document import analyse
from streams.pipeline.facts.entities import Entity, resolve
from streams.pipeline.facts.names import find_mentions
from streams.pipeline.facts.words import STOPWORDS

MAX_KEY_PHRASES = 10
TITLE_WEIGHT = 3  # a name in the headline counts as much as three mentions in the text


def key_phrases(entities: list[Entity], title: str | None) -> list[str]:
    """Multi-word names of organisations and events first, then places and others; by frequency x rarity.

    Names in the title count TITLE_WEIGHT times, and a name only the title gives is a candidate too."""
    candidates = [e for e in entities if e.kind != "person" and " " in e.name]
    if title:
        known = {a for e in entities for a in e.aliases}
        title_doc = analyse(title[:1000])
        title_only = [e for e in resolve(find_mentions(title_doc)) if e.name not in known]
        for e in title_only:
            e.count, e.first = 0, len(title) + e.first  # after every name of the text when all else is equal
        candidates += [e for e in title_only if e.kind != "person" and " " in e.name]
    scored: list[tuple[int, float, int, str]] = []
    for e in candidates:
        parts = [p for w in e.name.split() for p in w.split("-") if p.lower() not in STOPWORDS]
        tier = 0 if e.kind == "organisation" or e.event else 1 if e.kind == "place" else 2
        rarity = sum(max(0.0, 6.0 - zipf(p.lower())) for p in parts) / max(1, len(parts))
        in_title = sum(title.count(a) for a in e.aliases) if title else 0
        scored.append((tier, -(e.count + TITLE_WEIGHT * in_title) * (1.0 + rarity / 3.0), e.first, e.name))
    scored.sort()
    return [name for *_, name in scored[:MAX_KEY_PHRASES]]
