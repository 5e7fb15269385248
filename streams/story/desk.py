"""The story desk, the global stage's: for each prepared article, decide redelivery, duplicate, or which story it
extends, and hand the decision to the stage keyed by story (streams/story/shelf.py), which folds it.

It keeps what needs every live story and nothing per story beyond its clustering profile. A decision is
numbered by the log position its entry will have, and sent as messages keyed by story (schemas/placing.py): a
`Placement`, and for a merge a `Close` and an `Absorb`. The log (the story events topic) is the source of truth.
The desk keeps what it needs to decide the next article in four stores (faust tables in the worker, RocksDB in
`storywire soak`, dicts in unit tests), none of whose values grows with a story's size:

- `articles`: article id -> its decision (story, position, whether it started the story, score, own time, the
  merge it made, the stream time), or the verdict it got, so a redelivery months later is recognised and its
  messages sent again (the stage keyed by story drops what it has taken);
- `live`: story id -> clustering profile, for the stories of the hot window only; and for each story
  absorbed within the story or the dedup window, ABSORBED + its id -> the story that absorbed it
  (`absorbed_row`);
- `fingerprints`: article id -> dedup fingerprint, for the dedup window only;
- `meta`: the log position, the stream's lag behind the broker, and the date of the latest dated article.

In memory it holds the live stories' profiles and the window's fingerprints; a restart rebuilds them from
`live` and `fingerprints` alone, so memory and restart time are bounded by the windows, not by history.

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
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone

import orjson

from schemas import ArticleFacts, DuplicateVerdict, PreparedArticle, parse_story_event
from schemas.placing import Absorb, Close
from streams.pipeline.cluster import Placed, StoryIndex, StoryProfile
from streams.pipeline.dedup import DuplicateIndex, Fingerprint
from streams.settings import Settings
from streams.story.fold import arrival

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


ToStory = tuple[str, bytes]  # (the story whose partition takes it, its JSON)


@dataclass(frozen=True)
class Decided:
    """The article extends (or starts) a story: its decision as the record keeps it, and the messages for the
    stage keyed by story (a `Placement`, then a merge's `Close` and `Absorb`)."""

    record: dict
    messages: tuple[ToStory, ...]


@dataclass(frozen=True)
class Duplicate:
    """The article appends nothing: its text was already seen (or, `earlier`: it is a copy seen again, whose first
    verdict is sent again, a crash may have kept it from the broker)."""

    verdict: DuplicateVerdict
    earlier: DuplicateVerdict | None = None


@dataclass(frozen=True)
class Redelivered:
    """An article decided before, come again: its verdict says so, and its decision's messages are sent again (a
    crash may have kept them from the broker; the stage keyed by story drops what it has taken). An article that a
    worker of an earlier version placed, which folded as it placed, sends the entries its record holds again
    (`entries`: story id and JSON) to the story events topic, whose subscribers drop repeats."""

    verdict: DuplicateVerdict
    messages: tuple[ToStory, ...]
    entries: tuple[tuple[str, bytes], ...] = ()


Decision = Decided | Duplicate | Redelivered


def decision_messages(record: dict, prepared: PreparedArticle) -> tuple[ToStory, ...]:
    """The messages an article's decision sends: its `Placement` (the article's metadata and facts, not its
    clustering terms and fingerprints, which were two thirds of a prepared article's bytes on the bench's stream),
    then a merge's `Close` and `Absorb`."""
    story_id, position = record["story_id"], record["position"]
    header = {"kind": "article", "story_id": story_id, "position": position, "score": record["score"]}
    article_time = datetime.fromtimestamp(record["own_time"], timezone.utc)
    article, facts = orjson.Fragment(prepared.article.to_bytes()), orjson.Fragment(prepared.facts.to_bytes())
    placement = orjson.dumps({**header, "article_time": article_time, "article": article, "facts": facts})
    messages = [(story_id, placement)]
    if record["merged"]:
        gone, keep, time = record["merged"]
        merged_at = position + 1
        messages.append((gone, Close(story_id=gone, position=merged_at, into=keep).to_bytes()))
        absorb = Absorb(story_id=keep, position=merged_at, absorbed_story_id=gone, time=datetime.fromisoformat(time))
        messages.append((keep, absorb.to_bytes()))
    return tuple(messages)


@dataclass
class DeskStores:
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
        # The positions of the articles this desk healed (`_again`): each is healed once, as healing it again would
        # note its date again after later articles'. At most the articles unacked when the desk was loaded.
        self.healed: set[int] = set()

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

    def place(self, prepared: PreparedArticle) -> Decision:
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
        days = article_days(prepared.facts)
        decision = self.stories.decision(prepared.terms, days, self.settings.join_threshold)
        story_id = decision.story_id or story_id_for(article_id)
        self.position += 1
        position = self.position
        if self.first_placed is None:
            self.first_placed = position
        placed = self.stories.add(story_id, prepared.terms, now, days, position)
        merged = None
        if placed.merged is not None:
            self.position += 1
            merged = [*placed.merged, arrival(prepared.article).isoformat()]
        record = {
            "story_id": story_id,
            "position": position,
            "started": decision.story_id is None,
            "score": decision.score,
            "own_time": own_time,
            "merged": merged,
            "now": now,
        }
        self.stores.articles[article_id] = record
        self._record(article_id, fingerprint, record, placed, now)
        return Decided(record, decision_messages(record, prepared))

    def messages(self, outcome: Decision) -> list[tuple[str, str, bytes]]:
        """What an outcome publishes, as (kind, key, value): a duplicate's verdict (a copy delivered again: the
        verdict it got the first time, again, then its own; readers count a verdict once), a redelivery's verdict,
        the messages for the stage keyed by story ("story"): a decision's, or a redelivered one's again, and the
        entries an earlier version's record holds ("event")."""
        if isinstance(outcome, Duplicate):
            verdicts = (outcome.earlier, outcome.verdict)  # a copy's first verdict again, then its own
            return [("duplicate", v.article_id, v.to_bytes()) for v in verdicts if v is not None]
        if isinstance(outcome, Decided):
            return [("story", story_id, value) for story_id, value in outcome.messages]
        return [
            ("duplicate", outcome.verdict.article_id, outcome.verdict.to_bytes()),
            *(("story", story_id, value) for story_id, value in outcome.messages),
            *(("event", story_id, value) for story_id, value in outcome.entries),
        ]

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

    def _record(self, article_id: str, fingerprint: Fingerprint, record: dict, placed: Placed, now: float) -> None:
        """Write every store the decision touches but the article's record (written first)."""
        stores = self.stores
        if record["merged"]:
            gone, keep, _ = record["merged"]
            remove(stores.live, gone)
            stores.live[ABSORBED + gone] = absorbed_row(keep, now)
            self._note_absorbed(gone, keep, now)
        for story_id in placed.expired:
            remove(stores.live, story_id)
        horizon = now - self.absorbed_seconds
        while self._absorbed_times and self._absorbed_times[0][0] < horizon:
            _, story_id = heapq.heappop(self._absorbed_times)
            if self.absorbed.pop(story_id, None) is not None:
                remove(stores.live, ABSORBED + story_id)
        for old in self.duplicates.add(article_id, fingerprint, now):
            remove(stores.fingerprints, old)
        last = record["position"] + bool(record["merged"])
        if article_id in self.duplicates:
            stores.fingerprints[article_id] = {**fingerprint.to_json(), "seen": now, "position": last}
        stores.meta[META] = {"position": self.position, "lag": self.lag, "previous_date": self.previous_date}
        for story_id in {record["story_id"], *(record["merged"] or [])[:2]}:
            if story_id in self.stories.stories:
                put(stores.live, story_id, self.stories.stories[story_id].to_json)

    def _again(self, prepared: PreparedArticle, earlier: dict) -> Duplicate | Redelivered:
        """An article seen before: a redelivery. Its messages, or its verdict, are sent again (the stage keyed by
        story, and readers, drop repeats); writes a crash cut short are made again first."""
        article_id = prepared.article.article_id
        first = DuplicateVerdict.model_validate(earlier["verdict"]) if "verdict" in earlier else None
        story_id = first.story_id if first is not None else earlier["story_id"]
        verdict = DuplicateVerdict(article_id=article_id, duplicate_of=article_id, similarity=1.0, kind="redelivery", story_id=story_id)
        if first is not None:
            return Duplicate(verdict, first)
        if "position" not in earlier:  # placed by a worker of an earlier version, whose record holds its entries
            entries = tuple((e.story_id, e.to_bytes()) for e in map(parse_story_event, earlier["events"]))
            return Redelivered(verdict, (), entries)
        stored = earlier["position"] + bool(earlier["merged"]) <= self.windows_position
        placed_here = self.first_placed is not None and earlier["position"] >= self.first_placed
        if not stored and not placed_here and earlier["position"] not in self.healed:
            self._heal(prepared, earlier)
            self.healed.add(earlier["position"])
        return Redelivered(verdict, decision_messages(earlier, prepared))

    # The position of the first article this desk placed (not healed): its profiles, in memory, count every
    # article from there on. The articles a crash cut short come before it, as the earliest unacked.
    first_placed: int | None = None

    def _heal(self, prepared: PreparedArticle, record: dict) -> None:
        """The article's record was written, but perhaps not all of its other writes (a crash in between): make
        them again from its record and the stream time it recorded, exactly as the first time."""
        position, merged = record["position"], record["merged"]
        if position > self.windows_position:  # the stored meta row does not count it: note its date again
            dated = _dated_time(prepared)  # its own time says whether the date was its time, or leapt alone
            alone = dated is not None and abs(record["own_time"] - dated) > 1e-3
            self._note_date(dated, prepared.article.received_at, alone)
        now = record["now"]
        story_id = record["story_id"]
        last_story = merged[1] if merged else story_id
        if self._counted(record, last_story):
            placed = Placed(expired=self.stories.expire(now))
            if merged:
                self.stories.remove(merged[0])
        else:
            merge = (merged[0], merged[1]) if merged else False
            placed = self.stories.add(story_id, prepared.terms, now, article_days(prepared.facts), position, merge)
        self.position = max(self.position, position + bool(merged))
        self._record(prepared.article.article_id, fingerprint_of(prepared), record, placed, now)

    def _counted(self, record: dict, last_story: str) -> bool:
        """Whether the live profiles count the article of this record already; adding it again would make its
        story anew and merge it a second time. They do if every profile of its batch is stored (the position
        says so: it is written after them). Else the story that holds the article now (the one it ended in, or
        whatever absorbed that since, by the stored `absorbed_row`s) counts it if its stored profile is from
        the article's batch or later: a batch's absorbed rows are written before its profiles, so a profile
        stored from the batch finds every merge of the batch. Failing that, if the story it ended in was live
        before the article and is gone: a story's removal is written after the profiles of its batch, so
        whatever absorbed it is stored (a crash may have cut the live profiles short when the tables are
        rebuilt from their changelogs)."""
        position = record["position"]
        if position <= self.windows_position:
            return True
        holder = self.stories.stories.get(self._holder(last_story))
        if holder is not None:
            return holder.last_position >= position
        live_before = last_story != record["story_id"] or not record["started"]
        return live_before and last_story not in self.stores.live
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
