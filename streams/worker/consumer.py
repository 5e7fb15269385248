"""The worker's consumer: faust's aiokafka consumer, with fetches the broker holds for FETCH_MAX_WAIT_MS at most,
fetches and seeks that take turns, each fetched message handed to its stream eagerly, and a call back to the place
stage whenever faust stops the flow (`CallsBackWhenFlowStops`).

aiokafka keeps one fetch in flight per broker, and faust has the broker hold a fetch of partitions with no new
data for up to 1.5 s (its value, not a setting). Until that fetch comes back, no other partition on the broker
is fetched. So once the place stage had taken every prepared article fetched, it sat idle while a fetch of the
raw partitions, all read already, waited at the broker: in a timeline of an end-to-end run, the worker's
process idled at 12-16 % of a core for a second at a time while prepared articles piled up on the broker.

The eager hand-over is streams/worker/eager.py; the turns it needs are `SeeksBetweenBatches`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import cached_property

import aiokafka
import faust
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer

from streams.worker.eager import EagerFirst

# Long enough that an idle worker's fetches cost the broker next to nothing (ten a second), short enough that a
# partition whose records were all taken is fetched again soon.
FETCH_MAX_WAIT_MS = 100


class SeeksBetweenBatches:
    """A faust consumer whose seeks fall between batches: never while a fetch is out, and what a batch holds of a
    partition a seek moved is not handed on after it.

    faust keeps a read offset per partition: the last offset handed to a stream. It hands on only messages at
    or after it, and counts the offsets a fetch jumps over as acked (a gap, for compacted topics). A seek
    moves aiokafka's position in the consumer's thread first, and faust's read offsets only once that call
    has returned; faust's recovery may seek while the flow runs (on the path with no table to recover it
    resumes the flow first), and a fetch loop stopped at a rebalance may still finish a seek of its own. A
    fetch in that interval, or a batch handed on across a seek, left the two apart: in the rebalance test, a
    worker delivered raw offsets 216-287, a seek then put its read offset back to the committed 216, the next
    fetch began at 288, and faust counted 217-288 as a gap. Acked twice (by the gap and by the stage), they
    stalled its commits at one offset per commit; in other runs the gap covered articles that no stage had
    taken, and they were committed, never prepared.

    So a seek and a fetch take turns. When a seek moves a partition while a batch is handed on, the rest of
    the batch's records of that partition are dropped (the seek's position fetches them again), no gap is
    counted for them, and the message in hand gets the read offset the seek set, so it is fetched again.
    Partitions the seek did not move (aiokafka moves only those with a committed offset past 0; the tables'
    changelogs are never committed) go on as fetched.
    """

    _moved: set = set()  # the partitions the seek under way moved
    _stale: dict = {}  # the partitions a seek moved since the batch in hand was fetched: the read offset it left

    @cached_property
    def _turns(self) -> asyncio.Lock:
        return asyncio.Lock()

    async def _getmany(self, active_partitions, timeout):
        async with self._turns:
            return await super()._getmany(active_partitions, timeout)

    async def seek_to_committed(self):
        committed = await super().seek_to_committed()
        self._moved = {tp for tp, offset in committed.items() if offset and offset > 0}  # as aiokafka moves them
        return committed

    async def perform_seek(self) -> None:
        async with self._turns:
            self._moved = set()
            await super().perform_seek()
            self._sought(self._moved)

    async def seek(self, partition, offset) -> None:
        async with self._turns:
            await super().seek(partition, offset)
            self._sought({partition})

    def _sought(self, moved: set) -> None:
        self._stale = {**self._stale, **{tp: self._read_offset.get(tp) for tp in moved}}

    async def _add_gap(self, tp, offset_from: int, offset_to: int) -> None:
        # faust asks this for the message in hand before it hands it on: one a seek made stale is no jump.
        if tp not in self._stale:
            await super()._add_gap(tp, offset_from, offset_to)

    async def getmany(self, timeout: float):
        # The batch is fetched (under a turn) and its first record yielded with no await between: nothing in it
        # is stale until a seek comes after that.
        first = True
        async for tp, message in super().getmany(timeout):
            if first:
                self._stale, first = {}, False
            if tp in self._stale:
                continue
            yield tp, message
            if tp in self._stale:  # moved while the message was in hand: it is fetched again from the seek's position
                self._read_offset[tp] = self._stale[tp]


class CallsBackWhenFlowStops:
    """A faust consumer that calls `flow_stopping`'s callbacks (synchronously) whenever faust stops its flow.

    faust stops the flow at the start of a revocation and of a stop, then clears the streams' queues and waits,
    with no time limit, until every event it has handed to a stream is acked (`stream_wait_empty`). A stage that
    holds events it was handed, to process them together, must process them then, before that wait: the place
    stage's chunks (streams/worker/place_stage.py). A callback must not raise: it runs inside faust's revocation
    or stop, which would end there."""

    @cached_property
    def flow_stopping(self) -> list[Callable[[], None]]:
        return []

    def stop_flow(self) -> None:
        super().stop_flow()
        for callback in list(self.flow_stopping):
            callback()


class PromptConsumerThread(AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when it starts (faust passes 1,500)
        return consumer


class PromptConsumer(CallsBackWhenFlowStops, EagerFirst, SeeksBetweenBatches, Consumer):
    def _new_consumer_thread(self) -> PromptConsumerThread:
        return PromptConsumerThread(self, loop=self.loop, beacon=self.beacon)


def use_prompt_consumer(app: faust.App) -> None:
    """Make the app's consumer (both agents' input and the tables' recovery) fetch promptly; call before it starts."""
    app.transport.Consumer = PromptConsumer
