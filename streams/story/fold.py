"""A story as a pure fold of its events, and the next event an article makes.

`apply` folds one event into a story's `StoryState` (refusing any event that is
not the story's next version); `fold_log` folds the whole log, merges included;
`next_event` says what a new article changes relative to the story so far: a
new outlet, new names, quotes and claims, corroboration (one more outlet
reports the same quote or claim) and conflicts (outlets disagree on the same
count or day); `merge_event` records that one story was absorbed into another.
All are pure, so replaying the same log always yields the same state. The desk,
which keeps each live story's state, uses `advance` and `advance_by_merge`:
the same entries, with the state folded on in place rather than copied.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime

from schemas import (
    ArticleFacts,
    ArticleJoined,
    ArticleMetadata,
    Corroboration,
    Entity,
    QuoteView,
    StoryMerged,
    StorySnapshot,
    StoryStarted,
)
from streams.story.state import FactKeys, OutOfSequence, StoryState, outlet_key

ArticleEntry = StoryStarted | ArticleJoined
StoryEventModel = StoryStarted | ArticleJoined | StoryMerged


def apply(state: StoryState, event: StoryEventModel, absorbed: StoryState | None = None) -> None:
    """Fold the story's next event in; a merge needs the absorbed story's state, which it takes over."""
    state.check_next(event)
    if isinstance(event, StoryMerged):
        if absorbed is None:
            raise ValueError(f"merging {event.absorbed_story_id} into {event.story_id} needs its state")
        state.absorb(absorbed, event.absorbed_story_id)
        absorbed.merged_into = event.story_id
    else:
        state.add(event.article_id, event.outlet, event.time, event.facts)
    state.version = event.version


def state_of(events: Iterable[ArticleEntry]) -> StoryState:
    """One story's state after its article entries (in version order)."""
    state = StoryState()
    for event in events:
        apply(state, event)
    return state


def fold_log(events: Iterable[StoryEventModel]) -> dict[str, StoryState]:
    """Every story's state after the log's events, applied in log order (their positions). A merge must absorb
    the story as the log has it: known, open, and at the version the merge says."""
    states: dict[str, StoryState] = defaultdict(StoryState)
    for event in events:
        absorbed = None
        if isinstance(event, StoryMerged):
            absorbed = states.get(event.absorbed_story_id)
            _check_absorbed(event, absorbed)
        apply(states[event.story_id], event, absorbed)
    return dict(states)


def _check_absorbed(merge: StoryMerged, absorbed: StoryState | None) -> None:
    where = f"{merge.story_id} v{merge.version} absorbs {merge.absorbed_story_id}"
    if absorbed is None or absorbed.version == 0:
        raise OutOfSequence(f"{where}, which the log has no entry of")
    if absorbed.merged_into is not None:
        raise OutOfSequence(f"{where}, which was merged into {absorbed.merged_into} already")
    if absorbed.version != merge.absorbed_version:
        raise OutOfSequence(f"{where} at v{merge.absorbed_version}, which the log has at v{absorbed.version}")


def arrival(article: ArticleMetadata) -> datetime:
    """The time an entry gives as its article's arrival (its `time`): the raw message's broker time, or the epoch for
    an article that has none."""
    return article.received_at or datetime.fromtimestamp(0).astimezone()


def dated_within(event_date: date | None, event_weekday: str | None, story_date: date | None) -> date | None:
    """The article's own event date, else the story's if it falls on the weekday the article names."""
    if event_date is not None:
        return event_date
    if event_weekday and story_date and story_date.strftime("%A") == event_weekday:
        return story_date
    return None


def next_event(story_id: str, before: StoryState, *args, **kwargs) -> ArticleEntry:
    """The changelog entry the article appends to the story: what it added, corroborated or contradicted. The
    state it is given stays as it is."""
    return advance(story_id, before.copy(), *args, **kwargs)


def advance(
    story_id: str,
    state: StoryState,
    article_id: str,
    outlet: str | None,
    time: datetime,
    facts: ArticleFacts,
    score: float = 0.0,
    position: int = 0,
    article_time: datetime | None = None,
) -> ArticleEntry:
    """`next_event`, with the article folded into `state` in place: the state `apply` would give, made once.
    For the desk, which keeps one state per live story: a copy of it per article (its dicts, lists and counts)
    was a twentieth of placing, with the collections of the copies it left behind. What the entry says of the
    story before the article is read first; a bug in between leaves the state half changed, and the place
    stage then rebuilds the desk from its stores (streams/worker/place_stage.py)."""
    quote_positions = state.quote_positions(facts.quotes)  # matched once, for the entry and the state, as the keys are made
    who = outlet_key(outlet, article_id)
    new_outlet = who not in state.outlets
    keys = FactKeys.of(facts)
    new_entities = [e.name for e, key in zip(facts.entities, keys.entities) if key not in state.entities]
    new_claims = [c for c, text in zip(facts.claims, keys.claims) if text not in state.claims]
    new_quotes = []
    corroborations: list[Corroboration] = []
    for quote, at in zip(facts.quotes, quote_positions):
        if at is None:
            new_quotes.append(quote)
        elif who not in (match := state.quotes[at])[1].outlets:
            corroborations.append(Corroboration(what="quote", text=match[0].text, outlets=match[1].count + 1))
    for text in keys.claims:
        if text in state.claims and who not in state.claims[text][1].outlets:
            corroborations.append(Corroboration(what="claim", text=text, outlets=state.claims[text][1].count + 1))
    old_conflicts = {c.model_dump_json() for c in state.conflicts()}
    version = state.version + 1
    state.add(article_id, outlet, time, facts, quote_positions, keys)
    state.version = version
    conflicts = [c for c in state.conflicts() if c.model_dump_json() not in old_conflicts]

    common = dict(
        story_id=story_id,
        version=version,
        position=position,
        time=time,
        article_time=article_time,
        article_id=article_id,
        outlet=outlet,
        facts=facts,
        event_date=dated_within(facts.event_date, facts.event_weekday, state.event_date()),
        label=state.label(),
        new_outlet=new_outlet,
        new_entities=list(dict.fromkeys(new_entities)),
        new_quotes=new_quotes,
        new_claims=new_claims,
        corroborations=corroborations,
        conflicts=conflicts,
    )
    if version == 1:
        return StoryStarted(**common)
    return ArticleJoined(score=score, **common)


def merge_event(survivor_id: str, survivor: StoryState, *args, **kwargs) -> StoryMerged:
    """The entry that folds `absorbed` into `survivor`: one story told twice, found out. The states it is given
    stay as they are."""
    return advance_by_merge(survivor_id, survivor.copy(), *args, **kwargs)


def advance_by_merge(survivor_id: str, survivor: StoryState, absorbed_id: str, absorbed: StoryState, time: datetime, position: int) -> StoryMerged:
    """`merge_event`, with the absorbed story folded into the survivor's state in place (see `advance`)."""
    version = survivor.version + 1
    survivor.absorb(absorbed, absorbed_id)
    survivor.version = version
    return StoryMerged(
        story_id=survivor_id,
        version=version,
        position=position,
        time=time,
        label=survivor.label(),
        absorbed_story_id=absorbed_id,
        absorbed_version=absorbed.version,
        articles=survivor.articles,
    )


SNAPSHOT_EVERY = 10  # a story's snapshot is due on each of its first entries, then on every tenth


def snapshot_due(event: StoryEventModel) -> bool:
    """Whether the entry makes its story's snapshot due: every entry of a young story, every tenth of a long one,
    and every merge. The place stage publishes a snapshot due once per batch, as of the batch's last entry
    (`streams.story.desk.snapshots_due`), so a long story's snapshot is at most nine entries behind its log; its
    version says which."""
    return event.version <= SNAPSHOT_EVERY or event.version % SNAPSHOT_EVERY == 0 or isinstance(event, StoryMerged)


def snapshot(story_id: str, state: StoryState) -> StorySnapshot:
    """The snapshot a story's state gives: bounded, like the state."""
    if state.version == 0:
        raise ValueError("a story has at least one event")
    by_kind: dict[str, list[Entity]] = defaultdict(list)
    for key, (entity, _count) in sorted(state.entities.items(), key=lambda kv: (-kv[1][1], kv[0])):
        by_kind[entity.kind].append(entity)
    story_date = state.event_date()
    return StorySnapshot(
        story_id=story_id,
        version=state.version,
        label=state.label(),
        articles=state.articles,
        recent_article_ids=[r.article_id for r in state.recent],
        outlets=list(state.outlets),
        outlet_count=state.outlet_count,
        first_seen=state.first_seen,
        last_seen=state.last_seen,
        event_date=story_date,
        article_event_dates={r.article_id: dated_within(r.event_date, r.event_weekday, story_date) for r in state.recent},
        people=by_kind["person"],
        organisations=[e.name for e in by_kind["organisation"]],
        places=[e.name for e in by_kind["place"]],
        quotes=[QuoteView(text=q.text, speaker=q.speaker, outlets=sorted(r.outlets)) for q, r in state.quotes],
        claims=[state.claims[t][0] for t in sorted(state.claims)],
        conflicts=state.conflicts(),
        absorbed=state.absorbed,
        merged_into=state.merged_into,
    )


def fold(events: Sequence[ArticleEntry]) -> StorySnapshot:
    """One story's snapshot from its article entries (in version order)."""
    if not events:
        raise ValueError("a story has at least one event")
    return snapshot(events[0].story_id, state_of(events))
