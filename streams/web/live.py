"""What the web server knows: the story events log folded as it arrives, in bounded memory.

Every event goes through the fold `storywire stories` uses (`streams.story.fold.apply`, and `snapshot` for
what a page shows), one event at a time. Memory stays bounded however long the log: the desk holds the
`limit` most recently active stories (the least recently active leaves first; the topics keep it), and per
story its bounded state, its latest ENTRIES_PER_STORY timeline rows, its articles per day and outlet for
its latest DAYS_PER_STORY days and per hour for its latest HOURS_PER_STORY hours, and its latest
DUPLICATES_PER_STORY duplicates (and the ids of the latest COPIES_REMEMBERED copies counted, so a verdict
sent again after a worker's crash counts once). A story that left the desk and gets another entry (possible only after
more than `limit` stories were more active) is counted in `unfoldable`, not shown half-folded; so is its first entry
redelivered, for the latest DROPPED_REMEMBERED stories that left. A merge moves the absorbed story's rows, counts,
duplicates and merge labels to the story it went into, so they stay when the absorbed story leaves the desk.
"""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from schemas import DuplicateVerdict, StoryMerged, StorySnapshot
from streams.story.fold import StoryEventModel, apply, snapshot
from streams.story.state import OutOfSequence, StoryState, outlet_key
from streams.web.view import entry_row

ENTRIES_PER_STORY = 100
DAYS_PER_STORY = 400
HOURS_PER_STORY = 72
OUTLETS_PER_DAY = 12  # named per day; the rest of a day's articles count under OTHER_OUTLETS
OTHER_OUTLETS = "other outlets"
DUPLICATES_PER_STORY = 20
# Verdicts are sent again only for copies the worker had not yet committed when it crashed: far fewer.
COPIES_REMEMBERED = 100_000
# A redelivered entry follows its first delivery closely in the log: far fewer stories leave the desk in between.
DROPPED_REMEMBERED = 10_000
NOTICES_QUEUED = 64  # per listener; a listener that falls behind loses the oldest (it rereads the desk anyway)


@dataclass
class HeldStory:
    """One story as the desk holds it: the fold's state plus what its pages show."""

    story_id: str
    state: StoryState = field(default_factory=StoryState)
    entries: list[dict] = field(default_factory=list)  # timeline rows in log order, the latest ENTRIES_PER_STORY
    entries_total: int = 0
    days: dict[date, Counter] = field(default_factory=dict)  # article day -> outlet -> articles
    hours: dict[datetime, int] = field(default_factory=dict)  # article hour -> articles
    last_time: datetime | None = None  # when its latest entry was made
    absorbed_labels: dict[str, str] = field(default_factory=dict)  # absorbed story -> its label, if the desk held it
    _snapshot: StorySnapshot | None = None

    def snapshot(self) -> StorySnapshot:
        """The fold's snapshot of the story, computed once per change."""
        if self._snapshot is None:
            self._snapshot = snapshot(self.story_id, self.state)
        return self._snapshot

    def count_article(self, outlet: str, when: datetime) -> None:
        _count(self.days.setdefault(when.date(), Counter()), outlet, 1)
        hour = when.replace(minute=0, second=0, microsecond=0)
        self.hours[hour] = self.hours.get(hour, 0) + 1
        self._trim_counts()

    def take_over(self, absorbed: HeldStory) -> None:
        """A merge (already folded into this story's state): the absorbed story's rows and counts become this
        story's, and this story keeps its label and the labels it kept, for when it leaves the desk."""
        labels = {**absorbed.absorbed_labels, absorbed.story_id: absorbed.snapshot().label, **self.absorbed_labels}
        self.absorbed_labels = {story_id: labels[story_id] for story_id in self.state.absorbed if story_id in labels}
        self.entries = sorted([*self.entries, *absorbed.entries], key=lambda row: row["position"])
        self.entries_total += absorbed.entries_total
        for day, outlets in absorbed.days.items():
            for outlet, n in outlets.items():
                _count(self.days.setdefault(day, Counter()), outlet, n)
        for hour, n in absorbed.hours.items():
            self.hours[hour] = self.hours.get(hour, 0) + n
        self._trim_counts()
        absorbed.entries, absorbed.entries_total, absorbed.days, absorbed.hours = [], 0, {}, {}
        absorbed._snapshot = None  # it now says where it went

    def add_entry(self, row: dict, time: datetime) -> None:
        self.entries.append(row)
        del self.entries[:-ENTRIES_PER_STORY]
        self.entries_total += 1
        self.last_time = time
        self._snapshot = None

    def _trim_counts(self) -> None:
        while len(self.days) > DAYS_PER_STORY:
            del self.days[min(self.days)]
        while len(self.hours) > HOURS_PER_STORY:
            del self.hours[min(self.hours)]


def _count(day: Counter, outlet: str, n: int) -> None:
    """Count a day's articles by outlet, the first OUTLETS_PER_DAY by name and the others together."""
    day[outlet if outlet in day or len(day) < OUTLETS_PER_DAY else OTHER_OUTLETS] += n


def _remember(seen: OrderedDict[str, None], key: str, limit: int) -> None:
    """Remember the key among the latest `limit` remembered."""
    seen[key] = None
    if len(seen) > limit:
        seen.popitem(last=False)


@dataclass
class Duplicates:
    total: int = 0
    latest: deque = field(default_factory=lambda: deque(maxlen=DUPLICATES_PER_STORY))

    def take_over(self, absorbed: Duplicates) -> None:
        """A merge: the absorbed story's copies become this story's (its latest before this story's, whose order
        among them is not known)."""
        self.total += absorbed.total
        self.latest = deque([*absorbed.latest, *self.latest], maxlen=DUPLICATES_PER_STORY)


class Desk:
    """The stories folded so far, most recently active last, and the listeners told of each change."""

    def __init__(self, limit: int):
        self.limit = limit
        self.events_read = 0
        self.unfoldable = 0
        self.without_zone = 0  # story events passed over by the feed: the fold cannot compare their times
        self._stories: OrderedDict[str, HeldStory] = OrderedDict()
        self._duplicates: OrderedDict[str, Duplicates] = OrderedDict()
        self._copies_counted: OrderedDict[str, None] = OrderedDict()
        self._dropped: OrderedDict[str, None] = OrderedDict()
        self._listeners: set[asyncio.Queue] = set()

    def apply(self, event: StoryEventModel) -> bool:
        """Fold the story's next entry in. False for a repeat (a redelivered entry) and for an entry the desk
        cannot fold: a story it no longer holds, or one the fold refuses. The fold goes into a copy of the
        story's state, so an entry it fails on leaves the story as it was."""
        self.events_read += 1
        held = self._stories.get(event.story_id)
        if held is not None and event.version <= held.state.version:
            return False
        if held is None:
            if event.version != 1 or event.story_id in self._dropped:
                self.unfoldable += 1
                return False
            held = HeldStory(event.story_id)
        absorbed = self._stories.get(event.absorbed_story_id) if isinstance(event, StoryMerged) else None
        state = held.state.copy()
        try:  # an absorbed story the desk no longer holds still closes: its entries are the topic's alone
            apply(state, event, absorbed.state if absorbed else StoryState())
        except OutOfSequence:
            self.unfoldable += 1
            return False
        held.state = state
        if isinstance(event, StoryMerged):
            absorbed_label = absorbed.snapshot().label if absorbed is not None else None  # before it says where it went
            if absorbed is not None:
                held.take_over(absorbed)
            copies = self._duplicates.pop(event.absorbed_story_id, None)
            if copies is not None:
                self._duplicates.setdefault(event.story_id, Duplicates()).take_over(copies)
            held.add_entry(entry_row(event, absorbed_label), event.time)
        else:
            held.count_article(outlet_key(event.outlet, event.article_id), event.article_time or event.time)
            held.add_entry(entry_row(event), event.time)
        self._stories[event.story_id] = held
        self._stories.move_to_end(event.story_id)
        while len(self._stories) > self.limit:
            gone, _ = self._stories.popitem(last=False)
            self._duplicates.pop(gone, None)
            _remember(self._dropped, gone, DROPPED_REMEMBERED)
            self._notify({"story_id": gone, "kind": "left"})  # its open page fetches again and says it left
        notice = {"story_id": event.story_id, "version": event.version, "kind": event.kind, "label": event.label}
        if isinstance(event, StoryMerged):
            notice["absorbed_story_id"] = event.absorbed_story_id
        self._notify(notice)
        return True

    def add_duplicate(self, verdict: DuplicateVerdict) -> None:
        """A copy of one of a story's articles, kept with the story it merged into if it did; a redelivery (the
        same article again) is no copy and is left out, and so is a copy's verdict sent again after a worker's crash."""
        if verdict.kind == "redelivery" or verdict.story_id is None or verdict.article_id in self._copies_counted:
            return
        _remember(self._copies_counted, verdict.article_id, COPIES_REMEMBERED)
        original = self._stories.get(verdict.story_id)
        story_id = original.state.merged_into if original and original.state.merged_into else verdict.story_id
        kept = self._duplicates.setdefault(story_id, Duplicates())
        kept.total += 1
        kept.latest.append(verdict)
        self._duplicates.move_to_end(story_id)
        while len(self._duplicates) > self.limit:
            self._duplicates.popitem(last=False)
        self._notify({"story_id": story_id, "kind": "duplicate", "article_id": verdict.article_id})

    def get(self, story_id: str) -> HeldStory | None:
        return self._stories.get(story_id)

    def latest(self) -> Iterator[HeldStory]:
        """The stories that take articles (not merged into another), most recently active first."""
        return (held for held in reversed(self._stories.values()) if held.state.merged_into is None)

    @property
    def held(self) -> int:
        return len(self._stories)

    def duplicates_of(self, held: HeldStory) -> tuple[list[DuplicateVerdict], int]:
        """The latest copies of the story's articles, and of the stories it absorbed, with their total."""
        found = [self._duplicates[sid] for sid in (held.story_id, *held.state.absorbed) if sid in self._duplicates]
        return [verdict for kept in found for verdict in kept.latest], sum(kept.total for kept in found)

    @contextmanager
    def listening(self) -> Iterator[asyncio.Queue]:
        """A queue of change notices (dicts) for as long as the block runs; None when the desk closes."""
        queue: asyncio.Queue = asyncio.Queue(NOTICES_QUEUED)
        self._listeners.add(queue)
        try:
            yield queue
        finally:
            self._listeners.discard(queue)

    def close(self) -> None:
        """Tell every listener the desk is closing (the server is stopping)."""
        self._notify(None)

    def _notify(self, notice: dict | None) -> None:
        for queue in self._listeners:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(notice)
