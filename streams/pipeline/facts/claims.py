"""Numeric claims: numbers (digits or words) with the noun they count, their hedge and their clause."""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right

from schemas.stories import NumericClaim
from streams.pipeline.english import IRREGULAR_PLURALS, may_be_plural, singular
from streams.pipeline.facts.document import Doc, Sentence, Tok
from streams.pipeline.facts.words import (
    CURRENCIES,
    HEDGES,
    MONTHS,
    NOT_SUBJECTS,
    NUMBER_PREVIOUS_BLOCK,
    NUMBER_WORDS,
    SCALES,
    STOPWORDS,
    UNIT_WORDS,
)

CLAUSE_WORDS = 8  # words kept either side of a claim in its text
_EDGE_WINDOW_CHARS = 128  # the first window read for them: eight words of news prose, twice over

_HEDGE_RE = re.compile(r"(?:^|[^\w-])(" + "|".join(re.escape(h) for h, _ in HEDGES) + r")\s+(?:the\s+)?$", re.I)
_HEDGE_MAP = dict(HEDGES)
_COMPARATIVE_RE = re.compile(
    r"^\s+(?:longer|shorter|more|less|fewer|earlier|later|older|younger|higher|lower|bigger|smaller|larger"
    r"|greater|faster|slower)\s+than\b"
)
_CLAUSE_BREAK_RE = re.compile(r"[;:—–()]|,(?!\d)|\s--\s")


def _parse_number(toks: list[Tok], i: int, last: int) -> tuple[float, int, str | None] | None:
    """The number starting at token i: (value, index after it, unit from a hyphen compound like "four-hour")."""
    t = toks[i]
    low = t.low
    unit = None
    if t.text[0].isdigit():
        head, _, rest = t.text.partition("-")
        try:
            value = float(head.replace(",", ""))
        except ValueError:
            return None
        unit = rest or None
    else:
        head, _, rest = low.partition("-")
        if head in NUMBER_WORDS and rest in NUMBER_WORDS and NUMBER_WORDS[rest] < 10 and NUMBER_WORDS[head] >= 20:
            value, unit = float(NUMBER_WORDS[head] + NUMBER_WORDS[rest]), None  # twenty-five
        elif head in NUMBER_WORDS:
            value, unit = float(NUMBER_WORDS[head]), rest or None
        else:
            return None
    k = i + 1
    while unit is None and k < last and toks[k].low in SCALES:
        value *= SCALES[toks[k].low]
        k += 1
    if not math.isfinite(value):
        return None  # 320 digits, or "trillion" twenty times: no count, and JSON has no infinity
    return value, k, unit


def claims(doc: Doc) -> list[NumericClaim]:
    """Numbers the text states, with the noun they count and their hedge; dates, years and names are skipped."""
    toks, text = doc.tokens, doc.text
    out: list[NumericClaim] = []
    seen: set[tuple[str, float, str]] = set()
    clauses = _Clauses(text)
    resume = 0  # the token after the last number read: "two hundred thousand" is one number
    for i in doc.numbers:
        if i < resume:
            continue
        claim, resume = _claim_at(toks, text, doc.sentences[toks[i].sent], i, clauses)
        if claim is not None:
            key = (claim.subject, claim.value, claim.qualifier)
            if key not in seen:
                seen.add(key)
                out.append(claim)
    return out


def _claim_at(toks: list[Tok], text: str, sent: Sentence, i: int, clauses: _Clauses) -> tuple[NumericClaim | None, int]:
    """The claim made by the number at token i, if it is one, and the token index to go on from."""
    t = toks[i]
    parsed = _parse_number(toks, i, sent.last)
    if parsed is None or _not_a_claim(toks, text, sent, i):
        return None, i + 1
    value, k, unit = parsed
    if t.low == "one" and (i == sent.first or toks[i - 1].low in NUMBER_PREVIOUS_BLOCK):
        return None, k
    if t.low == "dozen":
        return None, k
    currency = CURRENCIES.get(toks[i - 1].text) if i > sent.first else None
    subject, end = _counted_noun(toks, k, sent.last, value, unit)
    if currency:
        subject, end = currency, (k if subject is None else end)
    if subject is None:
        return None, k
    if _COMPARATIVE_RE.match(text[toks[end - 1].end : toks[end - 1].end + 30]):
        return None, end
    if _is_year(t, value, toks, k, sent.last):
        return None, k
    begin, qualifier = _hedge(text, sent.start, toks[i - 1].start if currency else t.start)
    stated = clauses.around(sent, begin, toks[end - 1].end)
    return NumericClaim(subject=subject, value=value, qualifier=qualifier, text=stated), end


def _not_a_claim(toks: list[Tok], text: str, sent: Sentence, i: int) -> bool:
    """Dates ("January 12", "12 January"), times ("01:03"), ordinals ("2nd") and numbers inside names."""
    t = toks[i]
    prev = toks[i - 1] if i > sent.first else None
    nxt = toks[i + 1] if i + 1 < sent.last else None
    if prev is not None and (prev.low.rstrip(".") in MONTHS or prev.text in {":", "#", "/"}):
        return True
    if nxt is not None and (nxt.low.rstrip(".") in MONTHS or nxt.text in {":", "/"}):
        return True
    if nxt is not None and nxt.low == "of" and i + 2 < sent.last and toks[i + 2].low.rstrip(".") in MONTHS:
        return True
    if t.end < len(text) and text[t.end : t.end + 1].isalpha():
        return True  # 2nd, 1990s, 03am
    if t.text[0].isdigit() and prev is not None and prev.text[:1].isupper() and not prev.initial and not prev.poss:
        if prev.low not in _HEDGE_MAP and prev.text not in CURRENCIES and prev.low not in STOPWORDS:
            return True  # Article 5, DC 20036
    if t.text[0].isdigit() and t.start > 0 and text[t.start - 1] in "-/.":
        return True
    return False


def _counted_noun(toks: list[Tok], k: int, last: int, value: float, unit: str | None) -> tuple[str | None, int]:
    """The noun counted: "2,000 (Chilean) miners" -> miner; "30 member countries" -> country; "four-hour" -> hour."""
    if unit is not None:
        if unit == "year-old":
            return "age", k
        if unit in {"strong", "odd", "plus"}:
            unit = None
        else:
            return singular(unit), k
    m = k
    while m < last and m - k < 2 and toks[m].text[:1].isupper() and toks[m].text[0].isalpha():
        m += 1  # "30 UN members", "2,000 Chilean miners"
    if m < last and toks[m].text == "%":
        return "percent", m + 1
    if m >= last or not toks[m].text[0].isalpha() or toks[m].low in NOT_SUBJECTS or toks[m].text[:1].isupper():
        return None, k
    head = m
    if value != 1 and not _looks_plural(toks[m].text):
        n = m + 1
        while n < last and n - m < 3:
            nt = toks[n]
            if not nt.text[0].isalpha() or nt.text[:1].isupper() or nt.low in NOT_SUBJECTS:
                break
            if _looks_plural(nt.text) and not nt.low.endswith(("ss",)):
                head = n
                break
            n += 1
    word = toks[head].low
    if word in UNIT_WORDS:
        return "percent", head + 1
    return singular(word), head + 1


def _looks_plural(word: str) -> bool:
    low = word.lower()
    if low in IRREGULAR_PLURALS:
        return True
    tail = low.rpartition("-")[2]
    return may_be_plural(tail) and tail not in STOPWORDS


def _is_year(t: Tok, value: float, toks: list[Tok], k: int, last: int) -> bool:
    """A bare four-digit number between 1800 and 2100 is a year unless a plural noun follows it."""
    if not t.text.isdigit() or len(t.text) != 4 or not 1800 <= value <= 2100:
        return False
    return not (k < last and _looks_plural(toks[k].text) and toks[k].text[:1].islower())


def _hedge(text: str, sent_start: int, pos: int) -> tuple[int, str]:
    """The hedge right before a number ("nearly", "more than") mapped to a qualifier, and where it begins."""
    window_start = max(sent_start, pos - 24)
    match = _HEDGE_RE.search(text[window_start:pos])  # sliced: "^" must match at the sentence start
    if match is None:
        return pos, "exact"
    return window_start + match.start(1), _HEDGE_MAP[match.group(1).lower()]


class _Clauses:
    """The clause breaks of each sentence, found once: a sentence of many numbers was read whole for each."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.breaks: dict[int, tuple[list[int], list[int]]] = {}  # by sentence start: where breaks start, end

    def around(self, sent: Sentence, begin: int, end: int) -> str:
        """The clause around a claim, cut at commas/dashes and at CLAUSE_WORDS words either side."""
        text = self.text
        starts, ends = self._of(sent)
        before_cut = bisect_right(ends, begin) - 1
        lo = ends[before_cut] if before_cut >= 0 else sent.start
        if begin > sent.start and text[begin - 1] == ",":
            lo = begin  # a comma right before the claim cuts, even before a digit ("said,5 ships")
        after_cut = bisect_left(starts, end)
        hi = starts[after_cut] if after_cut < len(starts) else sent.end
        before = _edge_words(text, lo, begin, last=True)
        after = _edge_words(text, end, hi, last=False)
        phrase = " ".join(before + text[begin:end].split() + after)
        return phrase.strip(" .,;:\"“”‘’'")

    def _of(self, sent: Sentence) -> tuple[list[int], list[int]]:
        found = self.breaks.get(sent.start)
        if found is None:
            cuts = list(_CLAUSE_BREAK_RE.finditer(self.text, sent.start, sent.end))
            found = self.breaks[sent.start] = [c.start() for c in cuts], [c.end() for c in cuts]
        return found


def _edge_words(text: str, lo: int, hi: int, *, last: bool) -> list[str]:
    """The last (or first) CLAUSE_WORDS words of text[lo:hi], read from that edge in growing windows rather than
    splitting the whole span: a window holding more words than that holds those words whole."""
    size = _EDGE_WINDOW_CHARS
    while True:
        start, stop = (max(lo, hi - size), hi) if last else (lo, min(hi, lo + size))
        words = text[start:stop].split()
        if len(words) > CLAUSE_WORDS or (start, stop) == (lo, hi):
            return words[-CLAUSE_WORDS:] if last else words[:CLAUSE_WORDS]
        size *= 4
