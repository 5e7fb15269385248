"""The stage keyed by story: fed what the global stage decided, over several partitions in any interleaving, with
restarts, its stories' entries are those of one partition taking the messages in order, byte for byte."""

import random
import zlib
from collections import defaultdict, deque

import orjson
import pytest
from placing import Placing

from schemas import StoryMerged
from schemas.placing import Absorb, Close, Handover, Placement, parse_to_story
from streams.story.desk import StoryDesk
from streams.story.shelf import (
    HELD,
    Done,
    StoryRow,
    StoryShelf,
    held_key,
    row_from_json,
    row_to_json,
)
from streams.story.staging import DELETED
from streams.story.state import OutOfSequence
from tests.streams.story.test_desk import SETTINGS, _synthetic


@pytest.fixture(scope="module")
def placed():
    """A synthetic stream placed by the desk (the messages it sends, in order), and each story's entries as one
    shelf makes them taking every message as it is sent (the handovers at once): the order a single partition
    gives. Until the desk folded entries itself, these were its own entries, byte for byte (on this stream, and on
    the bench's 35,000 articles)."""
    desk, reference = StoryDesk(SETTINGS), Placing()
    messages, entries = [], defaultdict(list)
    for prepared in _synthetic(1200, seed=11):
        messages.extend(parse_to_story(value) for kind, _, value in desk.messages(desk.place(prepared)) if kind == "story")
        for event in reference.place(prepared).events:
            entries[event.story_id].append(event.to_bytes())
    return messages, dict(entries)


def test_the_stream_has_merges_of_stories_on_other_partitions(placed):
    messages, _ = placed
    closes = [m for m in messages if isinstance(m, Close)]
    assert len(closes) >= 8
    assert any(_partition(c.story_id, 4) != _partition(c.into, 4) for c in closes)


def _partition(story_id: str, partitions: int) -> int:
    return zlib.crc32(story_id.encode()) % partitions


class Partitions:
    """Kafka and the worker as far as the shelves see them. Per partition: a log, a committed offset, and a shelf
    fed from the next offset on, whose rows are stored now and then as a batch ends (its entries and handovers
    published first, then its rows written, then its messages acked, in offset order). A restart forgets what
    was not stored and goes back to the committed offsets."""

    def __init__(self, count: int, rng: random.Random) -> None:
        self.count, self.rng = count, rng
        self.logs = [[] for _ in range(count)]
        self.stored: list[dict[str, dict]] = [{} for _ in range(count)]
        self.committed = [0] * count
        self.published: dict[str, dict[int, bytes]] = defaultdict(dict)
        self.restart()

    def restart(self) -> None:
        self.shelves = [StoryShelf({k: row_from_json(k, v) for k, v in self.stored[p].items()}) for p in range(self.count)]
        self.read = list(self.committed)
        self.done: list[set[int]] = [set() for _ in range(self.count)]

    def send(self, message) -> None:
        """As a producer sends it: as JSON, to its story's partition."""
        self.logs[_partition(message.story_id, self.count)].append(message.to_bytes())

    def step(self) -> bool:
        ready = [p for p in range(self.count) if self.read[p] < len(self.logs[p])]
        if not ready:
            return False
        p = self.rng.choice(ready)
        offset = self.read[p]
        self.read[p] += 1
        for done in self.shelves[p].receive(parse_to_story(self.logs[p][offset]), offset):
            self._publish(done)
            if done.token is not None:
                self.done[p].add(done.token)
        if self.rng.random() < 0.3:
            self._end_batch(p)
        return True

    def _publish(self, done: Done) -> None:
        for entry in done.entries:
            first = self.published[entry.story_id].setdefault(entry.version, entry.to_bytes())
            assert first == entry.to_bytes(), f"{entry.story_id} v{entry.version} made again, not the same"
        for handover in done.handovers:
            self.send(handover)

    def _end_batch(self, p: int) -> None:
        shelf = self.shelves[p]
        for key, row in shelf.written():
            if row is DELETED:
                self.stored[p].pop(key, None)  # held and let go within the batch: never stored
            else:
                self.stored[p][key] = row
        while self.committed[p] in self.done[p]:
            self.committed[p] += 1


@pytest.mark.parametrize("partitions, seed, restarts", [(1, 1, 0), (3, 2, 0), (4, 3, 0), (4, 4, 6), (7, 5, 12)])
def test_any_interleaving_of_partitions_makes_each_story_s_entries_as_one_partition_in_order_does(placed, partitions, seed, restarts):
    messages, expected = placed
    rng = random.Random(seed)
    kafka = Partitions(partitions, rng)
    pending = deque(messages)
    restart_at = set(rng.sample(range(len(messages) * 2), restarts))
    steps = 0
    while pending or kafka.step():
        if pending and rng.random() < 0.5:
            kafka.send(pending.popleft())
        else:
            kafka.step()
        steps += 1
        if steps in restart_at:
            kafka.restart()
    for story_id, entries in expected.items():
        published = kafka.published[story_id]
        assert [published[v] for v in sorted(published)] == entries, story_id
        assert sorted(published) == list(range(1, len(entries) + 1))
    assert set(kafka.published) == set(expected)
    assert not any(row.held or row.awaiting for shelf in kafka.shelves for row in shelf.rows.values() if isinstance(row, StoryRow))
    for p in range(partitions):  # the last batches written
        kafka._end_batch(p)
    assert not any(key.startswith(HELD) for stored in kafka.stored for key in stored), "every held message let go"


def test_a_merge_waits_for_the_absorbed_story_s_state_and_holds_the_survivor_s_later_articles(placed):
    messages, expected = placed
    close = next(m for m in messages if isinstance(m, Close))
    absorb = next(m for m in messages if isinstance(m, Absorb) and m.position == close.position)
    survivor, absorbed = StoryShelf(), StoryShelf()
    before = [m for m in messages if m.position < close.position]
    for message in before:
        shelf = survivor if message.story_id == absorb.story_id else absorbed
        shelf.receive(message)
    assert survivor.receive(absorb, "absorb") == [Done("absorb")]
    later = next(m for m in messages if m.position > close.position and m.story_id == absorb.story_id)
    assert survivor.receive(later, "later") == [Done("later")]  # held behind the merge, in its row
    assert survivor.receive(later, "later again") == [Done("later again")]  # a redelivery: held once
    (closed,) = absorbed.receive(close, "close")
    (handover,) = closed.handovers
    folded = survivor.receive(handover, "handover")
    assert [d.token for d in folded] == ["handover", None]
    assert isinstance(folded[0].entries[0], StoryMerged)
    made = [d.entries[0].to_bytes() for d in folded]
    versions = [d.entries[0].version for d in folded]
    assert made == [expected[absorb.story_id][v - 1] for v in versions]


@pytest.mark.parametrize("handover_first", [False, True])
def test_a_handover_without_a_state_gives_the_merge_up_and_the_survivor_folds_what_it_held(placed, handover_first):
    """A bug kept the absorbed story's partition from taking its Close: the survivor makes no merge entry and
    goes on, its held articles next in its log, whether the handover comes before its Absorb or after."""
    messages, _ = placed
    close = next(m for m in messages if isinstance(m, Close))
    absorb = next(m for m in messages if isinstance(m, Absorb) and m.position == close.position)
    survivor = StoryShelf()
    for message in messages:
        if message.position < close.position and message.story_id == absorb.story_id:
            survivor.receive(message)
    version = survivor.state(absorb.story_id).version
    given_up = Handover(story_id=absorb.story_id, position=absorb.position, absorbed_story_id=absorb.absorbed_story_id, state=None)
    later = next(m for m in messages if m.position > close.position and m.story_id == absorb.story_id)
    if handover_first:
        assert survivor.receive(given_up, "handover") == [Done("handover")]
        assert survivor.receive(absorb, "absorb") == [Done("absorb")]
        folded = survivor.receive(later, "later")
    else:
        assert survivor.receive(absorb, "absorb") == [Done("absorb")]
        assert survivor.receive(later, "later") == [Done("later")]  # held
        folded = survivor.receive(given_up, "handover")
    made = [e for d in folded for e in d.entries]
    assert [(e.position, e.version) for e in made] == [(later.position, version + 1)]
    assert not any(isinstance(e, StoryMerged) for e in made)
    row = survivor.rows[absorb.story_id]
    assert row.awaiting is None and not row.held and not row.early
    assert survivor.receive(given_up, "again") == [Done("again")]  # a redelivery makes nothing


def _awaiting_handover(messages: list) -> tuple[StoryShelf, Close, Absorb]:
    """A shelf whose survivor has taken the first merge's `Absorb` and waits for its handover (the absorbed story's
    `Close` not taken yet), with that `Close` and `Absorb`."""
    close = next(m for m in messages if isinstance(m, Close))
    absorb = next(m for m in messages if isinstance(m, Absorb) and m.position == close.position)
    shelf = StoryShelf()
    for message in messages:
        if message.position < close.position and message.story_id in (absorb.story_id, close.story_id):
            shelf.receive(message)
    shelf.receive(absorb)
    return shelf, close, absorb


def test_rows_are_written_in_the_order_a_crash_may_cut_them_held_messages_first_their_removals_last(placed):
    """A changelog keeps a prefix of what it is sent: a story's row naming a held message never lands without the
    message's row, and a held message is removed only after the row that let it go. A held message delivered again
    writes its row again with its story's, as a crash may have kept both from the changelog."""
    messages, _ = placed
    shelf, close, absorb = _awaiting_handover(messages)
    shelf.written()
    later = next(m for m in messages if m.position > close.position and m.story_id == absorb.story_id)
    held = held_key(later.story_id, later.position)
    for _ in range(2):  # held, then delivered again
        shelf.receive(later, "later")
        assert [key for key, _ in shelf.written()] == [held, later.story_id]
    (closed,) = shelf.receive(close, "close")
    shelf.receive(closed.handovers[0], "handover")
    keys, values = zip(*shelf.written())
    assert keys[-1] == held and values[-1] is DELETED and later.story_id in keys[:-1]


def test_a_story_waiting_for_its_handover_still_waits_and_holds_after_restarts_and_a_closed_story_takes_nothing(placed):
    messages, _ = placed
    shelf, close, absorb = _awaiting_handover(messages)
    rows = {story_id: StoryRow.from_json(row.to_json()) for story_id, row in shelf.rows.items()}
    restarted = StoryShelf(rows)
    later = next(m for m in messages if m.position > close.position and m.story_id == absorb.story_id)
    assert restarted.receive(later, "later") == [Done("later")]
    stored = {key: row_from_json(key, row_to_json(row)) for key, row in restarted.rows.items()}
    assert stored[held_key(later.story_id, later.position)] == later  # the held article, in a row of its own
    assert len(orjson.dumps(row_to_json(stored[later.story_id]))) < len(orjson.dumps(rows[later.story_id].to_json())) + 64
    restarted = StoryShelf(stored)  # again: the held article comes back from its row
    (closed,) = restarted.receive(close, "close")
    folded = restarted.receive(closed.handovers[0], "handover")
    assert [(d.token, [e.position for e in d.entries]) for d in folded] == [("handover", [close.position]), (None, [later.position])]
    again = Placement(**{**later.model_dump(), "story_id": close.story_id, "position": later.position + 1000})
    with pytest.raises(OutOfSequence):
        restarted.receive(again)


def test_a_row_written_as_json_reads_back_the_same(placed):
    messages, _ = placed
    shelf = StoryShelf()
    handover = None
    for message in messages:
        for done in shelf.receive(message):
            handover = handover or next(iter(done.handovers), None)
    row = next(iter(shelf.rows.values()))
    row.early["x"] = Handover(story_id="s", position=3, absorbed_story_id="x", state=row.state.to_json())
    assert StoryRow.from_json(row.to_json()).to_json() == row.to_json()
    assert handover is not None


def test_a_message_taken_before_has_its_story_s_row_written_again(placed):
    """Its row's changelog write may have been cut by a crash while the local store kept it: written again before
    the redelivery is acked, the changelog holds what the row says it took."""
    messages, _ = placed
    shelf = StoryShelf()
    for message in messages[:50]:
        shelf.receive(message)
    shelf.written()
    again = messages[10]
    assert shelf.receive(again, "again") == [Done("again")]
    assert [story_id for story_id, _ in shelf.written()] == [again.story_id]
