"""The worker's consumer takes turns between fetches and seeks (`SeeksBetweenBatches`), checked against a stand-in
for faust's consumer over aiokafka that keeps a seek's two steps apart: aiokafka's position moves at once (in the
consumer's thread), faust's read offsets only when the call returns. Each test also runs on the stand-in alone
and asserts the failure there, so it fails without the turns."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace

import faust
import pytest
from faust.types import TP

from streams.worker.consumer import (
    PromptConsumer,
    SeeksBetweenBatches,
    use_prompt_consumer,
)
from streams.worker.eager import EagerFirst

RAW, CHANGELOG = "articles/0", "changelog/0"


class Fetching:
    """faust's consumer, reduced to its positions: two partitions of 100 records, fetched 5 at a time each; the
    raw one committed (so a seek moves it), the changelog never (a seek leaves it where it is)."""

    def __init__(self, committed: int = 10) -> None:
        self.position = {RAW: 0, CHANGELOG: 0}
        self.committed = {RAW: committed, CHANGELOG: None}
        self._read_offset: dict = defaultdict(lambda: None)
        self.gaps: list[tuple[str, int, int]] = []
        self.hop = asyncio.Event()  # a seek's way back from the consumer's thread: held by a test to delay it
        self.hop.set()
        self.arrived = asyncio.Event()  # records for a fetch that is out: held by a test to keep it out
        self.arrived.set()

    async def _getmany(self, active_partitions, timeout):
        await asyncio.sleep(0)  # the fetch is out
        await self.arrived.wait()
        records = {}
        for tp, at in self.position.items():
            records[tp] = list(range(at, min(at + 5, 100)))
            self.position[tp] += len(records[tp])
        return records

    async def getmany(self, timeout):
        """faust's: one fetch, then its records, with no await between."""
        records = await self._getmany(None, timeout)
        for tp, offsets in records.items():
            for offset in offsets:
                yield tp, SimpleNamespace(offset=offset)

    async def seek_to_committed(self):
        """aiokafka's, in the consumer's thread: moves the partitions committed past 0."""
        for tp, offset in self.committed.items():
            if offset:
                self.position[tp] = offset
        await self.hop.wait()
        return dict(self.committed)

    async def perform_seek(self) -> None:
        """faust's: the read offsets follow once the call is back (None where nothing was committed)."""
        self._read_offset.update(await self.seek_to_committed())

    async def _add_gap(self, tp, offset_from: int, offset_to: int) -> None:
        self.gaps.append((tp, offset_from, offset_to))


class Guarded(SeeksBetweenBatches, Fetching):
    pass


async def drain(consumer, handed: list, rounds: int, before_read=None, after=None) -> None:
    """faust's fetch loop (`_drain_messages`), reduced: now and then yield to other tasks (faust does every 100
    messages, before it reads the read offset); hand on each message at or after the read offset, counting a jump
    past it as a gap; set the read offset."""
    for _ in range(rounds):
        async for tp, message in consumer.getmany(1.0):
            if before_read is not None:
                await before_read(tp, message.offset)
            read = consumer._read_offset[tp]
            if read is None or message.offset >= read:
                if read and message.offset - read > 1:
                    await consumer._add_gap(tp, read + 1, message.offset)
                handed.append((tp, message.offset))
                await asyncio.sleep(0)  # the delivery's turn of the event loop
                consumer._read_offset[tp] = message.offset
                if after is not None:
                    await after(tp, message.offset)


def _offsets(handed: list, tp: str) -> list[int]:
    return [offset for partition, offset in handed if partition == tp]


@pytest.mark.parametrize(
    ("when", "at", "raw_handed"),
    [
        ("after", 3, [0, 1, 2, 3, 2, 3, 4, 5, 6]),  # the seek lands while 3 is delivered
        ("before_read", 4, [0, 1, 2, 3, 4, 2, 3, 4, 5, 6]),  # while faust yields before reading 4's read offset
    ],
    ids=["after its delivery", "before its read offset is read"],
)
@pytest.mark.parametrize("kind", [Fetching, Guarded], ids=["faust alone", "taking turns"])
async def test_a_seek_with_a_message_in_hand_drops_the_rest_of_what_it_moved_and_counts_no_gap(
    kind, when, at, raw_handed
):
    consumer = kind(committed=2)
    handed: list = []
    sought: list[int] = []

    async def seek_once(tp: str, offset: int) -> None:
        if (tp, offset) == (RAW, at) and not sought:
            sought.append(offset)
            await consumer.perform_seek()

    await drain(consumer, handed, rounds=2, **{when: seek_once})
    if kind is Fetching:
        # faust alone: the seek to 2 puts the read offset behind the message in hand, and the jump from 2 to 4 is
        # counted as acked.
        assert (RAW, 3, 4) in consumer.gaps
        return
    assert consumer.gaps == []
    # The rest of the raw batch was dropped and the raw partition fetched again from the committed 2, the message
    # in hand with it; the changelog, which the seek did not move, went on as fetched.
    assert _offsets(handed, RAW) == raw_handed
    assert _offsets(handed, CHANGELOG) == list(range(10))


@pytest.mark.parametrize("kind", [Fetching, Guarded], ids=["faust alone", "taking turns"])
async def test_a_seek_waits_for_the_fetch_that_is_out(kind):
    consumer = kind()
    consumer.arrived.clear()
    order: list[str] = []

    async def fetching():
        records = await consumer._getmany(None, 1.0)
        order.append(f"fetched {records[RAW][0]}-{records[RAW][-1]}")

    async def seeking():
        await consumer.perform_seek()
        order.append(f"sought {consumer._read_offset[RAW]}")

    out = asyncio.ensure_future(fetching())
    await asyncio.sleep(0)  # the fetch is out, waiting for records
    seek = asyncio.ensure_future(seeking())
    await asyncio.sleep(0)
    consumer.arrived.set()
    await asyncio.gather(out, seek)
    if kind is Fetching:
        assert order == ["sought 10", "fetched 10-14"]  # the seek went through the fetch that was out
    else:
        assert order == ["fetched 0-4", "sought 10"] and consumer.position[RAW] == 10


@pytest.mark.parametrize("kind", [Fetching, Guarded], ids=["faust alone", "taking turns"])
async def test_a_seek_whose_read_offsets_land_late_leaves_no_gap(kind):
    """The failure of the rebalance test: a seek moves the position to the committed offset, the fetch loop
    fetches and hands on from there, then the seek's read offsets land and put it back behind its fetches; the
    next record is a jump, which faust counts as acked (articles never placed, or acked twice)."""
    consumer = kind(committed=1)
    consumer.hop.clear()
    handed: list = []
    seek = asyncio.ensure_future(consumer.perform_seek())
    await asyncio.sleep(0)  # the position is moved, the read offsets not yet
    loop = asyncio.ensure_future(drain(consumer, handed, rounds=3))
    for _ in range(30):  # faust alone hands on a first batch meanwhile
        if len(handed) == 10:
            break
        await asyncio.sleep(0)
    consumer.arrived.clear()  # the next fetch waits for records
    consumer.hop.set()
    for _ in range(5):
        await asyncio.sleep(0)  # the seek's read offsets land
    consumer.arrived.set()
    await asyncio.gather(seek, loop)
    if kind is Fetching:
        assert (RAW, 2, 6) in consumer.gaps  # 2-6 counted as acked: 1-5 were handed on before, 6 after
    else:
        assert consumer.gaps == [] and _offsets(handed, RAW) == list(range(1, 16))


def test_the_worker_consumer_takes_turns_and_hands_over_eagerly():
    assert issubclass(PromptConsumer, SeeksBetweenBatches) and issubclass(PromptConsumer, EagerFirst)
    assert PromptConsumer.perform_seek is SeeksBetweenBatches.perform_seek


async def test_the_worker_consumer_calls_back_when_faust_stops_its_flow():
    """faust stops the flow at a revocation's and a stop's start, before it waits for every handed-over event's
    ack: the callbacks run then, with the flow stopped."""
    app = faust.App("t-flow", broker="kafka://127.0.0.1:1", web_enabled=False)
    use_prompt_consumer(app)
    consumer, seen = app.consumer, []
    consumer.flow_stopping.append(lambda: seen.append(consumer.flow_active))
    consumer.stop_flow()
    assert seen == [False]
    consumer.resume_flow()
    consumer.stop_flow()
    assert seen == [False, False]


@pytest.mark.parametrize("path", ["revocation", "stop"])
async def test_faust_stops_the_flow_before_it_waits_for_the_acks_of_what_it_handed_over(path):
    """What the place stage's chunks rely on (streams/worker/place_stage.py), checked against the faust installed:
    on a revocation and on a stop, the consumer calls back before faust waits for the acks."""
    app = faust.App(f"t-{path}", broker="kafka://127.0.0.1:1", web_enabled=False)
    use_prompt_consumer(app)
    consumer, calls = app.consumer, []
    consumer.flow_stopping.append(lambda: calls.append("called back"))
    consumer.assignment = lambda: {TP("prepared", 0)}
    consumer.pause_partitions = lambda partitions: None

    async def wait_empty() -> None:
        calls.append("waited for the acks")

    async def crash(error) -> None:
        calls.append(f"crashed: {error!r}")

    consumer.wait_empty, app.crash = wait_empty, crash
    if path == "revocation":
        await app._on_partitions_revoked({TP("prepared", 0)})
    else:
        await app._stop_consumer()
    assert calls == ["called back", "waited for the acks"]
