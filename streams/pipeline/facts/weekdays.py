"""Weekday mentions: the weekday a clause gives a place or a named event ("in Oslo on Friday")."""

from __future__ import annotations

from bisect import bisect_left

from streams.pipeline.facts.document import Doc, Tok
from streams.pipeline.facts.entities import Entity
from streams.pipeline.facts.names import Mention
from streams.pipeline.facts.words import (
    AUDIENCES,
    SPEECH_VERBS,
    WEEKDAY_CLAUSE_WORDS,
    WEEKDAYS,
)


def weekday_mentions(doc: Doc, mentions: list[Mention], entities: list[Entity]) -> dict[str, str]:
    """Place or named event -> weekday, when a clause attaches a weekday to it ("in Oslo on Friday")."""
    toks = doc.tokens
    out: dict[str, str] = {}
    days_by_sentence: dict[int, list[int]] = {}  # capitalised weekdays; mentions, so anchors, are all in prose
    for i in doc.capitalised:
        if toks[i].low in WEEKDAYS:
            days_by_sentence.setdefault(toks[i].sent, []).append(i)
    if not days_by_sentence:
        return out
    anchors_by_sentence: dict[int, list[Mention]] = {}
    for m in mentions:
        if m.entity >= 0 and _is_anchor(m, entities[m.entity]):
            anchors_by_sentence.setdefault(m.sent, []).append(m)
    for sent_index, days in days_by_sentence.items():
        anchors = anchors_by_sentence.get(sent_index)
        if not anchors:
            continue
        sent = doc.sentences[sent_index]
        clause = 0
        clause_of: list[int] = []
        for tok in toks[sent.first : sent.last]:
            if tok.text in {",", ";", ":", "—", "–", "(", ")"} or tok.low in WEEKDAY_CLAUSE_WORDS:
                clause += 1
            clause_of.append(clause)
        starts = [t.start for t in toks[sent.first : sent.last]]
        for i in days:
            if _day_of_speaking(toks, i, sent.first):
                continue
            offset = i - sent.first
            best = None
            for a in anchors:
                a_index = bisect_left(starts, a.start)
                if a_index >= len(starts) or clause_of[a_index] != clause_of[offset]:
                    continue
                distance = abs(a_index - offset)
                if best is None or distance < best[0]:
                    best = (distance, entities[a.entity].name)
            if best is not None:
                out.setdefault(best[1], WEEKDAYS[toks[i].low])
    return out


def _day_of_speaking(toks: list[Tok], i: int, first: int) -> bool:
    """"said on Tuesday", "told reporters Wednesday": the day someone spoke, not the day of the event."""
    k = i - 1
    if k >= first and toks[k].low == "on":
        k -= 1
    if k >= first and toks[k].low in SPEECH_VERBS:
        return True
    return k - 1 >= first and toks[k - 1].low in SPEECH_VERBS and toks[k].low in AUDIENCES


def _is_anchor(m: Mention, e: Entity) -> bool:
    """A place named as where something happens ("in Oslo", "the Lima talks"), or a named event."""
    if e.kind == "place":
        return "prep" in m.cues or "event" in m.cues
    return e.event
