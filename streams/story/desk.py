"""The story desk: for each prepared article, decide redelivery, duplicate, or which story it extends, and
record the outcome in bounded stores.

The log (the story events topic) is the source of truth. The desk keeps only
what it needs to make the next entry, in five stores (faust tables in the
worker, RocksDB in `storywire soak`, dicts in unit tests), none of whose values
grows with a story's size:

- `stories`: story id -> its bounded state (the fold's accumulator);
- `articles`: article id -> the entries it made, or the verdict it got, so a
  redelivery months later is recognised and its entries sent again;
- `live`: story id -> clustering profile, for the stories of the hot window only; and for each story
  absorbed within the story or the dedup window, ABSORBED + its id -> the story that absorbed it
  (`absorbed_row`);
- `fingerprints`: article id -> dedup fingerprint, for the dedup window only;
- `meta`: the log position, the stream's lag behind the broker, and the date of the latest dated article.

In memory it holds the live stories' profiles and states and the window's
fingerprints; a restart rebuilds them from `live` and `fingerprints` alone, so
memory and restart time are bounded by the windows, not by history.

Time is event time: an article's publication time, else its event date, else
its broker time shifted by how far the stream's dated articles run behind the
broker (zero for a live feed, years for a replayed archive). A date more than a
day after the broker received the article is not its time: no article is
published after it is sent, so such a date is the future event it reports on,
or a typo, and as the stream's time it would expire every live story at once.
So would a typo'd year in a replayed archive, which lies before the broker time: a
date more than a day past the stream's time and the date of the dated article
before it is taken as the article's time only once the next dated article comes
as far (the first article after a real gap in the stream waits for the second).
The stream's "now"
is the latest event time seen; an article older than that (late, or out of
order) is placed as it arrives and counts from "now" for the windows, while its
own date still decides how much a story's silence weighs against it.
"""

from __future__ import annotations

import gc
import hashlib
import heapq
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone

import orjson

from schemas import (
    ArticleFacts,
    DuplicateVerdict,
    PreparedArticle,
    StoryMerged,
    parse_story_event,
)
from streams.pipeline.cluster import Placed, StoryIndex, StoryProfile
from streams.pipeline.dedup import DuplicateIndex, Fingerprint
from streams.settings import Settings
from streams.story.fold import (
    StoryEventModel,
    advance,
    advance_by_merge,
    apply,
    snapshot,
    snapshot_due,
)
from streams.story.state import StoryState

META = "desk"
# The garbage collector's thresholds for a process that places (the worker's, and the bench's in-process
# figures): a young collection once 200,000 more objects are held than at the last, rather than 700. Placing
# allocates many short-lived objects per article, and nearly all die by reference counting: a batch's staged
# writes are the young objects most held at once. With 700, the collector was about 6 % of the worker's process
# (perf; 2.82-2.84 ms per article end to end against 2.57-2.66 with 20,000). With 20,000, a batch's staged writes
# still crossed it: 29 young collections and one older while the in-process desk placed 15,000 articles after a
# history of 20,000, 12.6-19.3 us per article in the collector (gc.callbacks); with 200,000, none.
GC_THRESHOLDS = (200_000, 10, 10)

# The key prefix of a `live` row that says where an absorbed story went. A batch writes these rows before its
# profiles (staging.keys_in_order): a profile stored from a batch says every merge of the batch is stored too,
# which is how healing tells which profile counts an article whose story a later article of its batch merged
# away (`StoryDesk._counted`). Story ids never take this prefix (`story_id_for`).
ABSORBED = "absorbed:"

# How far after its broker time an article's date may be and still be its time (time zones, feeds' clocks).
DATE_AHEAD_SECONDS = 86_400
# How far past the stream's time, and the date of the dated article before it, one article's date may lead alone.
LEAP_SECONDS = 86_400


@contextmanager
def collecting_as_the_worker() -> Iterator[None]:
    """GC_THRESHOLDS while the block runs, then the thresholds before: for tools that measure placing, or a
    restart, in their own process (`bench`, `soak`). With the defaults, collections of a large heap land on
    whatever allocates next: rebuilding a desk's dedup index took half as long again."""
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


@dataclass(frozen=True)
class Appended:
    """The article extends (or starts) a story; `events` is its entry, then a merge entry if it caused one."""

    events: tuple[StoryEventModel, ...]
    # Their JSON, made once: published as it is, and embedded as it is in the article's record (ArticleRecord).
    encoded: tuple[bytes, ...]

    @property
    def event(self) -> StoryEventModel:
        return self.events[0]


class ArticleRecord(dict):
    """An appended article's record as the desk writes it: {"story_id", "events", "now"}, its entries embedded
    as the JSON they were published as (orjson.Fragment). A table encodes a value twice (for its store and its
    changelog): the entries' bytes are copied, where parsing them into dicts and encoding those took three
    times as long. `encoded` keeps the bytes for a redelivery that reads the record before it is written; read
    back from a table, a record is a plain dict, its entries dicts. Read-only, so that it always holds what
    `encoded` says (its equality rests on that); a plain dict copy of it would hold Fragments without the bytes."""

    def __init__(self, story_id: str, encoded: tuple[bytes, ...], now: float) -> None:
        super().__init__(story_id=story_id, events=[orjson.Fragment(value) for value in encoded], now=now)
        self.encoded = encoded

    def __eq__(self, other: object) -> bool:
        """Equal to a record that a table would store the same (a Fragment compares by identity)."""
        if isinstance(other, ArticleRecord):
            return (self["story_id"], self.encoded, self["now"]) == (other["story_id"], other.encoded, other["now"])
        return isinstance(other, dict) and orjson.loads(orjson.dumps(self)) == other

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __reduce__(self):
        return ArticleRecord, (self["story_id"], self.encoded, self["now"])

    def _written_whole(self, *args, **kwargs):
        raise TypeError("an article's record is written whole, never changed in place")

    __setitem__ = __delitem__ = __ior__ = update = setdefault = pop = popitem = clear = _written_whole


def recorded_events(record: dict) -> tuple[StoryEventModel, ...]:
    """The entries an article's record holds, whether the desk made it (ArticleRecord) or a table read it back."""
    return tuple(map(parse_story_event, getattr(record, "encoded", None) or record["events"]))


@dataclass(frozen=True)
class Duplicate:
    """The article appends nothing: its text, or the article itself, was already seen."""

    verdict: DuplicateVerdict
    # For a redelivery, what the article made the first time, sent again (a crash may have kept it from the
    # broker): its entries, or the verdict it got.
    events: tuple[StoryEventModel, ...] = ()
    earlier: DuplicateVerdict | None = None

    @property
    def encoded(self) -> tuple[bytes, ...]:
        return tuple(event.to_bytes() for event in self.events)


Outcome = Appended | Duplicate


def snapshots_due(outcomes: Sequence[Outcome | None]) -> dict[str, int]:
    """The stories whose snapshot a batch of outcomes publishes (None: an article that became a dead letter),
    each with the index of the last outcome that carries an entry of it: a story one of its entries makes due
    (`snapshot_due`, a redelivery's entries included), and a story a merge absorbed, whose snapshot says
    where it went. Each is published once per batch, as of the batch's end (`StoryDesk.snapshot`), with the
    story's last entry in the batch, so no snapshot goes out ahead of an entry it holds: the snapshots of one
    story's several entries in a batch reach a subscriber together, and its compacted topic keeps the last
    alone. On the bench's stream, batches of 500 articles publish 0.41 snapshots per article, not 0.87."""
    due: set[str] = set()
    last: dict[str, int] = {}
    for index, outcome in enumerate(outcomes):
        for event in outcome.events if outcome is not None else ():
            last[event.story_id] = index
            if snapshot_due(event):  # a merge always is
                due.add(event.story_id)
                if isinstance(event, StoryMerged):
                    last[event.absorbed_story_id] = index
                    due.add(event.absorbed_story_id)
    return {story_id: index for story_id, index in last.items() if story_id in due}


@dataclass
class DeskStores:
    stories: MutableMapping = field(default_factory=dict)
    articles: MutableMapping = field(default_factory=dict)
    live: MutableMapping = field(default_factory=dict)
    fingerprints: MutableMapping = field(default_factory=dict)
    meta: MutableMapping = field(default_factory=dict)


def remove(store: MutableMapping, key: str) -> None:
    """Remove the key, without reading its value as `pop` would: a table's value is fetched and decoded to be
    read (a fingerprint leaving the window read its row twice, through the staging). The worker's staged stores
    stage the removal whether or not the store has the key (see StagedStore); a plain dict has nothing to do."""
    try:
        del store[key]
    except KeyError:
        pass


def put(store: MutableMapping, key: str, make: Callable[[], dict]) -> None:
    """store[key] = make(), made as late as the store allows: a staged store (streams/story/staging.py) makes it when
    its batch is sealed, once, however many of the batch's articles changed it. For a story's state and its profile,
    whose rows `_record` writes after every change the desk makes to them: what a row is made from changes only
    through a change that `put`s it again."""
    set_later = getattr(store, "set_later", None)
    if set_later is None:
        store[key] = make()
    else:
        set_later(key, make)


def absorbed_row(into: str, seen: float) -> dict:
    """The `live` row (at ABSORBED + the story's id) saying which story absorbed a story, and when."""
    return {"into": into, "seen": seen}


def fingerprint_of(prepared: PreparedArticle) -> Fingerprint:
    """The dedup fingerprint the parallel stage computed for the article."""
    return Fingerprint.of_base64(prepared.exact, prepared.signature)


def story_id_for(article_id: str) -> str:
    """A story is named after its first article, so every replay names it the same."""
    return "story-" + hashlib.blake2b(article_id.encode(), digest_size=6).hexdigest()


def article_days(facts: ArticleFacts) -> set[float]:
    """When an article is dated, in days since 1970, for clustering: its publication time and noon of the event
    date its text gives. An article with neither is not dated: time neither helps nor hurts it (its broker
    time says when it was sent, not what it reports on)."""
    days = set()
    if facts.published_at is not None:
        days.add(facts.published_at.timestamp() / 86400)
    if facts.event_date is not None:
        days.add(noon_of(facts.event_date) / 86400)
    return days


def noon_of(day: date) -> float:
    """Noon UTC of a day, in epoch seconds: the time a date alone stands for."""
    return datetime.combine(day, time(12), timezone.utc).timestamp()


def _epoch(moment: datetime | None) -> float:
    return moment.timestamp() if moment else 0.0


def _dated_time(prepared: PreparedArticle) -> float | None:
    """The time the article's date gives (its publication time, else noon of its event date), unless it has
    none or it is more than DATE_AHEAD_SECONDS after the broker received the article (module docstring)."""
    facts, received = prepared.facts, prepared.article.received_at
    if facts.published_at is not None:
        dated = facts.published_at.timestamp()
    elif facts.event_date is not None:
        dated = noon_of(facts.event_date)
    else:
        return None
    return None if received and dated > received.timestamp() + DATE_AHEAD_SECONDS else dated


class StoryDesk:
    def __init__(self, settings: Settings, stores: DeskStores | None = None) -> None:
        self.settings = settings
        self.stores = stores if stores is not None else DeskStores()
        self.duplicates = DuplicateIndex(settings.near_duplicate_similarity, settings.dedup_window_days * 86400)
        self.stories = StoryIndex(settings.story_half_life_hours / 24, settings.story_window_days * 86400)
        self.states: dict[str, StoryState] = {}  # the live stories' states
        # The stories absorbed within the story or the dedup window, whichever is longer (a duplicate's verdict
        # names the story that holds its original, which the dedup window keeps): absorbed -> absorbing, and
        # (time, absorbed) to expire them.
        self.absorbed: dict[str, str] = {}
        self.absorbed_seconds = max(settings.story_window_days, settings.dedup_window_days) * 86400
        self._absorbed_times: list[tuple[float, str]] = []
        meta = self.stores.meta.get(META) or {}
        self.position: int = meta.get("position", 0)
        # The log position the stored windows were written up to: an article at or below it is counted in the
        # live profiles (its batch's windows, live and fingerprints, are on the broker before it is written).
        self.windows_position = self.position
        # Broker time minus article time, of the latest dated article whose date was its time (`_note_date`).
        self.lag: float = meta.get("lag", 0.0)
        self.previous_date: float | None = meta.get("previous_date")  # the time the latest dated article gave

    def load(self) -> None:
        """Rebuild the in-memory indexes from the bounded stores (after a start or a rebalance)."""
        for key, row in self.stores.live.items():
            if key.startswith(ABSORBED):
                self._note_absorbed(key.removeprefix(ABSORBED), row["into"], row["seen"])
            else:
                self.stories.restore(StoryProfile.from_json(key, row))
        rows = sorted(self.stores.fingerprints.items(), key=lambda item: (item[1]["seen"], item[1]["position"]))
        for article_id, row in rows:
            for old in self.duplicates.add(article_id, Fingerprint.from_json(row), row["seen"]):
                remove(self.stores.fingerprints, old)  # its removal was cut short by a crash

    def place(self, prepared: PreparedArticle) -> Outcome:
        """Decide the article's outcome and record it in the stores (the article's record first)."""
        article_id = prepared.article.article_id
        earlier = self.stores.articles.get(article_id)
        if earlier is not None:
            return self._again(prepared, earlier)
        fingerprint = fingerprint_of(prepared)
        match = self.duplicates.find(fingerprint)
        if match is not None:
            original = self.stores.articles.get(match.article_id) or {}
            verdict = DuplicateVerdict(
                article_id=article_id,
                duplicate_of=match.article_id,
                similarity=match.similarity,
                kind=match.kind,
                story_id=original.get("story_id") and self._holder(original["story_id"]),
            )
            self.stores.articles[article_id] = {"verdict": verdict.model_dump(mode="json")}
            return Duplicate(verdict)
        own_time, now = self._clock(prepared)
        events, placed = self._new_entries(prepared, own_time, now)
        encoded = tuple(event.to_bytes() for event in events)
        self.stores.articles[article_id] = ArticleRecord(events[0].story_id, encoded, now)
        self._record(prepared, fingerprint, events, placed, now)
        return Appended(events, encoded)

    def messages(self, outcome: Outcome) -> list[tuple[str, str, bytes]]:
        """What an outcome publishes, as (kind, key, value): a duplicate's verdict (a redelivery's: the verdict
        it got the first time, again, then its own; readers count a verdict once); then the entries, in order (a
        redelivery's again: subscribers drop repeats). The snapshots they make due are published per batch
        (`snapshots_due`)."""
        messages = []
        if isinstance(outcome, Duplicate):
            for verdict in (outcome.earlier, outcome.verdict):
                if verdict is not None:
                    messages.append(("duplicate", verdict.article_id, verdict.to_bytes()))
        messages.extend(("event", event.story_id, value) for event, value in zip(outcome.events, outcome.encoded))
        return messages

    def snapshot(self, story_id: str):
        """The story's current snapshot, from the state the desk keeps (no re-fold of its log)."""
        return snapshot(story_id, self.state(story_id))

    def state(self, story_id: str) -> StoryState:
        if story_id in self.states:
            return self.states[story_id]
        row = self.stores.stories.get(story_id)
        return StoryState.from_json(row) if row is not None else StoryState()

    def _clock(self, prepared: PreparedArticle) -> tuple[float, float]:
        """The article's own event time, and the stream's "now" it counts from (a late article counts from the
        latest time seen). A date that leaps ahead alone (module docstring) is not the article's time."""
        dated, received = _dated_time(prepared), prepared.article.received_at
        latest = self._latest()
        before = self.previous_date if self.previous_date is not None else latest
        alone = dated is not None and latest > 0 and dated > max(latest, before) + LEAP_SECONDS
        self._note_date(dated, received, alone)
        own_time = dated if dated is not None and not alone else _epoch(received) - self.lag
        return own_time, max(own_time, latest)

    def _latest(self) -> float:
        """The latest event time the windows have seen."""
        return max(self.stories.clock, self.duplicates.clock)

    def _note_date(self, dated: float | None, received: datetime | None, alone: bool) -> None:
        """A dated article's date is what the next one is judged against; unless it leapt alone, it also says
        how far the stream runs behind the broker."""
        if dated is None:
            return
        self.previous_date = dated
        if not alone and received:
            self.lag = _epoch(received) - dated

    def _new_entries(self, prepared: PreparedArticle, own_time: float, now: float) -> tuple[tuple[StoryEventModel, ...], Placed]:
        """The article's entry (and a merge entry, if its story turned out to be another's), with what the
        story index changed on adding it."""
        article, facts = prepared.article, prepared.facts
        days = article_days(facts)
        decision = self.stories.decision(prepared.terms, days, self.settings.join_threshold)
        story_id = decision.story_id or story_id_for(article.article_id)
        received = article.received_at or datetime.fromtimestamp(0).astimezone()
        self.position += 1
        # The states the entries advance, kept: `_record` finds them current and folds nothing again.
        state = self.states[story_id] = self.state(story_id)
        entry = advance(
            story_id,
            state,
            position=self.position,
            article_id=article.article_id,
            outlet=article.outlet,
            time=received,
            facts=facts,
            score=decision.score,
            article_time=datetime.fromtimestamp(own_time, timezone.utc),
        )
        placed = self.stories.add(story_id, prepared.terms, now, days, self.position)
        if placed.merged is None:
            return (entry,), placed
        gone, keep = placed.merged
        self.position += 1
        survivor = self.states[keep] = self.state(keep)
        merge = advance_by_merge(keep, survivor, gone, self.state(gone), received, self.position)
        return (entry, merge), placed

    def _record(
        self, prepared: PreparedArticle, fingerprint: Fingerprint, events: tuple[StoryEventModel, ...], placed: Placed, now: float
    ) -> None:
        """Fold the entries into the story states and write every store the outcome touches."""
        stores = self.stores
        # The states are written last: a stored state says every other write of its entries is there too.
        states: dict[str, StoryState] = {}
        for event in events:
            state = states.get(event.story_id) or self.state(event.story_id)
            absorbed = None
            if isinstance(event, StoryMerged):
                absorbed = states.get(event.absorbed_story_id) or self.state(event.absorbed_story_id)
                states[event.absorbed_story_id] = absorbed
            if state.version < event.version:  # healing: a state a crash left behind its entry
                apply(state, event, absorbed)
            elif absorbed is not None:  # the survivor's state is current (made with the entry): mark the absorbed
                absorbed.merged_into = event.story_id
            states[event.story_id] = state
        for story_id, state in states.items():
            if state.merged_into is None:
                self.states[story_id] = state
            else:  # absorbed by these entries, or (healing) by a later article whose state writes got through
                self.states.pop(story_id, None)
                remove(stores.live, story_id)
        for event in events:
            if isinstance(event, StoryMerged):
                stores.live[ABSORBED + event.absorbed_story_id] = absorbed_row(event.story_id, now)
                self._note_absorbed(event.absorbed_story_id, event.story_id, now)
        for story_id in placed.expired:
            self.states.pop(story_id, None)
            remove(stores.live, story_id)
        horizon = now - self.absorbed_seconds
        while self._absorbed_times and self._absorbed_times[0][0] < horizon:
            _, story_id = heapq.heappop(self._absorbed_times)
            if self.absorbed.pop(story_id, None) is not None:
                remove(stores.live, ABSORBED + story_id)
        article_id = prepared.article.article_id
        for old in self.duplicates.add(article_id, fingerprint, now):
            remove(stores.fingerprints, old)
        if article_id in self.duplicates:
            stores.fingerprints[article_id] = {**fingerprint.to_json(), "seen": now, "position": events[-1].position}
        stores.meta[META] = {"position": self.position, "lag": self.lag, "previous_date": self.previous_date}
        # Every profile the index changed: the entries' stories (a merge's survivor among them).
        for story_id in states:
            if story_id in self.stories.stories:
                put(stores.live, story_id, self.stories.stories[story_id].to_json)
        for story_id, state in states.items():
            put(stores.stories, story_id, state.to_json)

    def _unfinished(self, events: tuple[StoryEventModel, ...]) -> bool:
        """Whether a crash cut the writes of these recorded entries short: a story state behind its entry, or a
        merge whose absorbed story does not say so yet."""
        return any(
            self.state(e.story_id).version < e.version
            or (isinstance(e, StoryMerged) and self.state(e.absorbed_story_id).merged_into is None)
            for e in events
        )

    def _heal(self, prepared: PreparedArticle, events: tuple[StoryEventModel, ...], recorded_now: float | None) -> None:
        """The article's record was written but not all of its other writes (a crash in between): make them
        again, from the entries and the stream time it recorded, exactly as the first time."""
        facts = prepared.facts
        entry, last = events[0], events[-1]
        if entry.position > self.windows_position:  # the stored meta row does not count it: note its date again
            dated = _dated_time(prepared)  # its entry says whether the date was its time, or leapt alone
            alone = dated is not None and entry.article_time is not None and abs(_epoch(entry.article_time) - dated) > 1e-3
            self._note_date(dated, prepared.article.received_at, alone)
        if recorded_now is not None:
            now = recorded_now
        else:  # records written before "now" was kept
            now = max(_epoch(entry.article_time), self._latest())
        if self._counted(entry, last):  # what it expired, and its absorbed story, may be removals the crash lost
            placed = Placed(expired=self.stories.expire(now))
            if isinstance(last, StoryMerged):
                self.stories.remove(last.absorbed_story_id)
        else:  # it merges the stories its entries say it merged, if any: a profile stored since may be nearer now
            merge = (last.absorbed_story_id, last.story_id) if isinstance(last, StoryMerged) else False
            placed = self.stories.add(entry.story_id, prepared.terms, now, article_days(facts), entry.position, merge)
        self.position = max(self.position, *(e.position for e in events))
        self._record(prepared, fingerprint_of(prepared), events, placed, now)

    def _counted(self, entry: StoryEventModel, last: StoryEventModel) -> bool:
        """Whether the live profiles count the article of these entries already; adding it again would make its
        story anew and merge it a second time. They do if every profile of its batch is stored (the position
        says so: it is written after them). Else the story that holds the article now (the one it ended in, or
        whatever absorbed that since, by the stored `absorbed_row`s) counts it if its stored profile is from
        the article's batch or later: a batch's absorbed rows are written before its profiles, so a profile
        stored from the batch finds every merge of the batch. Failing that, if the story it ended in was live
        before the article and is gone: a story's removal is written after the profiles of its batch, so
        whatever absorbed it is stored (a crash may have cut the live profiles short when the tables are
        rebuilt from their changelogs)."""
        if entry.position <= self.windows_position:
            return True
        holder = self.stories.stories.get(self._holder(last.story_id))
        if holder is not None:
            return holder.last_position >= entry.position
        live_before = last.story_id != entry.story_id or entry.version > 1  # a survivor other than its own story
        return live_before and last.story_id not in self.stores.live

    def _holder(self, story_id: str) -> str:
        """The story that holds what `story_id` held: itself, or the last of the stories that absorbed it (within
        the windows, whose merges the desk keeps)."""
        followed = {story_id}
        while story_id in self.absorbed and self.absorbed[story_id] not in followed:
            story_id = self.absorbed[story_id]
            followed.add(story_id)
        return story_id

    def _note_absorbed(self, story_id: str, into: str, seen: float) -> None:
        self.absorbed[story_id] = into
        heapq.heappush(self._absorbed_times, (seen, story_id))

    def _again(self, prepared: PreparedArticle, earlier: dict) -> Duplicate:
        """An article seen before: a redelivery. Its entries, or its verdict, are sent again (readers drop repeats)."""
        article_id = prepared.article.article_id
        first_verdict = None
        if "verdict" in earlier:
            first_verdict = DuplicateVerdict.model_validate(earlier["verdict"])
            story_id = first_verdict.story_id
            events: tuple[StoryEventModel, ...] = ()
        else:
            story_id = earlier["story_id"]
            events = recorded_events(earlier)
            if self._unfinished(events):
                self._heal(prepared, events, earlier.get("now"))
        verdict = DuplicateVerdict(
            article_id=article_id, duplicate_of=article_id, similarity=1.0, kind="redelivery", story_id=story_id
        )
        return Duplicate(verdict, events, first_verdict)
