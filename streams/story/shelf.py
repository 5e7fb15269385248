"""The stage keyed by story, pure: one partition's stories, each folded from what the global stage decided.

The global stage decides where each article goes and numbers each decision by its log position
(schemas/placing.py); this stage keeps the stories' states, makes their entries and hands them on. Being keyed
by story, it is shared by the workers as preparing is, and the global stage keeps only what needs every live
story.

A story folds its messages in its partition's order, each once: a message at or below the position its row
has folded was folded before (a redelivery) and makes nothing. A merge is the one thing that needs another
story, whose state may be on another partition: the absorbed story's `Close` answers with its state in a
`Handover` to the survivor's partition, and the survivor's `Absorb` folds the merge when that is there. Until
then the survivor's row holds its later messages, so that every message can be acked once its batch's rows are
written: a message held unacked would keep each one after it on its partition from being committed, and would
keep faust waiting for its ack at a rebalance, which the handover, on another partition, may never end. A handover
without a state says that a bug kept the absorbed story's partition from taking its `Close`: the merge is given up
(no merge entry), and the survivor folds what it held rather than wait for good.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field

from schemas.placing import Absorb, Close, Handover, Placement, parse_to_story_object
from streams.story.fold import StoryEventModel, advance, advance_by_merge, arrival
from streams.story.staging import DELETED
from streams.story.state import OutOfSequence, StoryState

ToStory = Placement | Absorb | Close | Handover

# The key prefix of a message a story holds behind an awaited merge: each in a row of its own, keyed by its story and
# its position (`held_key`), so that a story's row stays as small as its state however long it waits (a row holding
# them grew with every article of a busy story, past what a changelog message may be).
HELD = "held:"


def held_key(story_id: str, position: int) -> str:
    return f"{HELD}{story_id}:{position}"


@dataclass
class StoryRow:
    """A story as this stage stores it: its state, the last log position folded into it, the `Absorb` it waits
    on for its handover and the positions of the messages it holds meanwhile (in order; each message in a row of
    its own, `held_key`), and handovers that came before their `Absorb` (by absorbed story)."""

    state: StoryState = field(default_factory=StoryState)
    position: int = 0
    awaiting: Absorb | None = None
    held: list[int] = field(default_factory=list)
    early: dict[str, Handover] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "state": self.state.to_json(),
            "position": self.position,
            "awaiting": self.awaiting.model_dump(mode="json") if self.awaiting else None,
            "held": list(self.held),
            "early": [handover.model_dump(mode="json") for handover in self.early.values()],
        }

    @classmethod
    def from_json(cls, data: dict) -> StoryRow:
        awaiting = Absorb.model_validate(data["awaiting"]) if data["awaiting"] else None
        early = [Handover.model_validate(handover) for handover in data["early"]]
        return cls(StoryState.from_json(data["state"]), data["position"], awaiting, list(data["held"]), {h.absorbed_story_id: h for h in early})


def row_from_json(key: str, data: dict) -> StoryRow | Placement | Absorb | Close:
    """A stored row: a story's, or a message one holds (`HELD`)."""
    return parse_to_story_object(data) if key.startswith(HELD) else StoryRow.from_json(data)


def row_to_json(row: StoryRow | Placement | Absorb | Close) -> dict:
    return row.to_json() if isinstance(row, StoryRow) else row.model_dump(mode="json")


# Rows a shelf keeps in memory beyond those changed since they were last written (`StoredRows`): a partition's
# live stories, say; any other is read from its store when it comes again.
KEPT_ROWS = 20_000


class StoredRows(dict):
    """A shelf's rows over a store of their JSON (a table in the worker): those read or changed lately in memory,
    any other read from the store, so memory holds a partition's recent stories, not its history. `unwritten`: rows
    given to be written and not in the store yet (key -> JSON, or DELETED), which are read before it."""

    def __init__(self, store, unwritten: dict | None = None) -> None:
        super().__init__()
        self.store = store
        self.unwritten = unwritten if unwritten is not None else {}

    def get(self, key: str, default=None):
        row = super().get(key)
        if row is None:
            stored = self.unwritten[key] if key in self.unwritten else self.store.get(key)
            if stored is None or stored is DELETED:
                return default
            row = self[key] = row_from_json(key, stored)
        return row

    def trim(self, changed: set[str]) -> None:
        """Forget the oldest rows beyond KEPT_ROWS, but those `changed` (not written yet)."""
        for story_id in list(self)[: max(0, len(self) - KEPT_ROWS)]:
            if story_id not in changed:
                del self[story_id]


@dataclass(frozen=True)
class Done:
    """A message taken (`token` is the caller's, for its ack; None for a message its row held), with the entries
    and handovers it made: none for a message held, to be folded later."""

    token: object
    entries: tuple[StoryEventModel, ...] = ()
    handovers: tuple[Handover, ...] = ()


class StoryShelf:
    """One partition's stories: `receive` folds each message, or holds it in its story's row behind an awaited
    merge.

    `rows` is where the rows live (a table in the worker, a dict in tests); `changed` names the rows changed
    since the caller last wrote them out, which it writes before it acks the messages taken meanwhile."""

    def __init__(self, rows: MutableMapping[str, StoryRow] | None = None) -> None:
        self.rows = rows if rows is not None else {}
        self.changed: set[str] = set()

    def written(self) -> list[tuple[str, dict | object]]:
        """The rows changed since the last call, as JSON now (later messages change them in place), or DELETED (a
        held message folded since), for the caller to write; rows beyond what memory keeps are let go.

        In the order a crash may cut them in: a changelog keeps a prefix of what it is sent, in order. The messages
        held first, then the stories' rows, then the removals: a story's row that names a held message is never on
        the changelog without it, and a held message is removed only once the row that let it go is there."""
        rows = [(key, row_to_json(self.rows[key]) if key in self.rows else DELETED) for key in self.changed]
        rows.sort(key=lambda item: 2 if item[1] is DELETED else 0 if item[0].startswith(HELD) else 1)
        if isinstance(self.rows, StoredRows):
            self.rows.trim(self.changed)
        self.changed = set()
        return rows

    def receive(self, message: ToStory, token: object = None) -> list[Done]:
        """The message taken (folded, or held), and for the handover a merge waited for, the merge and what the
        survivor held meanwhile, in order."""
        story_id = message.story_id
        row = self.rows.get(story_id) or StoryRow()
        if message.position <= row.position or message == row.awaiting:
            return self._again(story_id, row, token)
        if isinstance(message, Handover):
            return self._handed_over(row, message, token)
        if row.held and message.position <= row.held[-1]:
            if message.position in row.held:  # its own row, written again with its story's, as both were first
                self._changed(held_key(story_id, message.position), message)
            return self._again(story_id, row, token)
        if row.awaiting is not None:
            self._changed(story_id, row)
            row.held.append(message.position)
            self._changed(held_key(story_id, message.position), message)
            return [Done(token)]
        if row.state.merged_into is not None:
            raise OutOfSequence(f"{story_id} was merged into {row.state.merged_into}: it takes no more entries ({message.kind})")
        self._changed(story_id, row)
        if isinstance(message, Placement):
            row.position = message.position
            return [Done(token, (self._entry(row.state, message),))]
        if isinstance(message, Close):
            row.position = message.position
            row.state.merged_into = message.into
            state = row.state.to_json()
            return [Done(token, handovers=(Handover(story_id=message.into, position=message.position, absorbed_story_id=story_id, state=state),))]
        handover = row.early.pop(message.absorbed_story_id, None)
        if handover is not None and handover.position == message.position:
            return [Done(token, self._merge(row, message, handover))]
        row.awaiting = message
        return [Done(token)]

    def state(self, story_id: str) -> StoryState:
        row = self.rows.get(story_id)
        return row.state if row is not None else StoryState()

    def _again(self, story_id: str, row: StoryRow, token: object) -> list[Done]:
        """A message its story's row has taken (a redelivery): it makes nothing, but the row is written again with
        the batch that acks it, as every row a message touches is: what the caller acks is then on its changelog
        with the row that took it, whichever batch wrote that row first (the worker's store is never ahead of the
        changelog: streams/worker/context.py, `write_after_changelog`)."""
        self._changed(story_id, row)
        return [Done(token)]

    def _handed_over(self, row: StoryRow, handover: Handover, token: object) -> list[Done]:
        story_id = handover.story_id
        self._changed(story_id, row)
        absorb = row.awaiting
        if absorb is None or (absorb.absorbed_story_id, absorb.position) != (handover.absorbed_story_id, handover.position):
            row.early[handover.absorbed_story_id] = handover  # before its Absorb: kept in the row
            return [Done(token)]
        row.awaiting = None
        done = [Done(token, self._merge(row, absorb, handover))]
        held, row.held = row.held, []
        for position in held:
            key = held_key(story_id, position)
            message = self.rows.get(key)
            self.rows.pop(key, None)
            self.changed.add(key)
            done += self.receive(message, None)  # held again behind an Absorb among them
        return done

    def _entry(self, state: StoryState, placement: Placement) -> StoryEventModel:
        article = placement.article
        return advance(
            placement.story_id,
            state,
            position=placement.position,
            article_id=article.article_id,
            outlet=article.outlet,
            time=arrival(article),
            facts=placement.facts,
            score=placement.score,
            article_time=placement.article_time,
        )

    def _merge(self, row: StoryRow, absorb: Absorb, handover: Handover) -> tuple[StoryEventModel, ...]:
        """The merge entry, or none for a merge given up (a handover without a state)."""
        row.position = absorb.position
        if handover.state is None:
            return ()
        absorbed = StoryState.from_json(handover.state)
        return (advance_by_merge(absorb.story_id, row.state, absorb.absorbed_story_id, absorbed, absorb.time, absorb.position),)

    def _changed(self, key: str, row: StoryRow | Placement | Absorb | Close) -> None:
        self.rows[key] = row
        self.changed.add(key)
