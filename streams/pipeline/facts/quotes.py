"""Quotes and their speakers, from speech verbs next to a name, a pronoun or a role noun."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from schemas.stories import Quote
from streams.pipeline.facts.document import Doc, QuoteSpan, Sentence
from streams.pipeline.facts.entities import Entity
from streams.pipeline.facts.lexicon import trie_pattern
from streams.pipeline.facts.names import Mention
from streams.pipeline.facts.words import (
    INVERTED_SPEECH_VERBS,
    LOWER_ROLE_HEADS,
    PARTICIPLE_VERBS,
    SPEECH_VERBS,
)

# The gap between a name and its verb, matched in place (Pattern.match from `pos` to `endpos`, hence no "^").
_ADJACENT_SUBJECT_RE = re.compile(
    r"(?:\s*,[^,;:]{1,80},|\s*,)?\s*(?:(?:has|have|had|also|later|then|again|once|previously|earlier"
    r"|reportedly|repeatedly|further|subsequently|was|is|first|quickly|publicly)\s+)*$"
)
# The longest gap between a name and its verb that _ADJACENT_SUBJECT_RE is tried on: an 80-character aside between
# commas and a few adverbs take half of it. Unbounded, a name before thousands of adverbs was read to each verb.
_SUBJECT_GAP_CHARS = 240
_SPACES_RE = re.compile(r"\s*")
_PRONOUN_SUBJECT_RE = re.compile(
    r"(?:^|[\s,;:])(he|she)\s+(?:(?:has|had|also|later|then|again|once|further)\s+)*$", re.I
)
_PRONOUN_OBJECT_RE = re.compile(r"^\s*(?:to\s+)?(him|her|he|she)\b", re.I)
_NOMINAL_SUBJECT_RE = re.compile(r"(?:^|[\s,])(?:the|a|an)\s+([^,;:.]{1,60}?)\s+$", re.I)
_LEADING_PRONOUN_RE = re.compile(r"(?i)(?:he|she)\b")
_OPENING_MARKS_RE = re.compile(r"[ \"“‘']*")
_CAPITALISED_RE = re.compile(r"[A-Z][\w.-]*")


@dataclass(slots=True)
class Verb:
    """A speech verb outside quotes."""

    word: str
    start: int
    end: int


class _People:
    """Where people are named, to resolve "he said" to the subject of the sentences before it, and "the WHO chief
    said" to the person with that role."""

    def __init__(self, doc: Doc, mentions: list[Mention], entities: list[Entity]) -> None:
        self.entities = entities
        self.sentence_starts = [s.start for s in doc.sentences]
        self.by_sentence: dict[int, list[tuple[int, int]]] = {}
        for m in sorted(mentions, key=lambda m: m.start):
            if m.entity >= 0 and entities[m.entity].kind == "person":
                self.by_sentence.setdefault(m.sent, []).append((m.start, m.entity))
        # For each capitalised word of a role: the people whose role has it, in entity order, and the earliest
        # first mention among each prefix of them (negated, so it ascends for bisect).
        self.by_role_word: dict[str, tuple[list[int], list[int]]] = {}
        for index, e in enumerate(entities):
            if e.kind == "person" and e.role:
                for word in set(_CAPITALISED_RE.findall(e.role)):
                    people, earliest = self.by_role_word.setdefault(word, ([], []))
                    people.append(index)
                    earliest.append(max(-e.first, earliest[-1]) if earliest else -e.first)

    def antecedent(self, pos: int) -> str | None:
        """The first person named before pos in its sentence, else the subject of the nearest sentence before."""
        sent = max(0, bisect_left(self.sentence_starts, pos + 1) - 1)
        same = self.by_sentence.get(sent)
        if same and same[0][0] < pos:
            return self.entities[same[0][1]].name
        for index in range(sent - 1, max(-1, sent - 6), -1):
            people = self.by_sentence.get(index)
            if people:
                return self.entities[people[0][1]].name
        return None

    def by_role(self, words: set[str], before: int) -> str | None:
        """The first person (in entity order) named before `before` whose role shares a word with `words`."""
        best = len(self.entities)
        for word in words:
            people, earliest = self.by_role_word.get(word, ((), ()))
            at = bisect_right(earliest, -before)  # the first of them named before `before`
            if at < len(people):
                best = min(best, people[at])
        return self.entities[best].name if best < len(self.entities) else None


def quotes(doc: Doc, mentions: list[Mention], entities: list[Entity]) -> list[Quote]:
    """Each quote with its speaker; short scare quotes only when someone is named as saying them."""
    if not doc.quotes:
        return []
    attribution = _Attribution(doc, mentions, entities)
    out: list[Quote] = []
    seen: set[str] = set()
    for q in doc.quotes:
        text = _clean_quote(doc.text[q.open + 1 : q.close])
        if not text or text in seen:
            continue
        speaker = attribution.speaker(q)
        if len(text.split()) < 4 and speaker is None:
            continue
        seen.add(text)
        out.append(Quote(text=text, speaker=speaker))
    return out


def _clean_quote(text: str) -> str:
    return " ".join(text.split()).strip(" ,;:.…-—–")


_VERB_RE = re.compile(r"\b(" + trie_pattern(SPEECH_VERBS | {"according to"}) + r")\b", re.I)


class _Attribution:
    """The article's quotes and names, and each sentence's speech verbs read once, whatever number of quotes
    ask about them (asking per quote made a sentence of many quotes cubic)."""

    def __init__(self, doc: Doc, mentions: list[Mention], entities: list[Entity]) -> None:
        self.doc = doc
        self.people = _People(doc, mentions, entities)
        self.by_sentence: dict[int, list[Mention]] = {}
        for m in mentions:
            self.by_sentence.setdefault(m.sent, []).append(m)
        spans = sorted((q.open, q.close) for q in doc.quotes)
        self.opens = [open_ for open_, _ in spans]
        self.closes = [close for _, close in spans]
        self.contexts: dict[int, _SpeakerContext] = {}

    def context(self, index: int) -> _SpeakerContext:
        found = self.contexts.get(index)
        if found is None:
            found = self.contexts[index] = _SpeakerContext(self, index)
        return found

    def has_quote(self, sent: Sentence) -> bool:
        at = bisect_left(self.opens, sent.start)
        return at < len(self.opens) and self.opens[at] < sent.end

    def speaker(self, q: QuoteSpan) -> str | None:
        """Who says the quote: the speech verb nearest to it in its sentence, then the sentences around it."""
        if q.sent < 0:
            return None
        ctx = self.context(q.sent)
        found = ctx.after[bisect_left(ctx.verb_starts, q.close)] or ctx.before[bisect_right(ctx.verb_ends, q.open)]
        if found or ctx.verbs:
            return found
        return self._neighbour_speaker(q)

    def _neighbour_speaker(self, q: QuoteSpan) -> str | None:
        """A quote standing alone: attributed by the sentence before it ("X said:") or right after it."""
        doc = self.doc
        sent = doc.sentences[q.sent]
        whole = doc.text[sent.start : q.open].strip(" \n\t•-") == "" and q.close >= sent.end - 3
        for index in (q.sent - 1, q.sent + 1):
            if not 0 <= index < len(doc.sentences):
                continue
            other = doc.sentences[index]
            body = doc.text[other.start : other.end].strip()
            if index < q.sent and not (body.endswith(":") or whole):
                continue
            if self.has_quote(other):
                continue
            ctx = self.context(index)
            if index < q.sent and body.endswith(":"):  # "Reinholt spoke to reporters on the quay:"
                found = ctx.first_person_name()
                if found:
                    return found
            if ctx.after[0]:
                return ctx.after[0]
        return None


class _SpeakerContext:
    """One sentence's speech verbs and the speakers they name, with its names indexed to find those.

    after[i]: the speaker named by the first of verbs[i:] that names one ("X said", "said X"); before[i]: by the
    last of verbs[:i] that names one. A quote looks these up instead of trying each verb around it."""

    def __init__(self, attribution: _Attribution, index: int) -> None:
        self.doc = doc = attribution.doc
        self.people = attribution.people
        self.sent = sent = doc.sentences[index]
        mentions = attribution.by_sentence.get(index, [])
        named = [m for m in mentions if m.entity >= 0]
        # The name ending last before a point: by end, and of names ending together the first in the list.
        ranked = sorted(range(len(named)), key=lambda k: (named[k].end, -k))
        self.by_end = [named[k] for k in ranked]
        self.name_ends = [m.end for m in self.by_end]
        self.by_outer_start: dict[int, tuple[int, Mention]] = {}  # the first name starting at each point
        for order, m in enumerate(named):
            self.by_outer_start.setdefault(m.outer_start, (order, m))
        persons = [m for m in named if self.people.entities[m.entity].kind == "person"]
        self.first_person = min(persons, key=lambda m: m.start, default=None)
        self.lead_start = _OPENING_MARKS_RE.match(doc.text, sent.start, sent.end).end()
        self.verbs = _verbs_outside_quotes(doc, sent, attribution.opens, attribution.closes)
        self.verb_starts = [v.start for v in self.verbs]
        self.verb_ends = [v.end for v in self.verbs]
        self.after: list[str | None] = [None] * (len(self.verbs) + 1)
        for i in range(len(self.verbs) - 1, -1, -1):
            self.after[i] = self.speaker_for(self.verbs[i], inverted_ok=True) or self.after[i + 1]
        self.before: list[str | None] = [None]
        for verb in self.verbs:
            found = self.speaker_for(verb, inverted_ok=verb.word.lower() == "according to")
            self.before.append(found or self.before[-1])

    def name(self, m: Mention) -> str:
        return self.people.entities[m.entity].name

    def speaker_for(self, verb: Verb, inverted_ok: bool) -> str | None:
        """"X said", "said X", "he said", "the WHO chief said", or the sentence's subject for "saying"."""
        word = verb.word.lower()
        if word != "according to":
            subject = self._subject_before(verb)
            if subject:
                return subject
        if inverted_ok and (word in INVERTED_SPEECH_VERBS or word == "according to"):
            named = self._named_after(verb)
            if named is not None:
                return self.name(named)
            if _PRONOUN_OBJECT_RE.match(self.doc.text[verb.end : verb.end + 12]):
                return self.people.antecedent(verb.start)
        if word in PARTICIPLE_VERBS or word not in INVERTED_SPEECH_VERBS:
            return self._sentence_subject(verb)
        return None

    def _subject_before(self, verb: Verb) -> str | None:
        """The name, pronoun or role noun right before the verb: "Ruiz told", "he added", "the WHO chief said"."""
        text = self.doc.text
        at = bisect_right(self.name_ends, verb.start) - 1
        if at >= 0:
            m = self.by_end[at]
            if verb.start - m.end <= _SUBJECT_GAP_CHARS and _ADJACENT_SUBJECT_RE.match(text, m.end, verb.start):
                return self.name(m)
        lead = text[max(self.sent.start, verb.start - 80) : verb.start]
        pronoun = _PRONOUN_SUBJECT_RE.search(lead)
        if pronoun:
            return self.people.antecedent(verb.start - len(lead) + pronoun.start(1))
        nominal = _NOMINAL_SUBJECT_RE.search(lead)
        if nominal:
            return self._by_role(nominal.group(1), verb.start)
        return None

    def _named_after(self, verb: Verb) -> Mention | None:
        """The first name (in the list) that the verb is followed by, past spaces only: "said Ruiz"."""
        gap_end = _SPACES_RE.match(self.doc.text, verb.end).end()
        found = [self.by_outer_start[p] for p in range(verb.end, gap_end + 1) if p in self.by_outer_start]
        return min(found)[1] if found else None

    def first_person_name(self) -> str | None:
        return self.name(self.first_person) if self.first_person is not None else None

    def _sentence_subject(self, verb: Verb) -> str | None:
        """For "X described it as '...'" or "..., saying '...'": the first person the sentence names."""
        if self.first_person is not None and self.first_person.start < verb.start:
            return self.name(self.first_person)
        if _LEADING_PRONOUN_RE.match(self.doc.text, self.lead_start, verb.start):
            return self.people.antecedent(self.sent.start)
        return None

    def _by_role(self, phrase: str, before: int) -> str | None:
        """"the WHO chief said": the person whose role shares a capitalised word with the phrase."""
        words = set(_CAPITALISED_RE.findall(phrase))
        if not words or not any(w.lower().strip(".") in LOWER_ROLE_HEADS for w in phrase.split()):
            return None
        return self.people.by_role(words, before)


def _verbs_outside_quotes(doc: Doc, sent: Sentence, opens: list[int], closes: list[int]) -> list[Verb]:
    """The speech verbs of a sentence that stand outside its quotes (`opens` sorted, `closes` alike)."""
    lo, hi = bisect_left(opens, sent.start), bisect_left(opens, sent.end)
    reach: list[int] = []  # the furthest close of the sentence's quotes opened so far
    for close in closes[lo:hi]:
        reach.append(max(close, reach[-1]) if reach else close)
    verbs = []
    for match in _VERB_RE.finditer(doc.text, sent.start, sent.end):
        opened = bisect_left(opens, match.start(), lo, hi) - lo  # its quotes opened before the verb
        if not (opened and reach[opened - 1] > match.start()):
            verbs.append(Verb(match.group(1), match.start(), match.end()))
    return verbs
