"""The global stage's desk: for each prepared article, decide redelivery, duplicate, or which story it extends,
and hand the decision to the stage keyed by story (streams/story/shelf.py), which folds it.

It keeps what needs every live story and nothing per story beyond its clustering profile: the dedup window,
the story index, the article records, the stories absorbed, the log position. A decision is numbered by the log
position its entry will have, as `StoryDesk` numbers its entries, and sent as messages keyed by story
(schemas/placing.py). The stores are `StoryDesk`'s but `stories`, which the stage keyed by story keeps; an
article's record holds its decision (story, position, score, own time, the merge it made), from which a
redelivery makes the same messages again, which that stage drops.

The writes of a batch go in `StoryDesk`'s phases, without the states: the meta row (the position) is then the
last, and an article above the stored position is healed on redelivery as `StoryDesk` heals it.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timezone

import orjson

from schemas import DuplicateVerdict, PreparedArticle
from schemas.placing import Absorb, Close
from streams.pipeline.cluster import Placed
from streams.pipeline.dedup import Fingerprint
from streams.story.desk import (
    ABSORBED,
    META,
    Duplicate,
    StoryDesk,
    _dated_time,
    absorbed_row,
    article_days,
    fingerprint_of,
    put,
    remove,
    story_id_for,
)

ToStory = tuple[str, bytes]  # (the story whose partition takes it, its JSON)


@dataclass(frozen=True)
class Decided:
    """The article extends (or starts) a story: its decision as the record keeps it, and the messages for the
    stage keyed by story (a `Placement`, then a merge's `Close` and `Absorb`)."""

    record: dict
    messages: tuple[ToStory, ...]


Decision = Decided | Duplicate


def decision_messages(record: dict, prepared: bytes) -> tuple[ToStory, ...]:
    """The messages an article's decision sends: its `Placement`, the prepared article embedded as the bytes it
    came as (encoding it again took longer than placing it), then a merge's `Close` and `Absorb`."""
    story_id, position = record["story_id"], record["position"]
    header = {"kind": "article", "story_id": story_id, "position": position, "score": record["score"]}
    article_time = datetime.fromtimestamp(record["own_time"], timezone.utc)
    placement = orjson.dumps({**header, "article_time": article_time, "prepared": orjson.Fragment(prepared)})
    messages = [(story_id, placement)]
    if record["merged"]:
        gone, keep, time = record["merged"]
        merged_at = position + 1
        messages.append((gone, Close(story_id=gone, position=merged_at, into=keep).to_bytes()))
        absorb = Absorb(story_id=keep, position=merged_at, absorbed_story_id=gone, time=datetime.fromisoformat(time))
        messages.append((keep, absorb.to_bytes()))
    return tuple(messages)


class GlobalDesk(StoryDesk):
    """`StoryDesk` without the fold: its decisions, its windows and its healing, the stories' states left to the
    stage keyed by story."""

    def place(self, prepared: PreparedArticle, message: bytes | None = None) -> Decision:
        """Decide the article's outcome and record it in the stores (the article's record first). `message`: the
        prepared article's bytes as they came, to embed in its `Placement`."""
        message = message if message is not None else prepared.to_bytes()
        article_id = prepared.article.article_id
        earlier = self.stores.articles.get(article_id)
        if earlier is not None:
            return self._again_decided(prepared, message, earlier)
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
            received = prepared.article.received_at or datetime.fromtimestamp(0).astimezone()
            merged = [*placed.merged, received.isoformat()]
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
        self._record_decided(article_id, fingerprint, record, placed, now)
        return Decided(record, decision_messages(record, message))

    def messages(self, outcome: Decision) -> list[tuple[str, str, bytes]]:
        """What an outcome publishes, as (kind, key, value): a duplicate's verdicts (`StoryDesk.messages`), or the
        messages for the stage keyed by story ("story")."""
        if isinstance(outcome, Duplicate):
            return super().messages(outcome)
        return [("story", story_id, value) for story_id, value in outcome.messages]

    def _record_decided(self, article_id: str, fingerprint: Fingerprint, record: dict, placed: Placed, now: float) -> None:
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

    def _again_decided(self, prepared: PreparedArticle, message: bytes, earlier: dict) -> Duplicate | Decided:
        """An article seen before: a redelivery. Its messages, or its verdict, are sent again (the stage keyed by
        story, and readers, drop repeats); writes a crash cut short are made again first."""
        article_id = prepared.article.article_id
        if "verdict" in earlier:
            first = DuplicateVerdict.model_validate(earlier["verdict"])
            verdict = DuplicateVerdict(article_id=article_id, duplicate_of=article_id, similarity=1.0, kind="redelivery", story_id=first.story_id)
            return Duplicate(verdict, (), first)
        stored = earlier["position"] + bool(earlier["merged"]) <= self.windows_position
        placed_here = self.first_placed is not None and earlier["position"] >= self.first_placed
        if not stored and not placed_here:
            self._heal_decided(prepared, earlier)
        return Decided(earlier, decision_messages(earlier, message))

    # The position of the first article this desk placed (not healed): its profiles, in memory, count every
    # article from there on. The articles a crash cut short come before it, as the earliest unacked.
    first_placed: int | None = None

    def _heal_decided(self, prepared: PreparedArticle, record: dict) -> None:
        """The article's record was written, but perhaps not all of its other writes (a crash in between): make
        them again from its record, exactly as the first time (`StoryDesk._heal`)."""
        position, merged = record["position"], record["merged"]
        if position > self.windows_position:  # the stored meta row does not count it: note its date again
            dated = _dated_time(prepared)  # its own time says whether the date was its time, or leapt alone
            alone = dated is not None and abs(record["own_time"] - dated) > 1e-3
            self._note_date(dated, prepared.article.received_at, alone)
        now = record["now"]
        story_id = record["story_id"]
        last_story = merged[1] if merged else story_id
        if self._counted_at(record, last_story):
            placed = Placed(expired=self.stories.expire(now))
            if merged:
                self.stories.remove(merged[0])
        else:
            merge = (merged[0], merged[1]) if merged else False
            placed = self.stories.add(story_id, prepared.terms, now, article_days(prepared.facts), position, merge)
        self.position = max(self.position, position + bool(merged))
        self._record_decided(prepared.article.article_id, fingerprint_of(prepared), record, placed, now)

    def _counted_at(self, record: dict, last_story: str) -> bool:
        """`StoryDesk._counted` for a decision: whether the live profiles count the article already."""
        position = record["position"]
        if position <= self.windows_position:
            return True
        holder = self.stories.stories.get(self._holder(last_story))
        if holder is not None:
            return holder.last_position >= position
        live_before = last_story != record["story_id"] or not record["started"]
        return live_before and last_story not in self.stores.live
