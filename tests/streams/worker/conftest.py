"""A stand-in for aiokafka's producer as the worker's batch sending uses it (streams/worker/delivery.py)."""

from __future__ import annotations

import asyncio

import pytest


class BatchingProducer:
    """Batches of at most `size` records, whose acks the test gives; `partitions` per topic (1 if not said),
    filed by the length of the key; a batch for a topic in `refusing` is refused at hand-over."""

    def __init__(self, size: int, partitions: dict[str, int] | None = None, refusing: tuple[str, ...] = ()) -> None:
        self.size, self.partitions, self.refusing = size, partitions or {}, refusing
        self.batches: list[tuple[str, int, list, asyncio.Future]] = []
        self.partitioned: list[str] = []  # the topics a message was filed under by the partitioner

    def create_batch(self):
        return _Batch(self.size)

    async def send_batch(self, batch, topic, *, partition):
        assert batch.closed, "handed over closed: sent without the linger, nothing else added to it"
        await asyncio.sleep(0)
        if topic in self.refusing:
            raise RuntimeError(f"{topic} refused")
        ack = asyncio.get_running_loop().create_future()
        self.batches.append((topic, partition, batch.records, ack))
        return ack

    async def partitions_for(self, topic):
        return set(range(self.partitions.get(topic, 1)))

    def _partition(self, topic, partition, key, value, serialized_key, serialized_value):
        self.partitioned.append(topic)
        return len(serialized_key) % self.partitions[topic]


class _Batch:
    def __init__(self, size: int) -> None:
        self.size, self.records, self.closed = size, [], False

    def append(self, *, key, value, timestamp):
        if len(self.records) == self.size or self.closed:
            return None
        self.records.append((key, value))
        return True

    def close(self) -> None:
        self.closed = True

    def record_count(self) -> int:
        return len(self.records)


@pytest.fixture
def batching_producer():
    return BatchingProducer
