"""The worker's consumer takes turns between fetches and seeks (`SeeksBetweenBatches`), checked against a stand-in
for faust's consumer that keeps its two steps apart: a seek moves the fetch position at once (as aiokafka does in
the consumer's thread) and the read offsets only when it returns; a fetch takes records, then hands them on."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace

import pytest

from streams.worker.consumer import PromptConsumer, SeeksBetweenBatches

TP = "articles/0"


class Fetching:
    """faust's consumer, reduced to its positions: a log of offsets 0..99 on one partition, committed at 10."""

    def __init__(self) -> None:
        self.position, self.committed = 0, 10
        self._read_offset: dict = defaultdict(lambda: None)
        self.hop = asyncio.Event()  # the thread hop of a seek: held by a test to keep its two steps apart
        self.hop.set()
        self.arrived = asyncio.Event()  # records for a fetch that is out: held by a test to keep it out
        self.arrived.set()

    async def _getmany(self, active_partitions, timeout):
        await asyncio.sleep(0)  # the fetch is out
        await self.arrived.wait()
        records = list(range(self.position, min(self.position + 5, 100)))
        self.position += len(records)
        return {TP: records}

    async def getmany(self, timeout):
        records = await self._getmany(None, timeout)
        for tp, offsets in records.items():
            for offset in offsets:
                yield tp, SimpleNamespace(offset=offset)

    async def perform_seek(self) -> None:
        self.position = self.committed  # aiokafka's position, in its thread
        await self.hop.wait()
        self._read_offset[TP] = self.committed  # faust's, once the call is back


class Guarded(SeeksBetweenBatches, Fetching):
    pass


async def drain(consumer, handed: list[int], rounds: int, between=None, gaps: list | None = None) -> None:
    """faust's fetch loop, reduced: hand on each message at or after the read offset (noting a jump past it as a
    gap, which faust counts as acked), set the read offset, yield to other tasks."""
    for _ in range(rounds):
        async for tp, message in consumer.getmany(1.0):
            read = consumer._read_offset[tp]
            if read is not None and message.offset < read:
                continue
            if read is not None and message.offset - read > 1 and gaps is not None:
                gaps.append((read + 1, message.offset))
            handed.append(message.offset)
            await asyncio.sleep(0)  # the delivery's turn of the event loop
            consumer._read_offset[tp] = message.offset
            if between is not None:
                await between(message.offset)


@pytest.mark.parametrize("kind", [Fetching, Guarded], ids=["faust alone", "taking turns"])
async def test_a_seek_mid_batch_ends_the_batch_and_the_message_in_hand_is_fetched_again(kind):
    consumer = kind()
    consumer.committed = 2
    handed: list[int] = []

    async def seek_once_at_three(offset: int) -> None:
        if offset == 3 and len(handed) == 4:
            await consumer.perform_seek()

    await drain(consumer, handed, rounds=2, between=seek_once_at_three)
    if kind is Fetching:
        # faust alone: the batch went on past the seek (4), so the read offset (4) got ahead of the position the
        # seek left (2): faust itself would pass over 2 and 3 when fetched again.
        assert handed == [0, 1, 2, 3, 4, 4, 5, 6]
        return
    # The batch ended at the seek; the next fetch began at the committed offset, and 3 was fetched again.
    assert handed == [0, 1, 2, 3, 2, 3, 4, 5, 6]
    assert consumer._read_offset[TP] == 6 and consumer.position == 7


@pytest.mark.parametrize("kind", [Fetching, Guarded], ids=["faust alone", "taking turns"])
async def test_a_seek_waits_for_the_fetch_that_is_out_so_no_batch_straddles_it(kind):
    consumer = kind()
    consumer.arrived.clear()
    order: list[str] = []

    async def fetching():
        records = await consumer._getmany(None, 1.0)
        order.append(f"fetched {records[TP][0]}-{records[TP][-1]}")

    async def seeking():
        await consumer.perform_seek()
        order.append(f"sought {consumer._read_offset[TP]}")

    out = asyncio.ensure_future(fetching())
    await asyncio.sleep(0)  # the fetch is out, waiting for records
    seek = asyncio.ensure_future(seeking())
    await asyncio.sleep(0)
    consumer.arrived.set()
    await asyncio.gather(out, seek)
    if kind is Fetching:
        assert order == ["sought 10", "fetched 10-14"]  # the seek went through the fetch that was out
    else:
        assert order == ["fetched 0-4", "sought 10"] and consumer.position == 10


@pytest.mark.parametrize("kind", [Fetching, Guarded], ids=["faust alone", "taking turns"])
async def test_a_seek_whose_read_offsets_land_late_leaves_no_gap(kind):
    """The failure of the rebalance test: a seek moves the position to the committed offset, the fetch loop
    fetches and hands on from there, then the seek's read offsets land and put it back behind its fetches; the
    next record is a jump, which faust counts as acked (articles never placed, or acked twice)."""
    consumer = kind()
    consumer.committed = 0
    consumer.hop.clear()
    handed: list[int] = []
    gaps: list[tuple[int, int]] = []
    seek = asyncio.ensure_future(consumer.perform_seek())
    await asyncio.sleep(0)  # the position is moved, the read offsets not yet
    loop = asyncio.ensure_future(drain(consumer, handed, rounds=3, gaps=gaps))
    for _ in range(20):  # faust alone hands on a first batch meanwhile
        if len(handed) == 5:
            break
        await asyncio.sleep(0)
    consumer.arrived.clear()  # the next fetch waits for records
    consumer.hop.set()
    for _ in range(5):
        await asyncio.sleep(0)  # the seek's read offsets land
    consumer.arrived.set()
    await asyncio.gather(seek, loop)
    if kind is Fetching:
        assert handed[:6] == [0, 1, 2, 3, 4, 5] and gaps == [(1, 5)]  # faust would count 1-5 as acked
    else:
        assert gaps == [] and handed == list(range(15))


def test_the_worker_consumer_takes_turns_and_hands_over_eagerly():
    assert issubclass(PromptConsumer, SeeksBetweenBatches)
    assert PromptConsumer.perform_seek is SeeksBetweenBatches.perform_seek
