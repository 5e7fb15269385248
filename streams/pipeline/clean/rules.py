"""Which paragraphs are site furniture, and why.

Strong rules judge a paragraph by its form alone (date lines, notices, captions, credits, link labels);
weak rules by its wording, stricter at the page edges than inside the body; `classify` applies both and
finds the end-of-article marker (comments, related links), the title and repeated lines.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from streams.pipeline.clean.dates import parse_date_line
from streams.pipeline.clean.paragraphs import BULLET, SHORT_LINE_WORDS, Block
from streams.pipeline.clean.title import mark_title, pick_headline
from streams.pipeline.clean.wording import NAV_FIRST
from streams.pipeline.english import letter_words


def _rule(
    reason: str, max_words: int, *alternatives: str, hints: tuple[str, ...] = (), overrides: bool = False
) -> tuple:
    """A structural rule: `reason`, one pattern of `alternatives`, a word cap, and whether it
    also removes paragraphs that read as reporting (only for forms reporting never takes).

    `hints` (lower-case fragments, one of which every match contains) spare most paragraphs the
    scan of a pattern that is not anchored at the start.
    """
    return reason, re.compile("|".join(alternatives), re.I), max_words, overrides, hints


_STRONG: list[tuple[str, re.Pattern[str], int, bool, tuple[str, ...]]] = [
    _rule("copyright line", 60, r"^(?:copyright\b|©|\(c\)\s*(?:19|20)\d\d)"),
    _rule(
        "copyright line",
        60,
        r"\ball rights reserved\b",
        r"©\s*(?:19|20)\d\d",
        r"\bcopyright\s*(?:©|\(c\))?\s*(?:19|20)\d\d",
        hints=("all rights reserved", "©", "copyright"),
    ),
    _rule(
        "republication notice",
        60,
        r"\b(?:republished|reprinted|reproduced) with (?:the )?permission\b",
        r"^(?:this (?:article|story) )?(?:was )?(?:originally|first) (?:published|appeared) (?:on|in|at|by)\b",
        hints=("permission", "published", "appeared"),
    ),
    _rule("funding credit", 40, r"^the work of .{2,80}? is (?:supported|funded|made possible) by\b"),
    _rule(
        "credit line",
        25,
        r"^\(?(?:with )?(?:additional )?(?:reporting|writing|editing|research) by\b",
        r"\bcontributed (?:reporting )?to (?:this|the) (?:report|story|article)\b",
        r"^(?:this|the) (?:article|story|report) (?:was|is|has been)"
        r" (?:based|compiled|produced|written|updated|corrected)\b",
        r"^(?:written|edited|compiled|produced) by\b",
        hints=(" by", "contributed", "article", "story", "report"),
    ),
    _rule(
        "author contact line",
        40,
        r"\bcan be (?:reached|contacted|emailed)\b",
        r"^(?:e-?mail|contact|reach|follow|write to) (?:him|her|them|the (?:author|writer|reporter))\b",
        hints=("can be ", "mail", "contact", "reach", "follow", "write to"),
    ),
    _rule(
        "affiliate disclosure",
        60,
        r"\bamazon associate\b",
        r"\bqualifying purchases\b",
        r"\baffiliate (?:links?|commissions?)\b",
        r"\bwe may (?:earn|receive) (?:a )?(?:small )?(?:commission|compensation)\b",
        hints=("amazon associate", "qualifying purchases", "affiliate ", "we may "),
    ),
    _rule(
        "photo caption",
        100,
        r"^\(?(?:from )?(?:left to right|right to left|l\s*(?:-|to)\s*r)\)?\s*[:,]",
        r"^(?:pictured|photo|photograph|image|caption|file photo|above|top|main image|in the photo)\s*:",
        overrides=True,
    ),
    _rule(
        "comment policy",
        40,
        r"\bcomment(?:ing)? polic(?:y|ies)\b",
        r"\bcommunity (?:guidelines|standards)\b",
        hints=("polic", "community "),
    ),
    _rule(
        "comment section",
        10,
        r"^\(?\d+\)?\s+comments?$",
        r"^comments?(?:\s*\(\d+\))?$",
        r"^comment on this (?:post|article|story)$",
        r"^(?:leave|post|add|write|show|view|load|see|read) (?:a |the |all )?(?:\d+ )?(?:comments?|reply|replies)\b",
        r"^(?:welcome to|join) the (?:discussion|conversation)\b",
        overrides=True,
    ),
    _rule(
        "related links",
        40,
        r"^(?:see also|read more|read also|also read|related|more on this|read next|watch|listen|recommended"
        r"|more from [\w .&'-]{2,40})\s*:",
        overrides=True,
    ),
    _rule(
        "related links heading",
        8,
        r"^(?:related|more|similar|popular|latest|top) (?:posts|articles|stories|news|coverage|content|reading|reads)$",
        r"^(?:further reading|recommended(?: for you| reading| stories)?|you (?:may|might) also (?:like|enjoy)"
        r"|most (?:popular|read|viewed|shared)|trending(?: now| stories)?|don't miss|editor'?s picks?|read next"
        r"|up next)\s*:?$",
        overrides=True,
    ),
    _rule(
        "cookie/privacy notice",
        40,
        r"\b(?:privacy|cookies?)(?: (?:and|&) (?:privacy|cookies?))? (?:polic(?:y|ies)|notice|statement|settings"
        r"|preferences)\b",
        r"\bwe use cookies\b",
        r"\baccept (?:all )?cookies\b",
        hints=("privacy", "cookie"),
    ),
    _rule(
        "site chrome: tags/categories",
        30,
        r"^(?:tags?|tagged(?: with)?|categories|category|filed under|topics)\s*:",
    ),
    _rule(
        "advertisement",
        5,
        r"^(?:advertisement|advertising|sponsored(?: content)?|ad|story continues below(?: advertisement)?"
        r"|continue reading below)$",
        overrides=True,
    ),
]

_WIRE_LINE = re.compile(r"^(?:[A-Z][\w&.'’-]*\s+){0,4}(?:Wire|Newswire|News Service|Wire Service|News Agency)$")
# An e-mail address: a local part (a run of [\w.+-] with a letter or digit) and a domain. The pattern starts only
# where such a run starts: `\b[\w.+-]+@` started at every word boundary inside a run and read to its end, so a
# long run ("1.1.1...", "a.b.a.b...") took quadratic time. It finds the same addresses (see email_domains).
_EMAIL = re.compile(r"(?<![\w.+-])[.+-]*\w[\w.+-]*@((?:[\w-]+\.)+[a-z]{2,})\b", re.I)
_EMAIL_GLUED = re.compile(r"[\w.+-]+@((?:[\w-]+\.)+[a-z]{2,})\b", re.I)  # right after one: "a@x.com.b@y.com"
_BYLINE = re.compile(r"^by\s+\S", re.I)


def email_domains(text: str) -> Iterator[str]:
    """The domains of the e-mail addresses in text, in order. An address may also start right where the one before
    it ends, inside a run of address characters, as a word-boundary pattern resuming there would find it."""
    pos = 0
    while True:
        found = (_EMAIL_GLUED.match(text, pos) if pos else None) or _EMAIL.search(text, pos)
        if found is None:
            return
        yield found.group(1)
        pos = found.end()


def strong_reason(b: Block) -> str | None:
    """Reason for removing a paragraph by its form alone: date lines, notices, captions, credits, link labels."""
    for rule in (_date_line_reason, _pattern_reason, _caption_credit_reason, _line_reason):
        reason = rule(b)
        if reason:
            return reason
    return None


def _date_line_reason(b: Block) -> str | None:
    """A paragraph that is only a date (with an optional "Posted on"/time) is page furniture, not reporting."""
    if b.words > 15:
        return None
    found = parse_date_line(b.core)
    if found is None:
        return None
    b.notes["date_line"] = found
    return "date line"


def _pattern_reason(b: Block) -> str | None:
    for reason, pattern, max_words, overrides, hints in _STRONG:
        if (
            b.words <= max_words
            and (overrides or not b.reporting)
            and (not hints or any(map(b.folded.__contains__, hints)))
            and pattern.search(b.core)
        ):
            return reason
    return None


_AGENCY_CREDIT = re.compile(
    r"(?:\bvia (?:Getty Images|AP|Reuters|AFP|Shutterstock|Alamy|EPA)\b|\b(?:Getty Images|AFP|AP Photo|EPA|Reuters"
    r"|Shutterstock|Alamy|Pool|Bloomberg)\b)"
)
_LABELLED_CREDIT = re.compile(
    r"\b(?:photo|photograph|image|picture|screenshot|screengrab|illustration|graphic|video|credit|courtesy|source)s?"
    r"(?: by| of| credit)?\s*:\s*[^.!?:]{1,60}$",
    re.I,
)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _caption_credit_reason(b: Block) -> str | None:
    """A paragraph ending in an image credit ("Photo: X", "X/Pool/AFP via Getty Images") is a caption."""
    if b.sentence:
        return None
    tail = _SENTENCE_END.split(b.core)[-1]
    if len(tail.split()) > 14 or "://" in tail or "www." in tail:
        return None
    if _LABELLED_CREDIT.search(tail) or ("/" in tail and _AGENCY_CREDIT.search(tail)) or tail.count("/") >= 2:
        return "photo caption"
    return None


def _line_reason(b: Block) -> str | None:
    """Short lines without a sentence: bylines, wire credits, navigation labels, calls to action."""
    if b.sentence or b.words > 12:
        return None
    if _BYLINE.match(b.core) and b.words <= 10:
        return "byline"
    if _WIRE_LINE.match(b.core):
        return "wire credit line"
    first = b.core.split()[0].lower() if b.core.split() else ""
    last = b.core.split()[-1].lower() if b.core.split() else ""
    if b.words <= 5 and (first in NAV_FIRST or last == "more"):
        return "navigation link"
    if b.cta and not b.reporting:
        return b.cta[0]
    if any(email_domains(b.core)):
        return "author contact line"
    return None


def classify(blocks: list[Block], given_title: str | None) -> str | None:
    """Set `reason` on every furniture block; return the title (given, or the headline found at the top)."""
    for b in blocks:
        b.reason = strong_reason(b)
    tail = tail_start(blocks)
    first, last = body_span(blocks, tail)
    title = given_title or pick_headline(blocks, first)
    if title:
        mark_title(blocks, title, found=given_title is None)
    mark_repeats(blocks)
    after_tail = tail_kinds(blocks, tail)
    for i, b in enumerate(blocks):
        if b.reason is not None:
            continue
        kind = after_tail.get(i)
        if kind == "comment policy":
            b.reason = "comment policy (below the comments marker)"
            continue
        edge = first is None or i < first or i > last
        b.reason = weak_reason(b, edge) or (f"{kind} (below the end-of-article marker)" if kind else None)
    return title


_TAIL_MARKERS = ("comment section", "comment policy", "related links heading")


def tail_start(blocks: list[Block]) -> int | None:
    """Index of the end-of-article marker (comments, related links) after which no reporting follows."""
    candidate = None
    for i in range(len(blocks) - 1, -1, -1):
        b = blocks[i]
        if b.reason is None and b.reporting:
            break
        if b.reason in _TAIL_MARKERS:
            candidate = i
    if candidate is None or not any(b.reason is None and b.reporting for b in blocks[:candidate]):
        return None
    below = sum(len(b.text) for b in blocks[candidate:])
    above = sum(len(b.text) for b in blocks[:candidate])
    return candidate if below < above else None


def tail_kinds(blocks: list[Block], tail: int | None) -> dict[int, str]:
    """For each unmarked block below the end-of-article marker: comment policy or related links,
    by the nearest marker above it."""
    if tail is None:
        return {}
    kinds, kind = {}, "related links"
    for i in range(tail, len(blocks)):
        reason = blocks[i].reason
        if reason in _TAIL_MARKERS:
            kind = "comment policy" if reason.startswith("comment") else "related links"
        elif reason is None:
            kinds[i] = kind
    return kinds


def body_like(b: Block) -> bool:
    """A paragraph that is plainly reporting: anchors the body, so what lies outside it is the page edge."""
    if b.reason is not None:
        return False
    if b.reporting and not b.cta:
        return True
    return b.sentence and b.words >= 10 and b.stop_ratio >= 0.25 and not b.cta and b.reader < 0.03


def body_span(blocks: list[Block], tail: int | None) -> tuple[int | None, int | None]:
    """First and last body paragraph (before the tail marker); (None, None) when none is clear."""
    end = len(blocks) if tail is None else tail
    idx = [i for i in range(end) if body_like(blocks[i])]
    if not idx:
        idx = [i for i in range(end) if blocks[i].reason is None and blocks[i].sentence and not blocks[i].cta]
    return (idx[0], idx[-1]) if idx else (None, None)


def weak_reason(b: Block, edge: bool) -> str | None:
    """Reason for removing a paragraph by its wording; stricter at the page edges than inside the body.

    Reporting paragraphs (a reporting verb or a quotation) are never removed here.
    """
    if b.reporting:
        return None
    addressed = b.reader >= 0.05 or b.core.lower().startswith("please ")
    if edge:
        if b.cta:
            return b.cta[0]
        if addressed:
            return "site notice addressing the reader"
        if not b.sentence and b.words <= 40:
            return "site chrome: short line without sentence"
        if b.words >= 4 and b.stop_ratio < 0.12 and not b.sentence:
            return "site chrome: few function words (names or links)"
        if b.words <= 15 and _capitalised_share(b.core) >= 0.8:
            return "site chrome: title-case label"
        return None
    if b.cta and (len(b.cta) >= 2 or addressed or not b.sentence or b.words <= 12):
        return b.cta[0]
    if addressed and b.core.lower().startswith(("please ", "click ", "tap ", "subscribe ", "sign up")):
        return "site notice addressing the reader"
    if not b.sentence and b.words < SHORT_LINE_WORDS and not b.core.endswith(":") and not BULLET.match(b.text):
        return "headline-like line inside the text (link or subheading)"
    return None


def _capitalised_share(text: str) -> float:
    """Share of words starting with a capital: labels and link lists are Title Case, sentences are not."""
    words = letter_words(text)
    return sum(1 for w in words if w[0].isupper()) / len(words) if words else 0.0


def mark_repeats(blocks: list[Block]) -> None:
    """Lines printed more than once: short ones are site chrome (all copies), long ones keep the first copy."""
    counts = Counter(b.key for b in blocks if b.key)
    seen: set[str] = set()
    for b in blocks:
        if not b.key or counts[b.key] < 2:
            continue
        if b.reason is None:
            if not b.sentence and b.short:
                b.reason = "repeated line (site chrome)"
            elif b.key in seen:
                b.reason = "repeated paragraph"
        seen.add(b.key)
