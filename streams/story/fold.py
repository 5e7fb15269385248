"""A story as a pure fold of its events, and the next event an article makes.

`fold(events)` gives the snapshot; `next_event(state, ...)` says what a new
article changes relative to the story so far (its `StoryState`, the fold's accumulator): a new outlet, new names, quotes
and claims, corroboration (one more outlet reports the same quote or claim)
and conflicts (outlets disagree on the same count or day). Both are pure, so
replaying the same events always yields the same state.
"""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from rapidfuzz import fuzz

from schemas import (
    ArticleFacts,
    ArticleJoined,
    Conflict,
    ConflictSide,
    Corroboration,
    Entity,
    NumericClaim,
    Quote,
    QuoteView,
    StorySnapshot,
    StoryStarted,
)
from streams.pipeline.english import plural

StoryEventModel = StoryStarted | ArticleJoined

QUOTE_MATCH = 88  # rapidfuzz score above which two quotes are the same words
_BELOW = {"nearly", "less than"}
_ABOVE = {"more than", "at least"}


class OutOfSequence(ValueError):
    """An event that is not the next of its story: applying it would rewrite or skip history."""


def outlet_key(outlet: str | None, article_id: str) -> str:
    """Who reports it: the outlet, or the article itself when its outlet is unknown."""
    return outlet or f"unknown outlet ({article_id})"


def same_quote(a: str, b: str) -> bool:
    """Two quotes are the same when one contains the other's words, give or take a few characters."""
    shorter = min(len(a), len(b))
    if shorter < 12:
        return a.casefold() == b.casefold()
    return fuzz.partial_ratio(a.casefold(), b.casefold()) >= QUOTE_MATCH


def claim_text(claim: NumericClaim) -> str:
    value = f"{claim.value:,.0f}" if claim.value == int(claim.value) else f"{claim.value:,}"
    qualifier = "" if claim.qualifier == "exact" else f"{claim.qualifier} "
    return f"{qualifier}{value} {claim.subject if claim.value == 1 else plural(claim.subject)}"



def claims_conflict(a: NumericClaim, b: NumericClaim) -> bool:
    """Same thing counted, same figure, hedged in opposite directions (or hedged against exact)."""
    if a.subject != b.subject or a.value != b.value:
        return False
    directions = {_direction(a.qualifier), _direction(b.qualifier)}
    return len(directions) == 2 and "about" not in directions


def _direction(qualifier: str) -> str:
    if qualifier in _BELOW:
        return "below"
    if qualifier in _ABOVE:
        return "above"
    return qualifier  # "exact" or "about"


@dataclass
class StoryState:
    """Everything the story's articles reported so far, with who reported it: the fold's accumulator.

    Kept per story by the desk and updated one event at a time, so appending an
    article costs the same whether the story has five entries or five thousand.
    """

    version: int = 0
    article_ids: list[str] = field(default_factory=list)
    facts: list[ArticleFacts] = field(default_factory=list)
    outlets: list[str] = field(default_factory=list)
    times: list[datetime] = field(default_factory=list)
    entities: dict[str, Entity] = field(default_factory=dict)
    entity_counts: Counter[str] = field(default_factory=Counter)
    quotes: list[tuple[Quote, set[str]]] = field(default_factory=list)
    claims: dict[str, set[str]] = field(default_factory=dict)  # claim text -> outlets
    claim_models: dict[str, NumericClaim] = field(default_factory=dict)
    weekdays: dict[str, dict[str, set[str]]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(set)))
    phrases: Counter[str] = field(default_factory=Counter)
    phrase_forms: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    dates: Counter[date] = field(default_factory=Counter)

    def apply(self, event: StoryEventModel) -> None:
        """Fold the story's next event in; any other event is refused, so the log stays gap-free and append-only."""
        if event.version != self.version + 1:
            raise OutOfSequence(f"{event.story_id}: version {event.version} cannot follow version {self.version}")
        self.add(event.article_id, event.outlet, event.time, event.facts)
        self.version = event.version

    def copy(self) -> StoryState:
        twin = copy.copy(self)
        twin.article_ids, twin.outlets, twin.times = list(self.article_ids), list(self.outlets), list(self.times)
        twin.facts = list(self.facts)
        twin.entities, twin.entity_counts = dict(self.entities), Counter(self.entity_counts)
        twin.quotes = [(quote, set(outlets)) for quote, outlets in self.quotes]
        twin.claims = {text: set(outlets) for text, outlets in self.claims.items()}
        twin.claim_models = dict(self.claim_models)
        twin.weekdays = defaultdict(lambda: defaultdict(set))
        for anchor, days in self.weekdays.items():
            for day, outlets in days.items():
                twin.weekdays[anchor][day] = set(outlets)
        twin.phrases = Counter(self.phrases)
        twin.phrase_forms = defaultdict(Counter, {k: Counter(v) for k, v in self.phrase_forms.items()})
        twin.dates = Counter(self.dates)
        return twin

    def add(self, article_id: str, outlet: str | None, time: datetime, facts: ArticleFacts) -> None:
        who = outlet_key(outlet, article_id)
        self.article_ids.append(article_id)
        self.facts.append(facts)
        if who not in self.outlets:
            self.outlets.append(who)
        self.times.append(time)
        for entity in facts.entities:
            key = entity_key(entity)
            self.entity_counts[key] += 1
            known = self.entities.get(key)
            if known is None:
                self.entities[key] = entity
            else:  # one person under several names: keep the fullest name and any stated role
                name = entity.name if len(entity.name) > len(known.name) else known.name
                self.entities[key] = known.model_copy(update={"name": name, "role": known.role or entity.role})
        for quote in facts.quotes:
            match = self.find_quote(quote.text)
            if match is None:
                self.quotes.append((quote, {who}))
            else:
                match[1].add(who)
        for claim in facts.claims:
            text = claim_text(claim)
            self.claims.setdefault(text, set()).add(who)
            self.claim_models.setdefault(text, claim)
        for anchor, weekday in facts.weekday_mentions.items():
            self.weekdays[anchor.casefold()][weekday].add(who)
        for phrase in facts.key_phrases:
            key = phrase_key(phrase)
            self.phrases[key] += 1
            self.phrase_forms[key][phrase] += 1
        when = facts.reported_date()
        if when:
            self.dates[when] += 1

    def find_quote(self, text: str) -> tuple[Quote, set[str]] | None:
        return next((entry for entry in self.quotes if same_quote(entry[0].text, text)), None)

    def conflicts(self) -> list[Conflict]:
        found: list[Conflict] = []
        texts = sorted(self.claims)
        seen_subjects: set[tuple[str, float]] = set()
        for text in texts:
            claim = self.claim_models[text]
            key = (claim.subject, claim.value)
            if key in seen_subjects:
                continue
            group = [t for t in texts if (self.claim_models[t].subject, self.claim_models[t].value) == key]
            models = [self.claim_models[t] for t in group]
            if any(claims_conflict(a, b) for a in models for b in models):
                seen_subjects.add(key)
                sides = [ConflictSide(value=t, outlets=sorted(self.claims[t])) for t in group]
                found.append(Conflict(about=f"number of {plural(claim.subject)}", sides=sides))
        for anchor in sorted(self.weekdays):
            days = self.weekdays[anchor]
            if len(days) > 1:
                sides = [ConflictSide(value=day, outlets=sorted(days[day])) for day in sorted(days)]
                found.append(Conflict(about=f"day of {anchor_title(anchor)}", sides=sides))
        return found

    def event_date(self) -> date | None:
        if not self.dates:
            return None
        return max(self.dates.items(), key=lambda kv: (kv[1], -kv[0].toordinal()))[0]

    def label(self) -> str:
        """The phrase most of the story's articles share, plus the month and year of the event."""
        phrase = None
        if self.phrases:
            key = max(self.phrases.items(), key=lambda kv: (kv[1], len(kv[0]), kv[0]))[0]
            phrase = self.phrase_forms[key].most_common(1)[0][0]
        elif self.entity_counts:
            phrase = self.entities[self.entity_counts.most_common(1)[0][0]].name
        when = self.event_date()
        parts = [phrase or "Untitled story", when.strftime("%b %Y") if when else ""]
        return " ".join(p for p in parts if p)


def entity_key(entity: Entity) -> str:
    """People are known by their surname across articles ("Putin" = "Vladimir Putin"); other names by the whole name."""
    name = entity.name.casefold()
    return f"person:{name.split()[-1]}" if entity.kind == "person" else name


def phrase_key(phrase: str) -> str:
    """Variants of one name share a key: case, and the order of hyphenated parts ("A-B Council" = "B-A Council")."""
    words = []
    for word in phrase.casefold().split():
        words.append("-".join(sorted(word.split("-"))) if "-" in word else word)
    return " ".join(words)


def anchor_title(anchor: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in anchor.split())


def dated_within(facts: ArticleFacts, story_date: date | None) -> date | None:
    """The article's own event date, else the story's if it falls on the weekday the article names."""
    if facts.event_date is not None:
        return facts.event_date
    if facts.event_weekday and story_date and story_date.strftime("%A") == facts.event_weekday:
        return story_date
    return None


def state_of(events: Iterable[StoryEventModel]) -> StoryState:
    """The fold's accumulator after the events (in version order)."""
    state = StoryState()
    for event in events:
        state.apply(event)
    return state


def next_event(
    story_id: str,
    before: StoryState,
    article_id: str,
    outlet: str | None,
    time: datetime,
    facts: ArticleFacts,
    score: float = 0.0,
    position: int = 0,
) -> StoryEventModel:
    """The changelog entry the article appends to the story: what it added, corroborated or contradicted."""
    after = before.copy()
    after.add(article_id, outlet, time, facts)
    who = outlet_key(outlet, article_id)

    new_entities = [e.name for e in facts.entities if entity_key(e) not in before.entities]
    new_quotes = [q for q in facts.quotes if before.find_quote(q.text) is None]
    new_claims = [c for c in facts.claims if claim_text(c) not in before.claims]
    corroborations: list[Corroboration] = []
    for quote in facts.quotes:
        match = before.find_quote(quote.text)
        if match is not None and who not in match[1]:
            corroborations.append(Corroboration(what="quote", text=match[0].text, outlets=len(match[1]) + 1))
    for claim in facts.claims:
        text = claim_text(claim)
        if text in before.claims and who not in before.claims[text]:
            corroborations.append(Corroboration(what="claim", text=text, outlets=len(before.claims[text]) + 1))
    old_conflicts = {c.model_dump_json() for c in before.conflicts()}
    conflicts = [c for c in after.conflicts() if c.model_dump_json() not in old_conflicts]

    common = dict(
        story_id=story_id,
        version=before.version + 1,
        position=position,
        time=time,
        article_id=article_id,
        outlet=outlet,
        facts=facts,
        event_date=dated_within(facts, after.event_date()),
        label=after.label(),
        new_outlet=who not in before.outlets,
        new_entities=_unique(new_entities),
        new_quotes=new_quotes,
        new_claims=new_claims,
        corroborations=corroborations,
        conflicts=conflicts,
    )
    if before.version == 0:
        return StoryStarted(**common)
    return ArticleJoined(score=score, **common)


def snapshot(story_id: str, state: StoryState) -> StorySnapshot:
    """The snapshot a story's state gives."""
    if state.version == 0:
        raise ValueError("a story has at least one event")
    by_kind: dict[str, list[Entity]] = defaultdict(list)
    for key, _count in sorted(state.entity_counts.items(), key=lambda kv: (-kv[1], kv[0])):
        entity = state.entities[key]
        by_kind[entity.kind].append(entity)
    return StorySnapshot(
        story_id=story_id,
        version=state.version,
        label=state.label(),
        article_ids=state.article_ids,
        outlets=state.outlets,
        first_seen=min(state.times),
        last_seen=max(state.times),
        event_date=state.event_date(),
        article_event_dates={a: dated_within(f, state.event_date()) for a, f in zip(state.article_ids, state.facts)},
        people=by_kind["person"],
        organisations=[e.name for e in by_kind["organisation"]],
        places=[e.name for e in by_kind["place"]],
        quotes=[QuoteView(text=q.text, speaker=q.speaker, outlets=sorted(o)) for q, o in state.quotes],
        claims=[state.claim_models[t] for t in sorted(state.claims)],
        conflicts=state.conflicts(),
    )


def fold(events: Sequence[StoryEventModel]) -> StorySnapshot:
    """The story's current state from its events (in version order)."""
    if not events:
        raise ValueError("a story has at least one event")
    return snapshot(events[0].story_id, state_of(events))


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
