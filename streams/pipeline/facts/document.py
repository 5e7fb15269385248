"""The analysed document every pass reads: paragraphs, quote spans, sentences and tokens, in one linear pass.

The tokeniser also notes, on the way, where names and numbers can start and how
the article writes its words, so the later passes need not scan every token.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from streams.pipeline import _kernels
from streams.pipeline.english import WORD_CACHE_SIZE, ComputedTable
from streams.pipeline.facts.lexicon import is_acronym
from streams.pipeline.facts.words import ABBREVIATIONS, NUMBER_WORDS, STOPWORDS

_PARAGRAPH_RE = re.compile(r"\n[ \t]*\n\s*")
_NEWLINE_RE = re.compile("\n")
# [.!?…][.!?…]* rather than [.!?…]+: a pattern that opens with a character set lets the regex engine skip
# straight to the next stop. Only the first stop of a run starts a match, and nothing is given back (giving
# back never helps: a stop is neither a closing mark nor a space): a long run of stops is read once, not once
# from each of its stops (40,000 dots took 16 s).
_SENTENCE_END_RE = re.compile(r"[.!?…](?<![.!?…][.!?…])[.!?…]*+[\"”’')\]]*+\s++(?=[\"“‘'(\[•]*[A-Z0-9])")
_OPEN_CONTEXT = " \t\n([{—–-:;/"


# A token: its text (a possessive 's removed), start, end, lowercase form, sentence, whether it opens the sentence
# (or a quote, or follows a colon) and whether it had the possessive. Made in C (`_kernels.c`) by `_add_sentence`.
Tok = _kernels.Token


@dataclass(slots=True)
class Sentence:
    start: int
    end: int
    first: int  # index of its first token
    last: int  # index past its last token


@dataclass(slots=True)
class QuoteSpan:
    open: int  # index of the opening quote mark
    close: int  # index of the closing quote mark (or the paragraph's end)
    sent: int = -1


@dataclass(slots=True)
class Usage:
    """How the article itself writes words: capitalised mid-sentence (names) or in lowercase (common words)."""

    capitalised: set[str] = field(default_factory=set)
    lowercase: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Doc:
    """The tokenised text, with notes the tokeniser takes on the way so later passes need not scan every token."""

    text: str
    tokens: list[Tok] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)
    quotes: list[QuoteSpan] = field(default_factory=list)
    capitalised: list[int] = field(default_factory=list)  # capitalised tokens of prose: where names can start
    numbers: list[int] = field(default_factory=list)  # tokens that may start a number: digits, number words
    # How prose (not a Title Case line) writes its words: the tokeniser lists them, analyse makes `usage`.
    capitalised_words: list[str] = field(default_factory=list)  # capitalised, not opening a sentence
    lowercase_words: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


def analyse(text: str) -> Doc:
    """Split into paragraphs, find quotes, split sentences outside quotes, tokenise; one linear pass each."""
    doc = Doc(text)
    pos = 0
    for match in _PARAGRAPH_RE.finditer(text + "\n\n"):
        if match.start() > pos:
            _analyse_paragraph(doc, pos, match.start())
        pos = match.end()
    capitalised = set(doc.capitalised_words)
    compounds = [word for word in capitalised if "-" in word]  # their parts count as capitalised too
    capitalised.update(part for word in compounds for part in word.split("-"))
    doc.usage = Usage(capitalised, set(doc.lowercase_words))
    return doc


def _analyse_paragraph(doc: Doc, start: int, end: int) -> None:
    """Quotes are masked before sentence splitting, so a quote's full stops never end the sentence around it."""
    text = doc.text
    quotes = _find_quotes(text, start, end)
    pieces, pos = [], start
    for q in quotes:
        inner_end = min(q.close, end)
        if q.open < pos or inner_end <= q.open:
            continue
        keep_stop = inner_end - 1 > q.open and text[inner_end - 1] in ".!?"
        pieces.append(text[pos : q.open + 1])
        pieces.append("X" * (inner_end - q.open - 1 - keep_stop) + (text[inner_end - 1] if keep_stop else ""))
        pos = inner_end
    pieces.append(text[pos:end])
    opens = [q.open for q in quotes]  # sorted: each sentence is given the quotes opening in it, by bisection
    for s_start, s_end in _sentence_bounds("".join(pieces), start):
        _add_sentence(doc, s_start, s_end, quotes[bisect_left(opens, s_start) : bisect_left(opens, s_end)])
    doc.quotes.extend(quotes)


_DOUBLE_QUOTE_RE = re.compile("[\"“”„«»]")
_SINGLE_OPEN_RE = re.compile("['‘](?=\\w)")
_SINGLE_CLOSE_RE = re.compile("['’](?!\\w)")
_FOUR_WORDS_RE = re.compile(r"\s*+\S++\s++\S++\s++\S++\s++\S")  # four words or more, read no further


def _find_quotes(text: str, start: int, end: int) -> list[QuoteSpan]:
    """Double-quoted passages (straight or curly), then single-quoted ones that are not apostrophes."""
    found: list[QuoteSpan] = []
    open_at = -1
    paragraph = text[start:end]  # str.__contains__ tells much faster than a regex scan when there is no quote
    doubles = _DOUBLE_QUOTE_RE.finditer(text, start, end) if any(map(paragraph.__contains__, "\"“”„«»")) else ()
    for match in doubles:
        i = match.start()
        c = text[i]
        prev = text[i - 1] if i > start else " "
        if open_at < 0:
            if c in "“„«" or (c == '"' and (prev in _OPEN_CONTEXT or i == start)):
                open_at = i
        elif c in "”»\"“":
            found.append(QuoteSpan(open_at, i))
            open_at = -1
    if open_at >= 0:
        found.append(QuoteSpan(open_at, end))
    singles = _find_single_quotes(text, start, end, found) if "'" in paragraph or "‘" in paragraph else []
    return sorted(found + singles, key=lambda q: q.open)


def _find_single_quotes(text: str, start: int, end: int, doubles: list[QuoteSpan]) -> list[QuoteSpan]:
    """'...' passages of four words or more; an apostrophe (Norway's, allies' plans) never opens or closes one.

    The closing marks are found once per paragraph and each opening mark looks its close up, so a paragraph of
    many opening marks and no close is read once, not once per mark."""
    found: list[QuoteSpan] = []
    after = start
    closes, plurals = _single_quote_closes(text, start, end)
    double_opens = [d.open for d in doubles]
    for match in _SINGLE_OPEN_RE.finditer(text, start, end):
        i = match.start()
        if i < after or not (i == start or text[i - 1] in _OPEN_CONTEXT or text[i - 1] in "\"“"):
            continue
        inside = bisect_left(double_opens, i) - 1  # the last double quote opened before i
        if inside >= 0 and i < doubles[inside].close:
            continue
        close = _first_after(closes, i)
        close = close if close > 0 else _first_after(plurals, i)
        if close > 0 and _FOUR_WORDS_RE.match(text, i + 1, close):
            found.append(QuoteSpan(i, close))
            after = close + 1
    return found


def _single_quote_closes(text: str, start: int, end: int) -> tuple[list[int], list[int]]:
    """Where a single quote can close: after punctuation, before punctuation or after a non-plural word; and
    after a plural ("allies' " is usually a possessive: such a mark closes a quote only if no other does)."""
    closes, plurals = [], []
    for match in _SINGLE_CLOSE_RE.finditer(text, start, end):
        j = match.start()
        nxt = text[j + 1] if j + 1 < end else " "
        prev = text[j - 1]
        if prev in ".,!?;:…" or nxt in ".,;:!?)" or prev not in "sS":
            closes.append(j)
        else:
            plurals.append(j)
    return closes, plurals


def _first_after(positions: list[int], i: int) -> int:
    at = bisect_right(positions, i)
    return positions[at] if at < len(positions) else -1


def _sentence_bounds(masked: str, offset: int) -> list[tuple[int, int]]:
    """Sentence spans of one paragraph: a stop then a capital, unless the stop ends an abbreviation or initial."""
    bounds: list[tuple[int, int]] = []
    begin = 0
    for match in _SENTENCE_END_RE.finditer(masked):
        stop = match.start()
        if masked[stop] == "." and _is_abbreviation(masked, stop):
            continue
        bounds.append((begin, match.end()))
        begin = match.end()
    bounds.append((begin, len(masked)))
    if "\n" not in masked:
        return [(offset + b, offset + e) for b, e in bounds if masked[b:e].strip()]
    out: list[tuple[int, int]] = []
    for b, e in bounds:  # a hard line break after a short line (a heading) or after a stop also ends one
        line_start = b
        for newline in _NEWLINE_RE.finditer(masked, b, e):
            cut = newline.start()
            line = masked[line_start:cut].strip()
            if line and (len(line) < 50 or line[-1] in ".!?:\"”’"):
                out.append((line_start, cut))
                line_start = cut + 1
        out.append((line_start, e))
    return [(offset + b, offset + e) for b, e in out if masked[b:e].strip()]


def _is_abbreviation(masked: str, stop: int) -> bool:
    tail = masked[stop - 5 : stop]
    if len(tail) == 5 and tail.isalpha() and tail.islower():
        return False  # the common case, a lowercase word of five letters or more: never an abbreviation
    j = stop
    while j > 0 and (masked[j - 1].isalpha() or masked[j - 1] == "."):
        j -= 1
    word = masked[j:stop]
    if len(word) == 1 and word.isupper():
        return True  # an initial: "Mary J. Blake"
    if "." in word and is_acronym(word + "."):
        return True  # U.S. / U.K.
    return word.lower() in ABBREVIATIONS


# Kinds of token, numbered as `_kernels.sentence` reads them. A plain word is a lowercase word with nothing else to
# note (most tokens); an opener is a mark that makes the next word initial.
_PLAIN, _WORD, _NUMBER, _MARK, _OPENER = range(5)


def _token_form(surface: str) -> tuple[str, str, int, bool, bool, bool, bool, bool, bool]:
    """What tokenising needs to know of one surface form (kept in TOKEN_FORMS, as prose repeats its words):

    (text without a possessive 's, its lowercase form, kind, possessive, may take the period after it, starts
    with a capital, starts in lowercase, capitalised function word, may start a number)."""
    first = surface[0]
    capital, lower = first.isupper(), first.islower()
    if not first.isalpha():
        kind = _NUMBER if first.isdigit() else _OPENER if surface in ":\"“‘•" else _MARK
        return surface, surface, kind, False, False, capital, lower, False, kind == _NUMBER
    abbreviation = (len(surface) == 1 and capital) or surface.lower() in ABBREVIATIONS
    poss = len(surface) > 2 and surface.endswith(("'s", "’s"))
    if poss:
        surface = surface[:-2]
    low = surface.lower()
    capital_stopword = capital and low in STOPWORDS and not surface.isupper()
    number = low.partition("-")[0] in NUMBER_WORDS
    kind = _PLAIN if lower and not (abbreviation or poss or number) else _WORD
    return surface, low, kind, poss, abbreviation, capital, lower, capital_stopword, number


# Surface form -> its `_token_form`, which the tokeniser reads for each of an article's few hundred tokens: one
# lookup from C, where calling an lru_cache'd function took the tokeniser 434.6 k instructions per article, against
# 365.6 k now (callgrind). Two generations of half the words' cache size: at most the forms lru_cache held.
TOKEN_FORMS = ComputedTable(_token_form, WORD_CACHE_SIZE // 2)


def _add_sentence(doc: Doc, start: int, end: int, quotes: list[QuoteSpan]) -> None:
    """Tokenise one sentence (`quotes`: those opening in it); mark which words open it (or open a quote, or follow
    a colon).

    On the way, note the tokens that may start a number, and unless the sentence is a Title Case line, its
    capitalised tokens and how it writes its words (see Doc): one pass over the tokens instead of four. The pass
    is in C (`_kernels.sentence`), which reads each token's `_token_form` from TOKEN_FORMS:
    - tokens are U.S. and U.S.-Chinese; 100,000, 2.5 and 57-nation; words, hyphenated words, O'Brien, Norway's;
      one punctuation character (as the regex in tests/streams/pipeline/test_kernels.py finds them);
    - an abbreviation takes the period after it ("Mr.", "J."); a possessive's token ends before its 's;
    - the first word (or number) of the sentence is initial, and so is the one after an opener or a quote's
      opening mark;
    - a word counts towards telling a Title Case line from prose; a capitalised function word does unless
      initial, and one that took its period does not."""
    index, first = len(doc.sentences), len(doc.tokens)
    openers = set()
    for q in quotes:
        q.sent = index
        openers.add(q.open)
    capital_tokens, capitalised, lowercase = doc.capitalised, doc.capitalised_words, doc.lowercase_words
    noted = len(capital_tokens), len(capitalised), len(lowercase)  # to forget if this is a Title Case line
    words, capitals, capital_stopwords = _kernels.sentence(
        doc.text, start, end, index, openers, TOKEN_FORMS, doc.tokens, doc.numbers, capital_tokens, capitalised, lowercase
    )
    tokens, last = doc.tokens, len(doc.tokens)
    headline = words >= 4 and _is_headline(words, capitals, capital_stopwords, last > first and tokens[-1].text)
    doc.sentences.append(Sentence(start, end, first, last))
    if headline:  # a Title Case line: no evidence about which words are names
        del capital_tokens[noted[0] :], capitalised[noted[1] :], lowercase[noted[2] :]


def _is_headline(words: int, capitals: int, capital_stopwords: int, last_token: str) -> bool:
    """Title Case lines (headlines, captions, menus) capitalise common words: they say nothing about names."""
    if capital_stopwords >= 2:
        return True
    ends_like_prose = last_token in {".", "!", "?", "\"", "”", "’", "'", ":"}
    return not ends_like_prose and capitals >= 0.7 * words
