"""Online story clustering: features, candidate retrieval, scoring, the join-or-start decision, story merging.

One article at a time, in arrival order:
1. `features` turns an article into three sparse TF-IDF vectors kept apart —
   body tokens (t:), named entities in the body (e:) and headline tokens (h:) —
   because the streaming news clustering literature found them to work best as
   separate similarities rather than one bag of words. A part the article
   lacks (a headline-only feed has no body) is simply absent.
2. `StoryIndex.candidates` retrieves stories through an inverted index on
   each story's most salient features, reading the article's features from
   the strongest down and stopping at a fixed budget of postings: cost is
   bounded however many stories are live.
3. `scores` compares the article with every candidate story's profile in one
   pass over packed arrays (`packed.py`): the
   weighted cosines of the parts both have, faded by the time between this
   article's days and the nearest of the story's latest days (publication
   times and the texts' event dates, where articles have them): a story quiet for weeks needs a far closer match than
   yesterday's, and one from years before takes none. No prior on story size:
   on full text it drew articles into the larger of two similar events.
4. `decide` joins the best candidate if its score reaches the threshold, else
   starts a new story.
   The index runs 2 to 4 in one pass in C (`StoryIndex.decision`), scoring each
   candidate by the packed block its row in the postings keeps (the profile's
   block as of its last change), not through its profile: with 100,000 live
   stories, reading the 40 candidates' cold profiles was 12 % of these steps
   (perf). `scored_candidates` and `decide` are the same steps in Python, to
   which tests hold it.
5. After an article is added, the story is compared with the few stories that
   share its salient features; two stories whose profiles reach MERGE_THRESHOLD
   are the same story told twice (typically two fragments that started apart
   before either had the vocabulary to recognise the other), so the smaller
   one's profile is folded into the larger and leaves the index: later articles
   go to the survivor, and `add` says so, for the desk to append a merge entry.

A story profile counts, per feature, how many of its articles have it, and
weighs that count sublinearly (1 + ln n) times the feature's IDF, so words the
story keeps repeating dominate it and one-off words do not swamp its norm.

IDF comes from English word frequencies (wordfreq) so that the first articles
of a fresh stream are weighed as well as the ten-thousandth; nothing here is
fitted to any particular stream.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from streams.pipeline import _kernels
from streams.pipeline.packed import (
    FEATURE_NUMBERS,
    PARTS,
    Packed,
    PackedBlock,
    weighted_cosines,
)

STORY_FEATURES_PER_PART = 80  # features a story profile keeps per part
STORY_DAYS = 8  # times a story profile is dated by (its latest)
POSTING_FEATURES = 12  # per part: the features a story is found under
MAX_CANDIDATES = 40  # stories scored per article
# A feature that more live stories than this are found under identifies none of them: it retrieves nothing.
MAX_POSTINGS = 250
# Postings one lookup may read, strongest features first: enough for each candidate to be found under
# several features. With this, and a fixed number of candidates scored, the cost of placing an article
# does not grow with the number of live stories.
POSTING_BUDGET = 8 * MAX_CANDIDATES
MERGE_CANDIDATES = 8  # stories a grown story is compared with
WEIGHTS = {"t": 0.45, "e": 0.35, "h": 0.20}
_PART_WEIGHTS = tuple(WEIGHTS[part] for part in PARTS)
# Two stories whose profiles are at least this similar (weighted cosine, no size prior) are merged.
MERGE_THRESHOLD = 0.2

@dataclass(slots=True, eq=False)
class StoryProfile:
    """What clustering keeps of a story: per-feature article counts (its strongest only), size, the days its
    articles are dated by, and when it was last active (event time).

    Bounded: at most STORY_FEATURES_PER_PART features per part, whatever the story's size. Slotted, as Packed is:
    each of the 40 profiles an article is scored against is likely cold, and a field read from the object itself
    is one read from memory fewer than one read through its dict. Compared and hashed by identity: two stories are
    not one for having equal counts, and a profile keys a dict (as the postings' `features` lists them).
    """

    story_id: str
    counts: dict[str, int] = field(default_factory=dict)  # feature -> how many of the story's articles have it
    size: int = 0
    last_seen: float = 0.0  # event time (epoch seconds) of the latest article, for the hot window
    # The latest times (days since 1970) its articles are dated by, sorted. Scoring reads them from the end of
    # the packed block (`data`), which holds them too: as an array of their own, each of the 40 cold profiles an
    # article is scored against cost two or three more reads from memory (the array, its buffer).
    days: tuple[float, ...] = ()
    last_position: int = 0  # the log position of the latest article counted: an article is counted once
    # Its unit vector per part, packed for scoring (Packed's block and part bits): held here, not in a Packed of
    # its own, so that scoring reads a candidate's block with one read from memory fewer (see `scores`).
    data: bytes = field(default=Packed.of({}).data, repr=False)
    present: int = 0
    salient: dict[str, float] = field(default_factory=dict, repr=False)  # features it is found under -> weight

    def add(self, vector: dict[str, float], seen: float, days: Iterable[float] = (), position: int = 0) -> None:
        if position and position <= self.last_position:
            return  # counted already (an article placed again after a crash lost part of its writes)
        self.last_position = max(self.last_position, position)
        for key in vector:
            self.counts[key] = self.counts.get(key, 0) + 1
        self._note(1, seen, days)

    def absorb(self, other: StoryProfile) -> None:
        """Fold another story's profile into this one (the two are one story)."""
        for key, n in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + n
        self.last_position = max(self.last_position, other.last_position)
        self._note(other.size, other.last_seen, other.days)

    def to_json(self) -> dict:
        """A copy: the stored row must not change as the profile goes on counting (a batch writes it later)."""
        return {
            "counts": dict(self.counts),
            "size": self.size,
            "last_seen": self.last_seen,
            "days": list(self.days),
            "last_position": self.last_position,
        }

    @classmethod
    def from_json(cls, story_id: str, data: dict) -> StoryProfile:
        profile = cls(story_id, dict(data["counts"]), data["size"], data["last_seen"], tuple(map(float, data["days"])), data["last_position"])
        profile._refresh()
        return profile

    def _note(self, articles: int, seen: float, days: Iterable[float]) -> None:
        self.size += articles
        self.last_seen = max(self.last_seen, seen)
        self.days = tuple(sorted({*self.days, *map(float, days)})[-STORY_DAYS:])  # stored as floats, as before
        self._refresh()

    def _refresh(self) -> None:
        """Weigh every feature (1 + ln count) * IDF, keep each part's strongest, normalise each part, pack the
        parts and then the days for scoring, and note the strongest body, entity and headline features it is found
        under. In C (`_kernels.c`): it runs on every article a story gains, over its 240 features and the article's."""
        self.counts, self.data, self.present, self.salient = _kernels.refresh(
            self.counts, FEATURE_NUMBERS, STORY_FEATURES_PER_PART, POSTING_FEATURES, self.days
        )


def fades(article_days: Iterable[float], stories: Sequence[PackedBlock], half_life_days: float) -> list[float]:
    """Per story: its pull, which halves every half-life of days between the article and the story.

    Each side is dated by the times it is known by, in days (an article: its own time and the event date its
    text gives; a story: its articles' latest such times), and the nearest pair counts, so a republished
    report of last week's event still meets its story while a report from years later starts a new one. An
    undated article or story is not faded. A story's days are read from the end of its packed block (`refresh`).
    """
    return _kernels.fades(article_days, stories, half_life_days)


def article_parts(vector: dict[str, float]) -> Packed:
    """An article's features as one unit vector per part, packed as `scores` compares them. In C
    (`_kernels.pack_parts`): splitting the vector into a dict per part and normalising each, in Python, took
    three times as long as packing them."""
    return Packed(*_kernels.pack_parts(vector, FEATURE_NUMBERS))


def scores(parts: PackedBlock, days: Iterable[float], stories: list[StoryProfile], half_life_days: float) -> list[float]:
    """Per story: the weighted cosine of its profile and the article over the parts (body, entities, headline)
    both have, faded by the days between the article and the story (see `fades`)."""
    similarities = weighted_cosines(parts, stories, _PART_WEIGHTS)  # a profile carries its packed block
    pulls = fades(days, stories, half_life_days)
    return [sim * pull for sim, pull in zip(similarities, pulls)]


@dataclass(frozen=True)
class Decision:
    story_id: str | None  # None: start a new story
    score: float

    @classmethod
    def of_best(cls, story_id: str | None, score: float, threshold: float) -> Decision:
        """Join the best-scoring story (None: none was found) if its score reaches the threshold."""
        return cls(story_id if score >= threshold else None, round(score, 4))


def decide(scored: list[tuple[str, float]], threshold: float) -> Decision:
    """Join the best-scoring story if it reaches the threshold; ties go to the lower story id."""
    if not scored:
        return Decision.of_best(None, 0.0, threshold)
    best = max(score for _, score in scored)
    return Decision.of_best(min(story_id for story_id, score in scored if score == best), best, threshold)


def _negated(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


@dataclass(frozen=True)
class Placed:
    """What adding an article changed besides its story's profile: a merge, and stories that left the index."""

    merged: tuple[str, str] | None = None  # (absorbed story, surviving story)
    expired: tuple[str, ...] = ()


class StoryIndex:
    """Live stories and an inverted index over their salient features.

    Holds only the stories of the hot window: a story quiet for longer than the
    window (in event time: the articles' own times) leaves the index and memory,
    as does a story merged into another; `add` says which, so the caller can
    keep their state elsewhere. Memory is bounded by the window, not by history.
    """

    def __init__(self, half_life_days: float, window_seconds: float, merge_threshold: float | None = None) -> None:
        self.half_life_days = half_life_days
        self.window_seconds = window_seconds
        self.merge_threshold = MERGE_THRESHOLD if merge_threshold is None else merge_threshold
        self.stories: dict[str, StoryProfile] = {}
        # Feature -> the live stories found under it, each by its row (`_kernels.Postings`: an open table of arrays,
        # in which finding the candidates took about two thirds of the time it took in dicts of dicts).
        self._postings = _kernels.Postings()
        self._rows: dict[str, int] = {}  # story id -> its row in the postings
        self._activity: list[tuple[float, str]] = []  # heap of (last_seen, story_id), may hold stale rows
        self.clock = 0.0

    @property
    def live(self) -> int:
        return len(self.stories)

    def restore(self, profile: StoryProfile) -> None:
        """Put back a stored profile (after a restart); the caller restores every live one."""
        if profile.story_id in self.stories:
            self._unindex(self.stories[profile.story_id])
        self.stories[profile.story_id] = profile
        self._reindex(profile)
        self.clock = max(self.clock, profile.last_seen)
        heapq.heappush(self._activity, (profile.last_seen, profile.story_id))

    def _found(self, weighted: dict[str, float], n: int, besides: StoryProfile | None = None) -> list[StoryProfile]:
        """The n stories (other than `besides`) with the most summed weight of the features they are found
        under, as their profiles; ties go to the higher story id, so the choice never depends on the postings'
        order.

        Features are read strongest first, within the posting budget. A feature whose postings no longer fit
        the budget is passed over, so the rarer (more telling) features after it still count.
        """
        skipped = -1 if besides is None else self._rows[besides.story_id]
        return self._postings.found(weighted, n, skipped, POSTING_BUDGET, MAX_POSTINGS)

    def candidates(self, vector: dict[str, float]) -> list[str]:
        return [story.story_id for story in self._found(vector, MAX_CANDIDATES)]

    def scored_candidates(self, vector: dict[str, float], days: Iterable[float]) -> list[tuple[str, float]]:
        """The candidate stories with their scores for an article dated by `days`."""
        return self._scored(self._found(vector, MAX_CANDIDATES), article_parts(vector), days)

    def decision(self, vector: dict[str, float], days: Iterable[float], threshold: float) -> Decision:
        """`decide` on the article's `scored_candidates`, in one pass in C (module docstring)."""
        return Decision.of_best(*self._best(vector, MAX_CANDIDATES, None, article_parts(vector), days), threshold)

    def _best(
        self, weighted: dict[str, float], n: int, besides: StoryProfile | None, parts: PackedBlock, days: Iterable[float]
    ) -> tuple[str | None, float]:
        """The best-scoring of the stories `_found` finds, ties to the lower story id, with its score."""
        skipped = -1 if besides is None else self._rows[besides.story_id]
        return self._postings.best(weighted, n, skipped, POSTING_BUDGET, MAX_POSTINGS, parts, _PART_WEIGHTS, days, self.half_life_days)

    def _scored(self, found: list[StoryProfile], parts: PackedBlock, days: Iterable[float]) -> list[tuple[str, float]]:
        """The found stories' ids, each with its score for an article (or a story) of these parts and days."""
        return [(story.story_id, score) for story, score in zip(found, scores(parts, days, found, self.half_life_days))]

    def add(
        self,
        story_id: str,
        vector: dict[str, float],
        seen: float,
        days: Iterable[float] = (),
        position: int = 0,
        merge: bool | tuple[str, str] = True,
    ) -> Placed:
        """Count the article (event time `seen`, dated by `days`) in its story, a new one or a live one; then merge
        it with the live story that is one story with it (True), or merge the pair (absorbed, survivor) that a
        recorded merge entry names (healing: the story nearest now may not be the one merged then), or neither
        (False); and expire what that calls for."""
        profile = self.stories.get(story_id)
        if profile is None:
            profile = self.stories[story_id] = StoryProfile(story_id)
        profile.add(vector, seen, days, position)
        self._reindex(profile)
        self.clock = max(self.clock, seen)
        heapq.heappush(self._activity, (profile.last_seen, profile.story_id))
        if merge is True:
            merged = self._merge_near(profile)
        elif merge:
            merged = self._merge(*merge)
        else:
            merged = None
        return Placed(merged, self.expire(seen))

    def _merge_near(self, profile: StoryProfile) -> tuple[str, str] | None:
        """Merge the story with the most similar live story sharing its salient features, if they are one story."""
        other_id, sim = self._best(profile.salient, MERGE_CANDIDATES, profile, profile, profile.days)
        if other_id is None or sim < self.merge_threshold:
            return None
        other = self.stories[other_id]
        keep, gone = (profile, other) if (profile.size, _negated(profile.story_id)) > (other.size, _negated(other.story_id)) else (other, profile)
        return self._merge(gone.story_id, keep.story_id)

    def _merge(self, gone_id: str, keep_id: str) -> tuple[str, str] | None:
        """Fold one live story's profile into another's: (absorbed, survivor), or None if either is not live."""
        gone, keep = self.stories.get(gone_id), self.stories.get(keep_id)
        if gone is None or keep is None or gone is keep:
            return None
        keep.absorb(gone)
        self._unindex(gone)
        del self.stories[gone_id]
        self._reindex(keep)
        heapq.heappush(self._activity, (keep.last_seen, keep_id))
        return gone_id, keep_id

    def remove(self, story_id: str) -> None:
        """Forget a story (one absorbed by another, whose removal a crash cut short); no matter if it is gone."""
        profile = self.stories.pop(story_id, None)
        if profile is not None:
            self._unindex(profile)

    def _unindex(self, profile: StoryProfile) -> None:
        row = self._rows.pop(profile.story_id, None)
        if row is not None:
            self._postings.leave(row)

    def _reindex(self, profile: StoryProfile) -> None:
        """Post the profile under the features it is found under now, and keep its block as it is now for scoring
        (`_best`): called after every change to a profile. The postings change only under the features it lost or
        gained (a story's salient features mostly stay as it grows)."""
        row = self._rows.get(profile.story_id)
        if row is None:
            self._rows[profile.story_id] = self._postings.enter(profile, profile.story_id, profile.salient)
        else:
            self._postings.move(row, profile.salient)

    def expire(self, now: float) -> tuple[str, ...]:
        """The stories quiet for longer than the window before `now` (event time) leave; returns their ids. Not the
        index's clock: an article placed again after a crash expires what it expired the first time, though
        profiles stored later in its batch have moved the clock on."""
        horizon = now - self.window_seconds
        expired = []
        while self._activity and self._activity[0][0] < horizon:
            seen, story_id = heapq.heappop(self._activity)
            profile = self.stories.get(story_id)
            if profile is None or profile.last_seen != seen:
                continue  # a stale heap row: the story was active again since, or it was merged
            self._unindex(profile)
            del self.stories[story_id]
            expired.append(story_id)
        return tuple(expired)
