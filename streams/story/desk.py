"""The story desk: for each prepared article, decide redelivery, duplicate, or which story it extends.

The desk holds only derived, in-memory indexes. The source of truth is two
mappings that the worker keeps in faust tables (plain dicts in unit tests):
story changelogs (story id -> list of events) and fingerprints (article id ->
its dedup fingerprint and story). `load` rebuilds the indexes from them after a
restart; `decide` is deterministic given them, so reprocessing a message after
a crash reaches the same verdict and changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from schemas import DuplicateVerdict, PreparedArticle, parse_story_event
from streams.pipeline.cluster import StoryIndex, decide
from streams.pipeline.dedup import DuplicateIndex, Fingerprint
from streams.settings import Settings
from streams.story.fold import StoryEventModel, StoryState, next_event, snapshot


@dataclass(frozen=True)
class Appended:
    """The article extends (or starts) a story with this event."""

    event: StoryEventModel


@dataclass(frozen=True)
class Duplicate:
    """The article appends nothing: its text, or the article itself, was already seen."""

    verdict: DuplicateVerdict
    event: StoryEventModel | None = None  # for a redelivery: the entry it made the first time, sent again


Outcome = Appended | Duplicate


def fingerprint_of(prepared: PreparedArticle) -> Fingerprint:
    """The dedup fingerprint the parallel stage computed for the article."""
    return Fingerprint(prepared.exact, tuple(prepared.signature))


def story_id_for(article_id: str) -> str:
    """A story is named after its first article, so every replay names it the same."""
    return "story-" + hashlib.blake2b(article_id.encode(), digest_size=6).hexdigest()


class StoryDesk:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.duplicates = DuplicateIndex(settings.near_duplicate_similarity)
        self.stories = StoryIndex(settings.story_half_life_hours / 24, settings.story_window_days * 86400)
        self.placed: dict[str, tuple[str, int]] = {}  # article id -> (story id, version)
        self.states: dict[str, StoryState] = {}  # story id -> the fold of its events so far

    def load(self, changelogs: Mapping[str, list], fingerprints: Mapping[str, dict]) -> None:
        """Rebuild every index from the tables (after a start or a rebalance)."""
        events = [parse_story_event(raw) for entries in changelogs.values() for raw in entries]
        # The story index (profiles, merges, the hot window) depends on the order articles arrived in:
        # rebuild it in that order, not story by story.
        for event in sorted(events, key=lambda e: (e.position, e.story_id, e.version)):
            self._index_event(event)
        for article_id, row in fingerprints.items():
            self.duplicates.add(article_id, Fingerprint.from_json(row))

    def decide(self, prepared: PreparedArticle, changelogs: Mapping[str, list]) -> Outcome:
        article = prepared.article
        article_id = article.article_id
        if article_id in self.placed:
            story_id, version = self.placed[article_id]
            event = parse_story_event(changelogs[story_id][version - 1])
            verdict = DuplicateVerdict(
                article_id=article_id, duplicate_of=article_id, similarity=1.0, kind="redelivery", story_id=story_id
            )
            return Duplicate(verdict, event)

        fp = fingerprint_of(prepared)
        match = self.duplicates.find(fp)
        if match is not None and match.article_id != article_id:
            original = self.placed.get(match.article_id)
            verdict = DuplicateVerdict(
                article_id=article_id,
                duplicate_of=match.article_id,
                similarity=match.similarity,
                kind=match.kind,
                story_id=original[0] if original else None,
            )
            return Duplicate(verdict)

        facts = prepared.facts
        when = facts.reported_date()
        scored = self.stories.scored_candidates(facts.terms, article.outlet, when)
        decision = decide(scored, self.settings.join_threshold)
        story_id = decision.story_id or story_id_for(article_id)
        event = next_event(
            story_id,
            self.states.get(story_id) or StoryState(),
            position=len(self.placed) + 1,
            article_id=article_id,
            outlet=article.outlet,
            time=article.received_at or datetime.fromtimestamp(0).astimezone(),
            facts=facts,
            score=decision.score,
        )
        return Appended(event)

    def record(self, prepared: PreparedArticle, outcome: Outcome) -> None:
        """Update the indexes after the caller has written the outcome to the tables."""
        if isinstance(outcome, Appended):
            self.duplicates.add(prepared.article.article_id, fingerprint_of(prepared))
            self._index_event(outcome.event)

    def snapshot(self, story_id: str):
        """The story's current snapshot, from the state the desk keeps (no re-fold of its changelog)."""
        return snapshot(story_id, self.states[story_id])

    def _index_event(self, event: StoryEventModel) -> None:
        if event.article_id in self.placed:
            return
        self.placed[event.article_id] = (event.story_id, event.version)
        self.states.setdefault(event.story_id, StoryState()).apply(event)
        facts = event.facts
        when = facts.reported_date()
        self.stories.add(event.story_id, facts.terms, event.outlet, when, event.time.timestamp())
