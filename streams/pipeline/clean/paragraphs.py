"""Paragraphs of a text and the features the rules read on each (`Block`): length, function-word density,
sentence punctuation, reporting, reader address, web furniture wording, a comparison key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from streams.pipeline.clean.wording import (
    CTA,
    READER_WORDS,
    REPORTING_VERBS,
    STOPWORDS,
)
from streams.pipeline.english import alnum_words, count_chars, letter_words, word_tokens

# Paragraphs with at least this many words are never "short lines".
SHORT_LINE_WORDS = 20

_OPEN_LOWER = re.compile(r"^[\"'“‘«(\[]*[a-z]")
BULLET = re.compile(r"^[•·▪●◦‣*\-–—]\s+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_STOPS = (".", "!", "?", "…")
_CLOSERS = "\"'”’»)]"


def ends_sentence(text: str) -> bool:
    r"""Ends with a stop, perhaps followed by closing quotes and brackets: what the regex [.!?…]["'”’»)\]]*$ finds, read
    from the end (the regex tested each character of the text as where the match might start)."""
    before_last_newline = text.endswith("\n") and text[:-1].rstrip(_CLOSERS).endswith(_STOPS)  # where $ matches too
    return before_last_newline or text.rstrip(_CLOSERS).endswith(_STOPS)


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs: blank-line blocks, and each line of a block unless the block is hard-wrapped prose.

    Some scrapes put every paragraph on one line with single newlines; others wrap
    prose at a fixed width. A paragraph broken mid-sentence (no end punctuation,
    next one starting in lower case) is joined again.
    """
    paragraphs: list[str] = []
    for block in _PARAGRAPH_BREAK.split(text):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        pieces = [" ".join(lines)] if _hard_wrapped(lines) else lines
        for piece in pieces:
            if paragraphs and _continues(paragraphs[-1], piece):
                paragraphs[-1] = f"{paragraphs[-1]} {piece}"
            else:
                paragraphs.append(piece)
    return paragraphs


def _hard_wrapped(lines: list[str]) -> bool:
    """Prose wrapped at a fixed width: similar line lengths, most lines ending mid-sentence."""
    if len(lines) < 3:
        return False
    body = lines[:-1]
    width = max(len(line) for line in body)
    if not 40 <= width <= 100:
        return False
    even = sum(1 for line in body if len(line) >= 0.6 * width) >= 0.8 * len(body)
    open_ended = sum(1 for line in body if not ends_sentence(line)) >= 0.6 * len(body)
    return even and open_ended


def _continues(previous: str, piece: str) -> bool:
    """`piece` is the rest of a sentence that `previous` left unfinished."""
    return (
        len(previous.split()) >= 8
        and not ends_sentence(previous)
        and not previous.endswith((":", ";"))
        and bool(_OPEN_LOWER.match(piece))
    )


_ACCORDING_TO = re.compile(r"\baccording to\b", re.I)
_QUOTED = re.compile(r"[\"“][^\"“”]{20,}[\"”]|(?:^|\s)['‘][^'‘’]{20,}['’](?=[\s.,;:!?]|$)")
_SINGLE_QUOTE_OPENING = re.compile(r"\s['‘]")  # where `_QUOTED`'s single-quoted form can start


@dataclass
class Block:
    """One paragraph and the features the rules read; `reason` is set when it is removed."""

    text: str
    core: str
    words: int
    stop_ratio: float
    sentence: bool
    reporting: bool
    reader: float
    cta: list[str]
    key: str
    folded: str  # `core` in lower case as re.IGNORECASE compares it (see `_fold`)
    reason: str | None = None
    notes: dict[str, object] = field(default_factory=dict)

    @classmethod
    def of(cls, text: str) -> Block:
        core = BULLET.sub("", text).strip()
        words = letter_words(core)
        n = len(words)
        folded = _fold(core)
        tokens = word_tokens(folded)
        token_set = set(tokens)
        stop = sum(map(STOPWORDS.__contains__, map(str.lower, words))) / n if n else 0.0
        # The key's words are the word tokens, unless folding did more than lower-casing or "_" joins words.
        key = _key_from_tokens(tokens) if "_" not in core and folded == core.lower() else text_key(core)
        return cls(
            text=text,
            core=core,
            words=n,
            stop_ratio=stop,
            sentence=ends_sentence(core),
            reporting=n >= 8 and _reads_as_reporting(core, token_set),
            reader=sum(map(READER_WORDS.__contains__, tokens)) / n if n else 0.0,
            cta=cta_labels(folded, token_set),
            key=key,
            folded=folded,
        )

    @property
    def short(self) -> bool:
        return self.words < SHORT_LINE_WORDS


def _reads_as_reporting(core: str, tokens: set[str]) -> bool:
    """A reporting verb ("said", "according to") or a quotation of some length."""
    if not REPORTING_VERBS.isdisjoint(tokens) or ("according" in tokens and _ACCORDING_TO.search(core)):
        return True
    opens_quote = '"' in core or "“" in core or core.startswith(("'", "‘")) or _SINGLE_QUOTE_OPENING.search(core)
    return bool(opens_quote and _QUOTED.search(core))


_IGNORECASE_ALIAS_CHARS = "İıſ"
_IGNORECASE_ALIASES = str.maketrans({"İ": "i", "ı": "i", "ſ": "s"})


def _fold(text: str) -> str:
    """`text` in lower case as re.IGNORECASE compares letters (it also takes "ı" and "İ" for "i", "ſ" for "s"),
    so that a word or fragment test on it finds what a case-insensitive pattern would."""
    if count_chars(text, _IGNORECASE_ALIAS_CHARS, 1):
        text = text.translate(_IGNORECASE_ALIASES)
    return text.lower()


def text_key(text: str) -> str:
    """Comparison key: lower case letters and digits only, so punctuation and quotes don't matter."""
    return " ".join(alnum_words(text.lower()))


def _key_from_tokens(tokens: list[str]) -> str:
    """`text_key` of a text from its `word_tokens` (without the cost of finding its words again)."""
    return " ".join(filter(str.isalnum, tokens))


# The phrasings (their wording's place in CTA, their pattern) each hint token points to: one set intersection
# per paragraph finds the phrasings worth a regex scan. Scanning every phrasing of a hinted wording took 4 % of
# preparing on the bench's stream: "like", "read" or "join" hint at many a paragraph of news.
_CTA_BY_HINT: dict[str, list[tuple[int, re.Pattern[str]]]] = {}
for _place, (_label, _phrasings) in enumerate(CTA):
    for _hints, _pattern in _phrasings:
        for _hint in _hints:
            _CTA_BY_HINT.setdefault(_hint, []).append((_place, _pattern))
_CTA_HINTS = frozenset(_CTA_BY_HINT)


def cta_labels(folded: str, tokens: set[str]) -> list[str]:
    """Labels of the web-furniture wordings found in a text (calls to action, notices, links), in CTA's order,
    given the text folded (`_fold`) and the `word_tokens` of that."""
    hinted = _CTA_HINTS.intersection(tokens)
    if not hinted:
        return []
    found: set[int] = set()
    for place, pattern in {phrasing for hint in hinted for phrasing in _CTA_BY_HINT[hint]}:
        if place not in found and pattern.search(folded):
            found.add(place)
    return [CTA[place][0] for place in sorted(found)]
