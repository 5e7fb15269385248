"""Name mentions: capitalised spans split into role, honorific and name, with the cues around each.

The first pass over names: it finds every mention; entities.py decides which
mentions are one person, organisation or place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from streams.pipeline.english import WORD_CACHE_SIZE, word_tokens, zipf
from streams.pipeline.facts.document import Doc, Tok, Usage
from streams.pipeline.facts.lexicon import is_acronym, is_demonym, trie_pattern
from streams.pipeline.facts.words import (
    ADJECTIVAL_TAILS,
    EVENT_NOUNS,
    GENERIC_ACRONYMS,
    HONORIFICS,
    INSTITUTIONS,
    LOWER_ROLE_HEADS,
    MONTHS,
    NAME_SUFFIXES,
    OBJECT_PREPOSITIONS,
    ORG_WORDS,
    PARTICLES,
    PLACE_PREPOSITIONS,
    PLACE_WORDS,
    PLACES,
    ROLE_HEADS,
    ROLE_MODIFIERS,
    ROLE_WORDS,
    SENTENCE_ADVERBS,
    SPEECH_BEFORE,
    SPEECH_VERBS,
    STOPWORDS,
    WEEKDAY_ABBREVIATIONS,
    WEEKDAYS,
)

COMMON_ZIPF = 3.5  # a sentence-initial word this frequent in English is a common word, not a name
SHOUTED_ZIPF = 5.0  # an all-caps word this frequent is emphasis ("READ MORE"), not an acronym


@dataclass(slots=True)
class Mention:
    """One name as the text writes it at one place, with its role and the cues around it."""

    name: str
    tokens: tuple[str, ...]
    start: int  # of the name itself
    end: int
    sent: int
    outer_start: int  # of the role phrase before it, where there is one
    role: str | None = None
    honorific: bool = False
    cues: set[str] = field(default_factory=set)
    entity: int = -1


_AGENT_PLURAL_ENDINGS = ("ers", "ors", "ists", "ants", "ents", "ives")


@lru_cache(maxsize=WORD_CACHE_SIZE)
def _may_be_name(word: str) -> bool:
    """Can this word be part of a name? Capitalised, not a function word, date word or shouted common word.

    Cached, since a text repeats its names. A word that opens a sentence must also pass _initial_is_name."""
    if not word[:1].isupper() or word == "I":
        return False
    low = word.lower()
    if low in WEEKDAYS or low in WEEKDAY_ABBREVIATIONS or (low in STOPWORDS and not is_acronym(word)):
        return False
    if "-" in word and not is_acronym(word):
        tail = word.rpartition("-")[2]
        if tail[:1].islower() and (tail in ADJECTIVAL_TAILS or tail.endswith("ed")):
            return False  # Beijing-backed
        if _is_demonym_compound(word):
            return False  # U.S.-Chinese talks, Chinese-EU relations (but see _spans)
    if is_acronym(word):
        shouted = zipf(low) >= SHOUTED_ZIPF and word not in PLACES and word.title() not in PLACES
        return word not in GENERIC_ACRONYMS and not shouted
    return True


def _initial_is_name(tok: Tok, usage: Usage) -> bool:
    """A word that opens a sentence is capitalised anyway: it is a name if it is a role, place or acronym, is
    capitalised elsewhere in the text, or is a rare word the text never writes in lowercase."""
    t, low = tok.text, tok.low
    if is_acronym(t) or low in HONORIFICS or low in ROLE_WORDS or t in PLACES or is_demonym(t):
        return True
    caps = usage.capitalised
    if t in caps or all(p in caps for p in t.split("-")):
        return True
    if low in usage.lowercase or low.endswith(_AGENT_PLURAL_ENDINGS):
        return False  # written in lowercase elsewhere, or a plural like "Organisers", "Negotiators"
    return zipf(low) < COMMON_ZIPF and low not in MONTHS


def _is_initial(word: str) -> bool:
    return len(word) == 2 and word[1] == "." and word[0].isupper()


def _is_demonym_compound(word: str) -> bool:
    """"U.S.-Russian", "Nordic-Baltic": an adjective, unless a name follows ("Nordic-Baltic Fisheries Council")."""
    parts = word.split("-")
    return len(parts) > 1 and word not in PLACES and parts[0][:1].isupper() and any(is_demonym(p) for p in parts)


def _spans(doc: Doc, named: list[bool]) -> list[tuple[int, int]]:
    """Runs of name tokens (token index ranges), joined by "of/for/and/in" inside organisation names.

    `named[i]` says whether token i can be part of a name (computed once per token). Names start at
    capitalised tokens, which the tokeniser noted for prose sentences."""
    toks, sentences = doc.tokens, doc.sentences
    out: list[tuple[int, int]] = []
    resume = 0  # the end of the last span: names do not overlap
    for i in doc.capitalised:
        if i < resume:
            continue
        last = sentences[toks[i].sent].last
        if not _starts_name(toks, named, i, last):
            continue
        j = i + 1
        long_form = False
        while j < last and not toks[j - 1].poss:
            tok = toks[j]
            if tok.text == "&" and j + 1 < last and named[j + 1]:
                j += 2
                continue
            if named[j] and is_demonym(tok.text) and not is_demonym(toks[j - 1].text):
                if toks[j - 1].low not in STOPWORDS:
                    break  # "In Lima Peruvian President Ana Ruiz": the demonym starts a new name
            if named[j] or _is_initial(tok.text):
                j += 1
                continue
            if tok.low in MONTHS and tok.text[:1].isupper() and j - i == 1 and toks[i].low not in ROLE_HEADS:
                j += 1  # Theresa May
                continue
            step = _connector_step(toks, named, i, j, last, long_form)
            if not step:
                break
            long_form = long_form or (tok.low in {"of", "for"} and toks[j - 1].low in ORG_WORDS)
            j += step
        while j - 1 > i and not toks[j - 1].text[0].isupper():
            j -= 1  # never end on a connector
        out.append((i, j))
        resume = j
    return out


def _starts_name(toks: list[Tok], named: list[bool], i: int, last: int) -> bool:
    """A name starts here: a name token (not a month), or a first name before an initial ("Mary J. Blake")."""
    tok = toks[i]
    has_next = i + 1 < last
    if _is_initial(tok.text):
        return has_next and (_is_initial(toks[i + 1].text) or named[i + 1])
    if named[i]:
        return tok.low not in MONTHS
    if not has_next or not tok.text[:1].isupper():
        return False
    nxt = toks[i + 1]
    if _is_demonym_compound(tok.text):
        return named[i + 1] and not is_demonym(nxt.text)
    if tok.low in PARTICLES:  # "Von der Leyen said", "De Gaulle"
        n = i + 1
        while n < last and toks[n].low in PARTICLES and n - i < 3:
            n += 1
        return n < last and named[n]
    if not tok.initial or tok.low in STOPWORDS:
        return False
    if _is_initial(nxt.text):
        return True  # "Mary J. Blake"
    # A sentence-initial common word still opens a name before an organisation or role word ("Harbour
    # Authority chairman ...", "Civil Protection Minister ..."), unless it is an adverb ("Yesterday President X").
    if not named[i + 1] or tok.low in SENTENCE_ADVERBS or tok.low.endswith("ly"):
        return False
    return nxt.low in ORG_WORDS or nxt.low in ROLE_HEADS or nxt.low in ROLE_MODIFIERS


def _connector_step(toks: list[Tok], named: list[bool], i: int, j: int, last: int, long_form: bool) -> int:
    """How many connector tokens to take at j (0: the span ends). "Secretary of State", "Organization for ..."."""
    low = toks[j].low
    nxt = j + 1
    if low in PARTICLES:  # "Ursula von der Leyen"
        while nxt < last and toks[nxt].low in PARTICLES and nxt - j < 3:
            nxt += 1
        return nxt - j if nxt < last and named[nxt] else 0
    if low in {"of", "for"}:
        has_head = any(t.low in ORG_WORDS or t.low in ROLE_HEADS for t in toks[i:j])
        if nxt < last and toks[nxt].low == "the":
            nxt += 1
        if has_head and nxt < last and named[nxt] and toks[nxt].low not in MONTHS:
            return nxt - j
    if low in {"and", "in"} and long_form and nxt < last and named[nxt]:
        return 1
    return 0


@dataclass(slots=True)
class _Segmented:
    prefix: tuple[int, int] | None  # tokens before the role ("UN" in "UN Secretary-General X")
    role_start: int  # token index where the role begins (== name start when no role)
    name: tuple[int, int]
    honorific: bool


def _segment(toks: list[Tok], i: int, j: int) -> _Segmented | None:
    """Split a span into [prefix][role][honorific] name: "UN | Secretary-General | Ana Ruiz"."""
    k = j
    while k > i and toks[k - 1].low not in ROLE_HEADS and toks[k - 1].low not in HONORIFICS:
        k -= 1
    if k == i:  # no role word and no honorific
        return _Segmented(None, i, (i, j), False)
    head = k - 1
    if toks[head].low in HONORIFICS:
        role_begin = _role_begin(toks, i, head)
        prefix = (i, role_begin) if role_begin > i else None
        return _Segmented(prefix, role_begin, (k, j), True) if k < j else None
    name_start = _after_role_complement(toks, k, j)
    if name_start >= j:
        return _Segmented((i, _role_begin(toks, i, head)), _role_begin(toks, i, head), (j, j), False)
    if any(t.low in ORG_WORDS for t in toks[name_start:j]):
        return _Segmented(None, i, (i, j), False)  # "Justice Department": an organisation, not a role
    role_begin = _role_begin(toks, i, head)
    prefix = (i, role_begin) if role_begin > i else None
    return _Segmented(prefix, i if prefix is None else role_begin, (name_start, j), False)


def _role_begin(toks: list[Tok], i: int, head: int) -> int:
    """The first of the role words that run up to the role's head ("Deputy Finance Minister")."""
    b = head
    while b > i and (toks[b - 1].low in ROLE_MODIFIERS or toks[b - 1].low in ROLE_HEADS):
        b -= 1
    return b


def _after_role_complement(toks: list[Tok], k: int, j: int) -> int:
    """Skip "of (the) Czech Republic" / "of State" after a role head: the name starts after it."""
    if k < j and toks[k].low in {"of", "for"}:
        m = k + 1
        if m < j and toks[m].low == "the":
            m += 1
        best = -1
        for n in range(m, min(j, m + 4)):
            t = toks[n]
            if t.low in ROLE_MODIFIERS or t.low in ORG_WORDS or t.low in PLACE_WORDS or t.text in PLACES:
                best = n + 1
        if best > 0:
            return best
    return k


def find_mentions(doc: Doc) -> list[Mention]:
    """Every name mention with its role, honorific and the cues (said, in X, ...) around it."""
    toks, text = doc.tokens, doc.text
    mentions: list[Mention] = []
    named = [False] * len(toks)  # can token i be part of a name? Only capitalised tokens of prose can
    for i in doc.capitalised:
        tok = toks[i]
        named[i] = _may_be_name(tok.text) and (not tok.initial or _initial_is_name(tok, doc.usage))
    spans = _spans(doc, named)
    span_before = {j: i for i, j in spans}
    for i, j in spans:
        seg = _segment(toks, i, j)
        if seg is None:
            continue
        if seg.prefix and _standalone_name(toks[seg.prefix[0] : seg.prefix[1]]):
            _add_mention(mentions, toks, text, seg.prefix[0], seg.prefix[1], None, False)
        a, b = seg.name
        if a >= b:
            continue
        role = None
        role_start = toks[seg.role_start].start
        if seg.role_start < a and not seg.honorific:
            role = text[toks[seg.prefix[0] if seg.prefix else seg.role_start].start : toks[a - 1].end]
            role_start = toks[seg.prefix[0]].start if seg.prefix else role_start
        elif not seg.honorific:
            role, role_start = _lowercase_role(toks, text, a, b, role_start, span_before)
        mention = _add_mention(mentions, toks, text, a, b, role, seg.honorific)
        if mention is not None:
            mention.outer_start = min(role_start, mention.start)
    for m in mentions:
        _add_context_cues(m, doc)
    _expand_acronyms(mentions, text)
    return mentions


_ACRONYM_DEFINITION_RE = re.compile(r"\s*\(\s*([A-Z][A-Z.&-]{1,12})\s*\)")


def _expand_acronyms(mentions: list[Mention], text: str) -> None:
    """"World Health Organization (WHO)": later "WHO" mentions are the long name.

    Likewise a name without its company suffix is the name with it ("Apple" -> "Apple Inc")."""
    expansions: dict[str, tuple[str, tuple[str, ...]]] = {}
    for m in mentions:
        match = _ACRONYM_DEFINITION_RE.match(text, m.end) if len(m.tokens) > 1 and m.role is None else None
        if match and match.group(1)[0] == m.name[0]:
            expansions.setdefault(match.group(1), (m.name, m.tokens))
        if len(m.tokens) > 1 and m.tokens[-1].lower() in NAME_SUFFIXES:  # "Apple" is "Apple Inc"
            expansions.setdefault(_join_name(list(m.tokens[:-1])), (m.name, m.tokens))
    if expansions:
        for m in mentions:
            if m.name in expansions:
                m.name, m.tokens = expansions[m.name]


def _standalone_name(toks: list[Tok]) -> bool:
    """Is the part before a role a name of its own ("UN", "US", "State Department"), not an adjective?"""
    if not toks:
        return False
    last = toks[-1].text
    return (
        is_acronym(last)
        or last in PLACES
        or last in INSTITUTIONS
        or any(t.low in ORG_WORDS for t in toks)
    )


def _lowercase_role(
    toks: list[Tok], text: str, a: int, b: int, default: int, span_before: dict[int, int]
) -> tuple[str | None, int]:
    """A lowercase role right before a name, with the name it belongs to: "Treasury spokeswoman", "press secretary"."""
    k = a - 1
    if k > 0 and toks[k].text == "," and b < len(toks) and toks[b].text == ",":
        k -= 1  # "the company's chief executive, Tim Cook, said"
    if k < 0 or toks[k].sent != toks[a].sent or toks[k].low not in LOWER_ROLE_HEADS or toks[k].text[:1].isupper():
        return None, default
    r = k
    while r > 0 and toks[r - 1].sent == toks[a].sent and toks[r - 1].low in ROLE_MODIFIERS:
        if toks[r - 1].text[:1].isupper():
            break
        r -= 1
    c = span_before.get(r, r)  # the name right before the role: "Treasury", "Peruvian President Ruiz's"
    return text[toks[c].start : toks[k].end], toks[c].start


def _add_mention(
    mentions: list[Mention], toks: list[Tok], text: str, a: int, b: int, role: str | None, honorific: bool
) -> Mention | None:
    """Record a name of tokens a..b, trimming a leading demonym from personal names ("Peruvian Ana Ruiz")."""
    words = [t.text for t in toks[a:b]]
    if len(words) > 1 and is_demonym(words[0]) and not any(
        w.lower() in ORG_WORDS or w.lower() in PLACE_WORDS or w in PLACES for w in words[1:]
    ):
        a, words = a + 1, words[1:]
    lone = len(words) == 1 and role is None and not honorific
    if lone and (is_demonym(words[0]) or words[0].lower() in NAME_SUFFIXES):
        return None  # "Peruvian", "Inc."
    if words[0].isupper() and " ".join(w.title() for w in words) in PLACES:
        words = [w.title() for w in words]  # datelines: "SAN FRANCISCO", "BRUSSELS"
    name = _join_name(words)
    if not name or ROLE_WORDS.issuperset(map(str.lower, words)):
        return None
    mention = Mention(name, tuple(words), toks[a].start, toks[b - 1].end, toks[a].sent, toks[a].start, role, honorific)
    mentions.append(mention)
    return mention


def _join_name(words: list[str]) -> str:
    return " ".join(words)


_SPEECH_ADVERBS = (
    "has", "have", "had", "also", "later", "then", "again", "once", "previously", "earlier", "reportedly",
    "repeatedly", "further",
)  # fmt: skip
_SPEECH_AFTER_RE = re.compile(
    r"^(?:\s*,[^,;:]{1,80},)?\s*(?:(?:" + "|".join(_SPEECH_ADVERBS) + r")\s+)*(" + trie_pattern(SPEECH_VERBS) + r")\b"
)
# What _SPEECH_AFTER_RE's match can open with: a comma, an adverb or a verb's first word (as `word_tokens` reads a
# text's first token). Most texts after a name open with none of them, and telling so is cheaper than the regex.
_SPEECH_AFTER_OPENINGS = frozenset([",", *_SPEECH_ADVERBS, *(word_tokens(verb, 1)[0] for verb in SPEECH_VERBS)])
_SPEECH_BEFORE_RE = re.compile(r"\b(?:" + "|".join(SPEECH_BEFORE) + r")\s+$")
_APPOSITIVE_RE = re.compile(
    r"^,\s+(?:the|a|an)\s+((?:[^,;:()—–.]|\.(?=\S)|\.(?=\s+[a-z]))"
    r"{3,90}?)(?=\s*(?:,|\s--|—|–|;|\)|\.(?:\s|$)|$))"
)


def _add_context_cues(m: Mention, doc: Doc) -> None:
    """Cues from the words around a mention: followed by "said", after "in", an initial inside, an appositive role."""
    text = doc.text
    after = text[m.end : m.end + 100]
    before = text[max(0, m.outer_start - 30) : m.outer_start]
    words = before.rsplit(None, 1) if m.outer_start == m.start else ()
    previous = words[-1].lower() if words else ""
    # "X said" makes X a speaker, but not in "analysts at Morgan Stanley said": the analysts speak.
    opening = word_tokens(after, 1)
    speech_may_follow = bool(opening) and opening[0] in _SPEECH_AFTER_OPENINGS
    if speech_may_follow and previous not in OBJECT_PREPOSITIONS and _SPEECH_AFTER_RE.match(after):
        m.cues.add("speech")
    elif before.rstrip().endswith(SPEECH_BEFORE) and _SPEECH_BEFORE_RE.search(before):  # cheap test first
        m.cues.add("speech")
    if previous in PLACE_PREPOSITIONS:
        m.cues.add("prep")
    if len(m.tokens) >= 3 and any(len(t) == 2 and t.endswith(".") for t in m.tokens[1:-1]):
        m.cues.add("initial")
    nxt = after.split(None, 1)
    if nxt and nxt[0].lower().strip(".,;:") in EVENT_NOUNS:
        m.cues.add("event")
    if m.role is None and len(m.tokens) >= 2 and not m.honorific:
        app = _APPOSITIVE_RE.match(after) if after.startswith(",") else None
        if app and any(w.lower().strip(".,") in ROLE_HEADS for w in app.group(1).split()[:5]):
            m.role = app.group(1).strip()
            m.cues.add("appositive")
