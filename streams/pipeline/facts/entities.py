"""Entities from mentions: the kind of each name, and the mentions that are one person.

Surnames, "Mr. X" and transliterated first names merge into the fullest form
of one person; quotes, weekdays and key phrases all read these entities.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from streams.pipeline.facts.lexicon import is_acronym, is_demonym
from streams.pipeline.facts.names import Mention
from streams.pipeline.facts.words import (
    COMPANY_SUFFIXES,
    DIRECTIONS,
    EVENT_WORDS,
    INSTITUTIONS,
    ORG_WORDS,
    PARTICLES,
    PLACE_WORDS,
    PLACES,
)

FIRST_NAME_MATCH = 80  # rapidfuzz ratio of normalised first names that are one name transliterated


@dataclass(slots=True)
class Entity:
    """One person, organisation, place or other named thing of the article: the working form of the
    schemas.stories.Entity it becomes, with what the later passes need (count, first position, aliases)."""

    name: str
    kind: str
    role: str | None
    count: int
    first: int
    event: bool = False
    aliases: set[str] = field(default_factory=set)


def _name_kind(name: str, tokens: tuple[str, ...], cues: set[str]) -> str:
    """Kind from the name itself and its cues, strongest evidence first: a role or "Mr." makes a person; a
    known place, an organisation word or an acronym decide next; then "X said", "in X"; else "other"."""
    lows = [t.lower() for t in tokens]
    parts = [p for t in tokens for p in t.split("-")]
    if "role" in cues or "honorific" in cues:
        return "person"
    if name in PLACES:
        return "place"
    if any(low in ORG_WORDS for low in lows) or name in INSTITUTIONS or (len(tokens) == 1 and is_acronym(name)):
        return "organisation"
    if len(tokens) > 1 and lows[-1] in COMPANY_SUFFIXES:
        return "organisation"
    if any(p in INSTITUTIONS for p in parts) and len(tokens) == 1:
        return "organisation"
    if len(tokens) > 1 and (lows[-1] in PLACE_WORDS or (tokens[-1] in PLACES and lows[0] in DIRECTIONS)):
        return "place"
    if "initial" in cues:
        return "person"
    if "speech" in cues and not any(low in EVENT_WORDS for low in lows):
        return "person"
    if "prep" in cues and len(tokens) == 1:
        return "place"
    return "other"


def resolve(mentions: list[Mention]) -> list[Entity]:
    """Merge mentions into entities: one per name, people merged by surname and transliterated first name."""
    by_name: dict[str, list[Mention]] = {}
    for m in mentions:
        by_name.setdefault(m.name, []).append(m)
    kinds: dict[str, str] = {}
    for name, ms in by_name.items():
        cues: set[str] = set()
        for m in ms:
            cues |= m.cues
            if m.role and "appositive" not in m.cues:
                cues.add("role")
            if m.honorific:
                cues.add("honorific")
        kinds[name] = _name_kind(name, ms[0].tokens, cues)
    _merge_short_org_names(by_name, kinds)
    surnames = {
        " ".join(ms[0].tokens).lower()
        for n, ms in by_name.items()
        if _is_bare_surname(ms[0].tokens) and kinds[n] not in {"organisation", "place"}
    }
    for name, ms in by_name.items():  # "Ana Ruiz" is a person when "Ruiz" stands alone elsewhere
        tokens = ms[0].tokens
        if kinds[name] == "other" and not _is_bare_surname(tokens) and _surname_key(tokens) in surnames:
            kinds[name] = "person"
        if kinds[name] == "other" and any("appositive" in m.cues for m in ms):
            kinds[name] = "person"
    groups = _person_groups(by_name, kinds)
    entities: list[Entity] = []
    index: dict[str, int] = {}
    for canonical, names in groups:
        ms = sorted((m for n in names for m in by_name[n]), key=lambda m: m.start)
        role = next((m.role for m in ms if m.role), None)
        entities.append(Entity(canonical, "person", role, len(ms), ms[0].start, aliases=set(names)))
        for n in names:
            index[n] = len(entities) - 1
    _attach_surnames(by_name, kinds, entities, index)
    attached = {a for e in entities if e.kind == "person" for a in e.aliases}
    for name, ms in by_name.items():
        if name in index or name in attached:
            continue
        kind = kinds[name]
        if kind == "other" and len(ms[0].tokens) == 1 and is_demonym(name):
            continue
        event = any(t.lower() in EVENT_WORDS for t in ms[0].tokens) and kind in {"other", "organisation"}
        role = next((m.role for m in ms if m.role), None) if kind == "person" else None
        entities.append(Entity(name, kind, role, len(ms), ms[0].start, event, {name}))
        index[name] = len(entities) - 1
    for e_index, entity in enumerate(entities):
        for alias in entity.aliases:
            for m in by_name.get(alias, ()):
                if m.entity < 0:
                    m.entity = e_index
    for e in entities:
        e.count = 0
    for m in mentions:
        if m.entity >= 0:
            entities[m.entity].count += 1
    return entities


def _merge_short_org_names(by_name: dict[str, list[Mention]], kinds: dict[str, str]) -> None:
    """"Nordvik" after "Nordvik Shipping ASA", "Deutsche" after "Deutsche Bank": the short form is the organisation."""
    orgs_by_first: dict[str, list[str]] = {}
    for name, ms in by_name.items():
        if kinds[name] == "organisation" and len(ms[0].tokens) > 1:
            orgs_by_first.setdefault(ms[0].tokens[0], []).append(name)
    for name in [n for n, ms in by_name.items() if len(ms[0].tokens) == 1 and len(orgs_by_first.get(n, ())) == 1]:
        ms = by_name[name]
        if kinds[name] not in {"other", "person"} or any(m.role or m.honorific for m in ms):
            continue
        target = orgs_by_first[name][0]
        for m in ms:
            m.name, m.tokens = target, by_name[target][0].tokens
        by_name[target].extend(ms)
        by_name[target].sort(key=lambda m: m.start)
        del by_name[name], kinds[name]


def _person_groups(by_name: dict[str, list[Mention]], kinds: dict[str, str]) -> list[tuple[str, list[str]]]:
    """Multi-word people with one surname and matching first names are one person, named by the fullest form."""
    by_surname: dict[str, list[str]] = {}
    for name, ms in by_name.items():
        if kinds[name] == "person" and not _is_bare_surname(ms[0].tokens):
            by_surname.setdefault(_surname_key(ms[0].tokens), []).append(name)
    groups: list[tuple[str, list[str]]] = []
    for names in by_surname.values():
        names.sort(key=lambda n: by_name[n][0].start)
        clusters: list[list[str]] = []
        for n in names:
            first = _first_name_key(by_name[n][0].tokens[0])
            for cluster in clusters:
                other = _first_name_key(by_name[cluster[0]][0].tokens[0])
                if _same_first_name(first, other):
                    cluster.append(n)
                    break
            else:
                clusters.append([n])
        for cluster in clusters:
            canonical = max(cluster, key=lambda n: (len(by_name[n][0].tokens), -by_name[n][0].start))
            groups.append((canonical, cluster))
    return groups


def _is_bare_surname(tokens: tuple[str, ...]) -> bool:
    """"Ruiz", "van der Berg": a surname standing alone."""
    return len(tokens) == 1 or tokens[0].lower() in PARTICLES


def _surname_key(tokens: tuple[str, ...]) -> str:
    """The surname of a full name, with its particles: "Ursula von der Leyen" -> "von der leyen"."""
    for i in range(1, len(tokens) - 1):
        if tokens[i].lower() in PARTICLES:
            return " ".join(tokens[i:]).lower()
    return tokens[-1].lower()


def _first_name_key(name: str) -> str:
    """Transliteration-neutral spelling of a first name: Mikhail ~ Michail, Yuriy ~ Yuri."""
    key = name.lower().replace("ks", "x").replace("kh", "ch").replace("y", "i").replace("j", "i")
    return key.replace("ii", "i").replace("ph", "f")


def _same_first_name(a: str, b: str) -> bool:
    a1, b1 = a.rstrip("."), b.rstrip(".")
    if len(a1) == 1 or len(b1) == 1:
        return a1[:1] == b1[:1]
    return a1[:1] == b1[:1] and fuzz.ratio(a1, b1) >= FIRST_NAME_MATCH


def _attach_surnames(
    by_name: dict[str, list[Mention]], kinds: dict[str, str], entities: list[Entity], index: dict[str, int]
) -> None:
    """A surname alone ("Ruiz", "Ms. Ruiz") belongs to the person last named in full before it."""
    full: dict[str, list[tuple[int, int]]] = {}
    for e_index, e in enumerate(entities):
        if e.kind != "person":
            continue
        for alias in e.aliases:
            for m in by_name[alias]:
                full.setdefault(_surname_key(m.tokens), []).append((m.start, e_index))
    for positions in full.values():
        positions.sort()
    for name, ms in by_name.items():
        key = " ".join(ms[0].tokens).lower()
        if not _is_bare_surname(ms[0].tokens) or key not in full or kinds[name] in {"organisation", "place"}:
            continue
        positions = full[key]
        starts = [p for p, _ in positions]
        for m in ms:
            k = bisect_left(starts, m.start)
            e_index = positions[k - 1][1] if k > 0 else positions[0][1]
            m.entity = e_index
            entities[e_index].aliases.add(name)
            if entities[e_index].role is None and m.role:
                entities[e_index].role = m.role
        index.setdefault(name, positions[0][1])
