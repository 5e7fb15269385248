"""Quotes and their speakers, from speech verbs next to a name, a pronoun or a role noun."""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

from schemas.stories import Quote
from streams.pipeline.facts.document import Doc, QuoteSpan, Sentence, Verb
from streams.pipeline.facts.entities import Entity
from streams.pipeline.facts.lexicon import trie_pattern
from streams.pipeline.facts.names import Mention
from streams.pipeline.facts.words import (
    INVERTED_SPEECH_VERBS,
    LOWER_ROLE_HEADS,
    PARTICIPLE_VERBS,
    SPEECH_VERBS,
)

_ADJACENT_SUBJECT_RE = re.compile(
    r"^(?:\s*,[^,;:]{1,80},|\s*,)?\s*(?:(?:has|have|had|also|later|then|again|once|previously|earlier"
    r"|reportedly|repeatedly|further|subsequently|was|is|first|quickly|publicly)\s+)*$"
)
_AFTER_VERB_RE = re.compile(r"^\s*$")
_PRONOUN_SUBJECT_RE = re.compile(
    r"(?:^|[\s,;:])(he|she)\s+(?:(?:has|had|also|later|then|again|once|further)\s+)*$", re.I
)
_PRONOUN_OBJECT_RE = re.compile(r"^\s*(?:to\s+)?(him|her|he|she)\b", re.I)
_NOMINAL_SUBJECT_RE = re.compile(r"(?:^|[\s,])(?:the|a|an)\s+([^,;:.]{1,60}?)\s+$", re.I)


class _People:
    """Where people are named, to resolve "he said" to the subject of the sentences before it."""

    def __init__(self, doc: Doc, mentions: list[Mention], entities: list[Entity]) -> None:
        self.entities = entities
        self.sentence_starts = [s.start for s in doc.sentences]
        self.by_sentence: dict[int, list[tuple[int, int]]] = {}
        for m in sorted(mentions, key=lambda m: m.start):
            if m.entity >= 0 and entities[m.entity].kind == "person":
                self.by_sentence.setdefault(m.sent, []).append((m.start, m.entity))

    def antecedent(self, pos: int) -> str | None:
        """The first person named before pos in its sentence, else the subject of the nearest sentence before."""
        sent = max(0, bisect_left(self.sentence_starts, pos + 1) - 1)
        same = [e for start, e in self.by_sentence.get(sent, ()) if start < pos]
        if same:
            return self.entities[same[0]].name
        for index in range(sent - 1, max(-1, sent - 6), -1):
            people = self.by_sentence.get(index)
            if people:
                return self.entities[people[0][1]].name
        return None


def quotes(doc: Doc, mentions: list[Mention], entities: list[Entity]) -> list[Quote]:
    """Each quote with its speaker; short scare quotes only when someone is named as saying them."""
    if not doc.quotes:
        return []
    people = _People(doc, mentions, entities)
    by_sentence: dict[int, list[Mention]] = {}
    for m in mentions:
        by_sentence.setdefault(m.sent, []).append(m)
    out: list[Quote] = []
    seen: set[str] = set()
    for q in doc.quotes:
        text = _clean_quote(doc.text[q.open + 1 : q.close])
        if not text or text in seen:
            continue
        speaker = _speaker(doc, q, by_sentence, people)
        if len(text.split()) < 4 and speaker is None:
            continue
        seen.add(text)
        out.append(Quote(text=text, speaker=speaker))
    return out


def _clean_quote(text: str) -> str:
    return " ".join(text.split()).strip(" ,;:.…-—–")


_VERB_RE = re.compile(r"\b(" + trie_pattern(SPEECH_VERBS | {"according to"}) + r")\b", re.I)


def _speaker(doc: Doc, q: QuoteSpan, by_sentence: dict[int, list[Mention]], people: _People) -> str | None:
    """Who says the quote: the speech verb nearest to it in its sentence, then the sentences around it."""
    if q.sent < 0:
        return None
    ctx = _SpeakerContext(doc, by_sentence.get(q.sent, []), people, doc.sentences[q.sent])
    verbs = ctx.verbs()
    after = sorted((v for v in verbs if v.start >= q.close), key=lambda v: v.start)
    before = sorted((v for v in verbs if v.end <= q.open), key=lambda v: -v.start)
    for verb in after:
        found = ctx.speaker_for(verb, inverted_ok=True)
        if found:
            return found
    for verb in before:
        found = ctx.speaker_for(verb, inverted_ok=verb.word.lower() == "according to")
        if found:
            return found
    if verbs:
        return None
    return _neighbour_speaker(doc, q, by_sentence, people)


@dataclass(slots=True)
class _SpeakerContext:
    doc: Doc
    mentions: list[Mention]
    people: _People
    sent: Sentence

    def verbs(self) -> list[Verb]:
        """Speech verbs of the sentence that stand outside quotes; found once per sentence, which several
        quotes may ask about."""
        found = self.doc.speech_verbs.get(self.sent.start)
        if found is None:
            inside = [(q.open, q.close) for q in self.doc.quotes if self.sent.start <= q.open < self.sent.end]
            found = self.doc.speech_verbs[self.sent.start] = [
                Verb(match.group(1), match.start(), match.end())
                for match in _VERB_RE.finditer(self.doc.text, self.sent.start, self.sent.end)
                if not any(a < match.start() < b for a, b in inside)
            ]
        return found

    def name(self, m: Mention) -> str:
        return self.people.entities[m.entity].name

    def speaker_for(self, verb: Verb, inverted_ok: bool) -> str | None:
        """"X said", "said X", "he said", "the WHO chief said", or the sentence's subject for "saying"."""
        text = self.doc.text
        word = verb.word.lower()
        if word != "according to":
            subject = self._subject_before(verb)
            if subject:
                return subject
        if inverted_ok and (word in INVERTED_SPEECH_VERBS or word == "according to"):
            for m in self.mentions:
                if m.entity >= 0 and m.outer_start >= verb.end and _AFTER_VERB_RE.match(text[verb.end : m.outer_start]):
                    return self.name(m)
            if _PRONOUN_OBJECT_RE.match(text[verb.end : verb.end + 12]):
                return self.people.antecedent(verb.start)
        if word in PARTICIPLE_VERBS or word not in INVERTED_SPEECH_VERBS:
            return self._sentence_subject(verb)
        return None

    def _subject_before(self, verb: Verb) -> str | None:
        """The name, pronoun or role noun right before the verb: "Ruiz told", "he added", "the WHO chief said"."""
        text = self.doc.text
        for m in sorted(self.mentions, key=lambda m: -m.end):
            if m.end <= verb.start and m.entity >= 0:
                if _ADJACENT_SUBJECT_RE.match(text[m.end : verb.start]):
                    return self.name(m)
                break
        lead = text[max(self.sent.start, verb.start - 80) : verb.start]
        pronoun = _PRONOUN_SUBJECT_RE.search(lead)
        if pronoun:
            return self.people.antecedent(verb.start - len(lead) + pronoun.start(1))
        nominal = _NOMINAL_SUBJECT_RE.search(lead)
        if nominal:
            return self._by_role(nominal.group(1), verb.start)
        return None

    def first_person(self) -> str | None:
        for m in sorted(self.mentions, key=lambda m: m.start):
            if m.entity >= 0 and self.people.entities[m.entity].kind == "person":
                return self.name(m)
        return None

    def _sentence_subject(self, verb: Verb) -> str | None:
        """For "X described it as '...'" or "..., saying '...'": the first person the sentence names."""
        for m in sorted(self.mentions, key=lambda m: m.start):
            if m.start >= verb.start:
                break
            if m.entity >= 0 and self.people.entities[m.entity].kind == "person":
                return self.name(m)
        lead = self.doc.text[self.sent.start : verb.start].lstrip(" \"“‘'")
        if _LEADING_PRONOUN_RE.match(lead):
            return self.people.antecedent(self.sent.start)
        return None

    def _by_role(self, phrase: str, before: int) -> str | None:
        """"the WHO chief said": the person whose role shares a capitalised word with the phrase."""
        words = set(_CAPITALISED_RE.findall(phrase))
        if not words or not any(w.lower().strip(".") in LOWER_ROLE_HEADS for w in phrase.split()):
            return None
        for e in self.people.entities:
            if e.kind == "person" and e.role and e.first < before and words & set(_CAPITALISED_RE.findall(e.role)):
                return e.name
        return None


_LEADING_PRONOUN_RE = re.compile(r"(?i)(?:he|she)\b")
_CAPITALISED_RE = re.compile(r"[A-Z][\w.-]*")


def _neighbour_speaker(doc: Doc, q: QuoteSpan, by_sentence: dict[int, list[Mention]], people: _People) -> str | None:
    """A quote standing alone: attributed by the sentence before it ("X said:") or right after it."""
    sent = doc.sentences[q.sent]
    whole = doc.text[sent.start : q.open].strip(" \n\t•-") == "" and q.close >= sent.end - 3
    for index in (q.sent - 1, q.sent + 1):
        if not 0 <= index < len(doc.sentences):
            continue
        other = doc.sentences[index]
        body = doc.text[other.start : other.end].strip()
        if index < q.sent and not (body.endswith(":") or whole):
            continue
        if any(other.start <= o.open < other.end for o in doc.quotes):
            continue
        ctx = _SpeakerContext(doc, by_sentence.get(index, []), people, other)
        if index < q.sent and body.endswith(":"):  # "Reinholt spoke to reporters on the quay:"
            found = ctx.first_person()
            if found:
                return found
        for verb in ctx.verbs():
            found = ctx.speaker_for(verb, inverted_ok=True)
            if found:
                return found
    return None
