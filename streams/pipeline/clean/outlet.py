"""The outlet that published an article: the feed's source, else what the page says about itself
(site name, copyright and credit lines, contact addresses, datelines), else the url's domain; never a guess.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from urllib.parse import urlsplit

from schemas.articles import RawArticle
from streams.pipeline.clean.html import PageHints
from streams.pipeline.clean.paragraphs import Block, ends_sentence
from streams.pipeline.clean.repair import repair_line
from streams.pipeline.clean.rules import email_domains
from streams.pipeline.clean.wording import WEBMAIL
from streams.pipeline.english import zipf_scale

_COPYRIGHT_NAME = re.compile(
    r"(?:copyright|©|\(c\))(?:\s*(?:©|\(c\)))?\s*(?:(?:19|20)\d\d(?:\s*[-–]\s*(?:19|20)\d\d)?)?"
    r"\s*[.,]?\s*(?:by\s+)?"
    r"(?P<name>[A-Z][^\n.,;|©]{1,60}?)\s*(?:,?\s*(?:Inc|LLC|Ltd|Limited|Corp|Co|GmbH|plc|S\.A|AG)\b\.?)?\s*"
    r"(?:[.,;|]|\ball rights reserved|$)",
    re.I,
)
_REPUBLISHED_NAME = re.compile(
    r"\b(?:republished|reprinted|reproduced) with (?:the )?permission (?:of|from) (?P<name>[^.,;\n]{2,80}?)"
    r"(?:,|\.(?:\s|$)|;|$| in \b| from \b)",
    re.I,
)
_WORK_OF_NAME = re.compile(r"^the work of (?P<name>.{2,80}?) is (?:supported|funded|made possible) by\b", re.I)
_DATELINE_CREDIT = re.compile(
    r"^[A-Z]{2,}[A-Z .'-]{0,30}(?:,\s*[A-Z][a-z]{2,8}\.?\s+\d{1,2})?\s*\((?P<name>[A-Z][\w .&'-]{1,30})\)\s*[-–—:]"
)


def find_outlet(raw: RawArticle, hints: PageHints, blocks: list[Block]) -> str | None:
    """The outlet: the feed's source, else what the page says about itself, else the url's domain; never a guess."""
    if raw.source and (source := repair_line(raw.source)):
        return source
    for finder in (
        lambda: repair_line(hints.site_name) if hints.site_name else None,
        lambda: _outlet_by_pattern(blocks, _COPYRIGHT_NAME, ("copyright line",)),
        lambda: _outlet_by_pattern(blocks, _REPUBLISHED_NAME, ("republication notice", "copyright line")),
        lambda: _outlet_by_pattern(blocks, _WORK_OF_NAME, ("funding credit",)),
        lambda: _outlet_from_wire_credit(blocks),
        lambda: _outlet_from_contact(blocks),
        lambda: _outlet_from_name_line(blocks),
        lambda: _outlet_from_banner(blocks),
        lambda: _outlet_from_dateline(blocks),
        lambda: outlet_from_domain(_url_host(raw.url)) if raw.url else None,
    ):
        name = finder()
        if name:
            return _tidy_name(name)
    return None


def _url_host(url: str) -> str:
    """The host of a url, "" for a malformed one (a feed's url field is free text)."""
    try:
        return urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""


def _tidy_name(name: str) -> str:
    return " ".join(name.split()).strip(" .,;:-–—|")


def _outlet_by_pattern(blocks: list[Block], pattern: re.Pattern[str], reasons: tuple[str, ...]) -> str | None:
    """The name captured by `pattern` in a block removed for one of `reasons`."""
    for b in blocks:
        if b.reason in reasons:
            for m in pattern.finditer(b.core):
                name = _tidy_name(m.group("name"))
                if _plausible_name(name):
                    return name
    return None


def _plausible_name(name: str) -> bool:
    low = name.lower()
    return (
        1 <= len(name.split()) <= 8
        and any(ch.isalpha() for ch in name)
        and not low.startswith(("all rights", "the author", "the authors", "copyright"))
    )


def _outlet_from_wire_credit(blocks: list[Block]) -> str | None:
    """A wire service credit line ("X Wire", "X News Service") standing alone."""
    for b in reversed(blocks):
        if b.reason == "wire credit line":
            return b.core
    return None


def _outlet_from_contact(blocks: list[Block]) -> str | None:
    """The domain of an author's contact address ("can be reached at x@example.com")."""
    for b in blocks:
        if b.reason == "author contact line" or (b.reason and "contact" in b.reason):
            for domain in email_domains(b.core):
                name = outlet_from_domain(domain)
                if name:
                    return name
    return None


def _outlet_from_name_line(blocks: list[Block]) -> str | None:
    """A standalone Title-Case name line at the bottom that the page also names elsewhere."""
    last_kept = max((i for i, b in enumerate(blocks) if b.reason is None), default=-1)
    for i in range(len(blocks) - 1, max(last_kept, len(blocks) - 16), -1):
        b = blocks[i]
        if b.reason not in ("site chrome: short line without sentence", "repeated line (site chrome)"):
            continue
        if not _name_like(b.core):
            continue
        needle = b.core.lower()
        if any(needle in o.core.lower() for j, o in enumerate(blocks) if j != i and o.key != b.key):
            return b.core
    return None


def _outlet_from_banner(blocks: list[Block]) -> str | None:
    """A site or blog name printed more than once at the top, above the body."""
    first_kept = next((i for i, b in enumerate(blocks) if b.reason is None), len(blocks))
    counts = Counter(b.key for b in blocks[:first_kept])
    for b in blocks[:first_kept]:
        if b.reason == "repeated line (site chrome)" and counts[b.key] >= 2 and _name_like(b.core):
            return b.core
    return None


def _outlet_from_dateline(blocks: list[Block]) -> str | None:
    """A wire dateline credit: "CITY (Agency) - ..." at the start of the first paragraph."""
    for b in blocks:
        if b.reason is None:
            m = _DATELINE_CREDIT.match(b.core)
            return m.group("name") if m else None
    return None


def _name_like(text: str) -> bool:
    """1-5 words, each capitalised (or a short connector), no sentence punctuation."""
    words = text.split()
    if not 1 <= len(words) <= 5 or ends_sentence(text):
        return False
    return all(w[0].isupper() or w[0].isdigit() or w.lower() in ("of", "the", "and", "&", "for", "de") for w in words)


def outlet_from_domain(host: str) -> str | None:
    """A readable outlet from a domain: "washingtontimes.com" -> "Washington Times", else the bare domain.

    Webmail domains name no outlet.
    """
    labels = [p for p in host.lower().strip(".").split(".") if p]
    while len(labels) > 2 and labels[0] in ("www", "m", "amp", "mobile", "mail", "edition", "news"):
        labels = labels[1:]
    if len(labels) < 2:
        return None
    second_level = len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in ("co", "com", "org", "net", "ac", "gov")
    base_labels = labels[-3:] if second_level else labels[-2:]
    base = base_labels[0]
    if base in WEBMAIL:
        return None
    domain = ".".join(base_labels)
    words = [w for part in base.split("-") for w in (_segment(part) or (part,))]
    if len(words) >= 2 and all(w.isalpha() for w in words):
        return " ".join(w.capitalize() for w in words)
    return domain


@lru_cache(maxsize=4096)
def _segment(label: str) -> tuple[str, ...] | None:
    """Split a run-together domain label into common English words (fewest pieces), or None."""
    if not label.isalpha() or len(label) > 30:
        return None
    n = len(label)
    best: list[tuple[int, float, tuple[str, ...]] | None] = [None] * (n + 1)
    best[0] = (0, 0.0, ())
    for i in range(n):
        if best[i] is None:
            continue
        pieces, cost, words = best[i]
        for j in range(i + 3, min(n, i + 20) + 1):
            freq = zipf_scale(label[i:j])
            if freq < 3.0:
                continue
            candidate = (pieces + 1, cost - freq, words + (label[i:j],))
            if best[j] is None or candidate[:2] < best[j][:2]:
                best[j] = candidate
    return best[n][2] if best[n] else None
