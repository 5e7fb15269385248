"""The worker's consumer: faust's aiokafka consumer, with fetches the broker holds for FETCH_MAX_WAIT_MS at most,
fetches and seeks that take turns, and each fetched message handed to its stream eagerly.

aiokafka keeps one fetch in flight per broker, and faust has the broker hold a fetch of partitions with no new
data for up to 1.5 s (its value, not a setting). Until that fetch comes back, no other partition on the broker
is fetched. So once the place stage had taken every prepared article fetched, it sat idle while a fetch of the
raw partitions, all read already, waited at the broker: in a timeline of an end-to-end run, the worker's
process idled at 12-16 % of a core for a second at a time while prepared articles piled up on the broker.

The eager hand-over is streams/worker/eager.py; the turns it needs are `SeeksBetweenBatches`.
"""

from __future__ import annotations

import asyncio
from functools import cached_property

import aiokafka
import faust
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer

from streams.worker.eager import EagerFirst

# Long enough that an idle worker's fetches cost the broker next to nothing (ten a second), short enough that a
# partition whose records were all taken is fetched again soon.
FETCH_MAX_WAIT_MS = 100


class SeeksBetweenBatches:
    """A faust consumer whose seeks fall between batches: never while a fetch is out, and a batch fetched
    before a seek is not handed on after it.

    faust keeps a read offset per partition: the last offset handed to a stream. It hands on only messages at
    or after it, and counts the offsets a fetch jumps over as acked (a gap, for compacted topics). A seek
    moves aiokafka's position in the consumer's thread first, and faust's read offsets only once that call
    has returned; and faust's recovery resumes the flow before it seeks to the committed offsets, while a fetch
    loop stopped at a rebalance may still finish a seek of its own. A fetch in that interval, or a batch handed
    on across a seek, left the two apart: in the rebalance test, a worker delivered raw offsets 216-287, a
    seek then put its read offset back to the committed 216, the next fetch began at 288, and faust counted
    217-288 as a gap. Acked twice (by the gap and by the stage), they stalled its commits at one offset per
    commit; in other runs the gap covered articles that no stage had taken, and they were committed, never
    prepared. Taking turns, and ending a batch at a seek (the message in hand when it came gets the read
    offset the seek set, so it is fetched again), keeps the read offsets where the fetches are.
    """

    _seeks = 0  # seeks so far: a batch fetched before the last one is stale
    _after_seek: dict = {}  # the read offsets as the last seek left them

    @cached_property
    def _turns(self) -> asyncio.Lock:
        return asyncio.Lock()

    async def _getmany(self, active_partitions, timeout):
        async with self._turns:
            return await super()._getmany(active_partitions, timeout)

    async def perform_seek(self) -> None:
        async with self._turns:
            await super().perform_seek()
            self._sought()

    async def seek(self, partition, offset) -> None:
        async with self._turns:
            await super().seek(partition, offset)
            self._sought()

    def _sought(self) -> None:
        self._seeks += 1
        self._after_seek = dict(self._read_offset)

    async def getmany(self, timeout: float):
        # The batch is fetched (under a turn) and its first record yielded with no await between: `seeks` is
        # the count its fetch saw.
        seeks = in_hand = None
        async for tp, message in super().getmany(timeout):
            if seeks is None:
                seeks = self._seeks
            elif seeks != self._seeks:
                break
            in_hand = tp
            yield tp, message
        if seeks is not None and seeks != self._seeks:
            self._read_offset[in_hand] = self._after_seek.get(in_hand)


class PromptConsumerThread(AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when it starts (faust passes 1,500)
        return consumer


class PromptConsumer(EagerFirst, SeeksBetweenBatches, Consumer):
    def _new_consumer_thread(self) -> PromptConsumerThread:
        return PromptConsumerThread(self, loop=self.loop, beacon=self.beacon)


def use_prompt_consumer(app: faust.App) -> None:
    """Make the app's consumer (both agents' input and the tables' recovery) fetch promptly; call before it starts."""
    app.transport.Consumer = PromptConsumer
