"""A story's state: the fold's accumulator, bounded whatever the story's size, and stored as it is.

Everything a story's articles reported, with who reported it, kept as counts
and the most cited items: outlets, names, quotes, claims, weekdays, phrases and
dates each keep at most a fixed number of entries (the least cited, oldest
first, make room), and only the most recent articles are listed. So a story of
five thousand articles weighs what a story of fifty does, in memory, in its
table row and in its snapshot; its full membership is on the log.

The bounds make three approximations, all only in stories beyond them: an
outlet, name, quote or claim that dropped out is reported as new again when it
comes back; an item's outlets are named up to a bound while their count goes
on; and when two stories merge, an outlet both reported is counted once only
if both still name it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from rapidfuzz import fuzz

from schemas import ArticleFacts, Conflict, ConflictSide, Entity, NumericClaim, Quote
from streams.pipeline.english import plural

MAX_OUTLETS = 30
MAX_ENTITIES = 30
MAX_QUOTES = 12
MAX_CLAIMS = 12
MAX_PHRASES = 20
MAX_DATES = 8
MAX_ANCHORS = 8
NAMED_OUTLETS = 6  # outlets named per quote, claim or weekday (their count goes on)
RECENT_ARTICLES = 10
MAX_ABSORBED = 20  # stories named as merged into this one
LABEL_HEADLINE_WORDS = 10  # a headline as a label: its first words, as a story list shows a title

QUOTE_MATCH = 88  # rapidfuzz score above which two quotes are the same words
_BELOW = {"nearly", "less than"}
_ABOVE = {"more than", "at least"}


class OutOfSequence(ValueError):
    """An event that is not the next of its story: applying it would rewrite or skip history."""


def outlet_key(outlet: str | None, article_id: str) -> str:
    """Who reports it: the outlet, or the article itself when its outlet is unknown."""
    return outlet or f"unknown outlet ({article_id})"


def same_quote(a: str, b: str) -> bool:
    """Two quotes are the same when one contains the other's words, give or take a few characters. With the
    cutoff, rapidfuzz gives up on a pair as soon as it cannot reach it (the same answers, in half the time: on
    full-text news, matching an article's quotes with its story's was a quarter of placing)."""
    shorter = min(len(a), len(b))
    if shorter < 12:
        return a.casefold() == b.casefold()
    return fuzz.partial_ratio(a.casefold(), b.casefold(), score_cutoff=QUOTE_MATCH) >= QUOTE_MATCH


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


@dataclass(frozen=True)
class FactKeys:
    """An article's names and claims by the keys a story's state holds them under, made once per article: its
    entry reads them (what is new to the story) and so does its fold (`StoryState.add`), where each was made
    again, a claim's text three times over."""

    entities: list[str]
    claims: list[str]

    @classmethod
    def of(cls, facts: ArticleFacts) -> FactKeys:
        return cls([entity_key(entity) for entity in facts.entities], [claim_text(claim) for claim in facts.claims])


def anchor_title(anchor: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in anchor.split())


@dataclass
class Reported:
    """Who reports one item (a quote, a claim, a weekday): a count, and the first outlets by name."""

    outlets: list[str] = field(default_factory=list)
    count: int = 0

    def add(self, who: str) -> bool:
        """Count the outlet; False if it was already counted (as far as the named outlets tell)."""
        if who in self.outlets:
            return False
        self.count += 1
        if len(self.outlets) < NAMED_OUTLETS:
            self.outlets.append(who)
        return True

    def merge(self, other: Reported) -> None:
        for who in other.outlets:
            self.add(who)
        self.count += max(0, other.count - len(other.outlets))  # the ones it counted but did not name

    def to_json(self) -> list:
        return [list(self.outlets), self.count]

    @classmethod
    def from_json(cls, data: list) -> Reported:
        return cls(list(data[0]), data[1])


def _trim(counts: dict, limit: int, weight=lambda value: value) -> None:
    """Drop the least weighty entries (the oldest first among equals) until at most `limit` remain."""
    while len(counts) > limit:
        lightest = min(enumerate(counts.items()), key=lambda item: (weight(item[1][1]), item[0]))[1][0]
        del counts[lightest]


@dataclass
class RecentArticle:
    article_id: str
    event_date: date | None
    event_weekday: str | None


@dataclass
class StoryState:
    """The fold's accumulator: bounded, updated one event at a time, and stored as JSON."""

    version: int = 0
    articles: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    outlets: dict[str, int] = field(default_factory=dict)  # outlet -> articles, in order of first report
    outlet_count: int = 0
    entities: dict[str, list] = field(default_factory=dict)  # entity key -> [Entity, mentions]
    quotes: list[tuple[Quote, Reported]] = field(default_factory=list)
    claims: dict[str, tuple[NumericClaim, Reported]] = field(default_factory=dict)  # claim text -> claim, outlets
    weekdays: dict[str, dict[str, Reported]] = field(default_factory=dict)  # anchor -> weekday -> outlets
    phrases: dict[str, list] = field(default_factory=dict)  # phrase key -> [count, {form: count}]
    dates: dict[date, int] = field(default_factory=dict)
    recent: list[RecentArticle] = field(default_factory=list)
    absorbed: list[str] = field(default_factory=list)
    merged_into: str | None = None
    headline: str | None = None  # its first article's title: the label of a story whose articles share no phrase
    # The conflicts of its claims and weekdays, and its label, found once until they change (`conflicts`, `label`).
    _conflicts: list[Conflict] | None = field(default=None, init=False, repr=False, compare=False)
    _label: str | None = field(default=None, init=False, repr=False, compare=False)

    def check_next(self, event) -> None:
        if event.version != self.version + 1:
            raise OutOfSequence(f"{event.story_id}: version {event.version} cannot follow version {self.version}")
        if (event.kind == "started") != (self.version == 0):  # a story opens with its start, and only there
            raise OutOfSequence(f"{event.story_id}: a {event.kind} entry cannot be version {event.version} of a story")
        if self.merged_into is not None:
            raise OutOfSequence(f"{event.story_id} was merged into {self.merged_into}: it takes no more entries")

    def copy(self) -> StoryState:
        """A copy whose changes leave this state as it is (the models inside are frozen, so they are shared)."""
        return StoryState(
            version=self.version,
            articles=self.articles,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
            outlets=dict(self.outlets),
            outlet_count=self.outlet_count,
            entities={k: list(known) for k, known in self.entities.items()},
            quotes=[(q, Reported(list(r.outlets), r.count)) for q, r in self.quotes],
            claims={t: (c, Reported(list(r.outlets), r.count)) for t, (c, r) in self.claims.items()},
            weekdays={a: {d: Reported(list(r.outlets), r.count) for d, r in days.items()} for a, days in self.weekdays.items()},
            phrases={k: [n, dict(forms)] for k, (n, forms) in self.phrases.items()},
            dates=dict(self.dates),
            recent=list(self.recent),
            absorbed=list(self.absorbed),
            merged_into=self.merged_into,
            headline=self.headline,
        )

    def add(
        self,
        article_id: str,
        outlet: str | None,
        time: datetime,
        facts: ArticleFacts,
        quote_positions: list[int | None] | None = None,
        keys: FactKeys | None = None,
    ) -> None:
        """Fold one article in. `quote_positions` (its quotes' `quote_positions` in this state) and `keys` (its
        `FactKeys`), if made already (before the article, for its entry: `fold.advance`)."""
        who = outlet_key(outlet, article_id)
        keys = keys or FactKeys.of(facts)
        self._label = None
        if facts.claims or facts.weekday_mentions:  # the conflicts are among these alone, and their outlets
            self._conflicts = None
        self.headline = self.headline or facts.title
        self.articles += 1
        self.first_seen = time if self.first_seen is None else min(self.first_seen, time)
        self.last_seen = time if self.last_seen is None else max(self.last_seen, time)
        if who not in self.outlets:
            self.outlet_count += 1
        self.outlets[who] = self.outlets.get(who, 0) + 1
        _trim(self.outlets, MAX_OUTLETS)
        for entity, key in zip(facts.entities, keys.entities, strict=True):
            known = self.entities.get(key)
            if known is None:
                self.entities[key] = [entity, 1]
            else:  # one person under several names: keep the fullest name and any stated role
                name = entity.name if len(entity.name) > len(known[0].name) else known[0].name
                role = known[0].role or entity.role
                if name != known[0].name or role != known[0].role:  # a copy per mention was 5 % of placing
                    known[0] = known[0].model_copy(update={"name": name, "role": role})
                known[1] += 1
        _trim(self.entities, MAX_ENTITIES, lambda known: known[1])
        story_quotes = len(self.quotes)
        if quote_positions is None:
            quote_positions = self.quote_positions(facts.quotes)
        for quote, position in zip(facts.quotes, quote_positions, strict=True):
            if position is None:  # none of the story's: it may be one the article quoted before
                position = _position(self.quotes, quote.text, story_quotes)
            if position is None:
                self.quotes.append((quote, Reported([who], 1)))
            else:
                self.quotes[position][1].add(who)
        self._trim_quotes()
        for claim, text in zip(facts.claims, keys.claims, strict=True):
            self.claims.setdefault(text, (claim, Reported()))[1].add(who)
        _trim(self.claims, MAX_CLAIMS, lambda entry: entry[1].count)
        for anchor, weekday in facts.weekday_mentions.items():
            self.weekdays.setdefault(anchor.casefold(), {}).setdefault(weekday, Reported()).add(who)
        _trim(self.weekdays, MAX_ANCHORS, lambda days: sum(r.count for r in days.values()))
        for phrase in facts.key_phrases:
            entry = self.phrases.setdefault(phrase_key(phrase), [0, {}])
            entry[0] += 1
            entry[1][phrase] = entry[1].get(phrase, 0) + 1
            _trim(entry[1], 3)
        _trim(self.phrases, MAX_PHRASES, lambda entry: entry[0])
        when = facts.reported_date()
        if when:
            self.dates[when] = self.dates.get(when, 0) + 1
            _trim(self.dates, MAX_DATES)
        self.recent.append(RecentArticle(article_id, facts.event_date, facts.event_weekday))
        del self.recent[:-RECENT_ARTICLES]

    def absorb(self, other: StoryState, other_id: str) -> None:
        """Fold another story's state into this one: the two were one story told twice."""
        self._conflicts = self._label = None
        self.headline = self.headline or other.headline
        self.articles += other.articles
        self.first_seen = min(filter(None, (self.first_seen, other.first_seen)))
        self.last_seen = max(filter(None, (self.last_seen, other.last_seen)))
        # The other's distinct outlets, less those both name: its outlets that dropped out of its names still count.
        self.outlet_count += other.outlet_count - sum(1 for who in other.outlets if who in self.outlets)
        for who, n in other.outlets.items():
            self.outlets[who] = self.outlets.get(who, 0) + n
        _trim(self.outlets, MAX_OUTLETS)
        for key, (entity, n) in other.entities.items():
            known = self.entities.setdefault(key, [entity, 0])
            known[1] += n
        _trim(self.entities, MAX_ENTITIES, lambda known: known[1])
        for quote, reported in other.quotes:
            match = self.find_quote(quote.text)
            if match is None:
                self.quotes.append((quote, Reported(list(reported.outlets), reported.count)))
            else:
                match[1].merge(reported)
        self._trim_quotes()
        for text, (claim, reported) in other.claims.items():
            self.claims.setdefault(text, (claim, Reported()))[1].merge(reported)
        _trim(self.claims, MAX_CLAIMS, lambda entry: entry[1].count)
        for anchor, days in other.weekdays.items():
            for day, reported in days.items():
                self.weekdays.setdefault(anchor, {}).setdefault(day, Reported()).merge(reported)
        _trim(self.weekdays, MAX_ANCHORS, lambda days: sum(r.count for r in days.values()))
        for key, (count, forms) in other.phrases.items():
            entry = self.phrases.setdefault(key, [0, {}])
            entry[0] += count
            for form, n in forms.items():
                entry[1][form] = entry[1].get(form, 0) + n
            _trim(entry[1], 3)
        _trim(self.phrases, MAX_PHRASES, lambda entry: entry[0])
        for when, n in other.dates.items():
            self.dates[when] = self.dates.get(when, 0) + n
        _trim(self.dates, MAX_DATES)
        self.absorbed = [*self.absorbed, other_id, *other.absorbed][:MAX_ABSORBED]

    def _trim_quotes(self) -> None:
        """The least reported quotes (the oldest first among equals) make room, down to MAX_QUOTES."""
        if len(self.quotes) > MAX_QUOTES:
            by_index = dict(enumerate(self.quotes))
            _trim(by_index, MAX_QUOTES, lambda entry: entry[1].count)
            self.quotes = list(by_index.values())

    def find_quote(self, text: str) -> tuple[Quote, Reported] | None:
        position = _position(self.quotes, text)
        return None if position is None else self.quotes[position]

    def quote_positions(self, quotes: list[Quote]) -> list[int | None]:
        """Per quote, the position of the first of the story's quotes that is the same (`same_quote`), or None.
        Matched twice, once for the next entry and once for the state after it, quotes were a quarter of placing
        full-text news: the two share one matching."""
        return [_position(self.quotes, quote.text) for quote in quotes]

    def conflicts(self) -> list[Conflict]:
        """Found once until an article with claims or weekdays, or a merge, changes the state: an entry compares
        the story's conflicts before and after its article, and the state after one article is the state before
        the next (on a long story's state, finding them was a fifth of placing)."""
        if self._conflicts is None:
            self._conflicts = self._find_conflicts()
        return list(self._conflicts)

    def _find_conflicts(self) -> list[Conflict]:
        found: list[Conflict] = []
        same_figure: dict[tuple[str, float], list[str]] = defaultdict(list)  # claim texts by what they count, and the figure
        for text in sorted(self.claims):
            claim = self.claims[text][0]
            same_figure[(claim.subject, claim.value)].append(text)
        for (subject, _value), group in same_figure.items():
            if len(group) < 2:  # a claim does not conflict with itself: most figures are stated one way
                continue
            models = [self.claims[t][0] for t in group]
            if any(claims_conflict(a, b) for a in models for b in models):
                sides = [ConflictSide(value=t, outlets=sorted(self.claims[t][1].outlets)) for t in group]
                found.append(Conflict(about=f"number of {plural(subject)}", sides=sides))
        for anchor in sorted(self.weekdays):
            days = self.weekdays[anchor]
            if len(days) > 1:
                sides = [ConflictSide(value=day, outlets=sorted(days[day].outlets)) for day in sorted(days)]
                found.append(Conflict(about=f"day of {anchor_title(anchor)}", sides=sides))
        return found

    def event_date(self) -> date | None:
        if not self.dates:
            return None
        return max(self.dates.items(), key=lambda kv: (kv[1], -kv[0].toordinal()))[0]

    def label(self) -> str:
        """The phrase most of the story's articles share, plus the month and year of the event. Made once until
        an article or a merge changes the state: an entry and the snapshot published with it both carry it."""
        if self._label is None:
            self._label = self._make_label()
        return self._label

    def _make_label(self) -> str:
        phrase = None
        if self.phrases:
            key = max(self.phrases.items(), key=lambda kv: (kv[1][0], len(kv[0]), kv[0]))[0]
            forms = self.phrases[key][1]
            phrase = max(forms, key=forms.__getitem__)  # the most used form, the first used among equals
        elif self.entities:
            phrase = max(self.entities.values(), key=lambda known: known[1])[0].name
        when = self.event_date()
        parts = [phrase or _shortened(self.headline) or "Untitled story", when.strftime("%b %Y") if when else ""]
        return " ".join(p for p in parts if p)

    def to_json(self) -> dict:
        return {
            "version": self.version,
            "articles": self.articles,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "outlets": dict(self.outlets),
            "outlet_count": self.outlet_count,
            # Rows rather than objects: a story's state is written on every entry, so its keys would be too.
            "entities": [[k, e.name, e.kind, e.role, n] for k, (e, n) in self.entities.items()],
            "quotes": [[q.text, q.speaker, *r.to_json()] for q, r in self.quotes],
            "claims": [[c.subject, c.value, c.qualifier, c.text, *r.to_json()] for c, r in self.claims.values()],
            "weekdays": {a: {d: r.to_json() for d, r in days.items()} for a, days in self.weekdays.items()},
            "phrases": {k: [n, dict(forms)] for k, (n, forms) in self.phrases.items()},
            "dates": {d.isoformat(): n for d, n in self.dates.items()},
            "recent": [[r.article_id, r.event_date.isoformat() if r.event_date else None, r.event_weekday] for r in self.recent],
            "absorbed": list(self.absorbed),
            "merged_into": self.merged_into,
            "headline": self.headline,
        }

    @classmethod
    def from_json(cls, data: dict) -> StoryState:
        return cls(
            version=data["version"],
            articles=data["articles"],
            first_seen=datetime.fromisoformat(data["first_seen"]) if data["first_seen"] else None,
            last_seen=datetime.fromisoformat(data["last_seen"]) if data["last_seen"] else None,
            outlets=dict(data["outlets"]),
            outlet_count=data["outlet_count"],
            entities={k: [Entity(name=name, kind=kind, role=role), n] for k, name, kind, role, n in data["entities"]},
            quotes=[(Quote(text=text, speaker=speaker), Reported(list(outlets), n)) for text, speaker, outlets, n in data["quotes"]],
            claims={claim_text(claim): (claim, Reported(list(outlets), n)) for claim, outlets, n in (
                (NumericClaim(subject=subject, value=value, qualifier=qualifier, text=text), outlets, n)
                for subject, value, qualifier, text, outlets, n in data["claims"]
            )},
            weekdays={a: {d: Reported.from_json(r) for d, r in days.items()} for a, days in data["weekdays"].items()},
            phrases={k: [n, dict(forms)] for k, (n, forms) in data["phrases"].items()},
            dates={date.fromisoformat(d): n for d, n in data["dates"].items()},
            recent=[RecentArticle(a, date.fromisoformat(d) if d else None, w) for a, d, w in data["recent"]],
            absorbed=list(data["absorbed"]),
            merged_into=data["merged_into"],
            headline=data.get("headline"),  # not in states stored before it was kept
        )


def _position(quotes: list[tuple[Quote, Reported]], text: str, start: int = 0) -> int | None:
    """The position of the first quote from `start` on that is the same as `text`, or None."""
    return next((position for position in range(start, len(quotes)) if same_quote(quotes[position][0].text, text)), None)


def _shortened(headline: str | None) -> str | None:
    """A headline cut to LABEL_HEADLINE_WORDS words, with an ellipsis where it was cut."""
    if not headline:
        return None
    words = headline.split()
    return " ".join(words[:LABEL_HEADLINE_WORDS]) + ("…" if len(words) > LABEL_HEADLINE_WORDS else "")
