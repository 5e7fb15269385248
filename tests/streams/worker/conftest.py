"""A stand-in for the app's producer as the worker's sending uses it (streams/worker/delivery.py): aiokafka's, for
whole batches, and faust's, one message at a time."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.producer.message_accumulator import BatchBuilder


class BatchingProducer:
    """Batches of at most `size` records (or aiokafka's own, of `batch_bytes`, where set), whose acks the test gives; `partitions` per topic (1 if not said),
    filed by the length of the key; a batch for a topic in `refusing` is refused at hand-over. A message sent on
    its own lands at once, unless its value is one the broker finds `too_large`."""

    def __init__(
        self, size: int, partitions: dict[str, int] | None = None, refusing: tuple[str, ...] = (), too_large: tuple[bytes, ...] = ()
    ) -> None:
        self.size, self.partitions, self.refusing, self.too_large = size, partitions or {}, refusing, too_large
        self.batches: list[tuple[str, int, list, asyncio.Future]] = []
        self.partitioned: list[str] = []  # the topics a message was filed under by the partitioner
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []  # messages sent one at a time
        self.batch_bytes: int | None = None  # aiokafka's own batches of this many bytes, where set

    def _ensure_producer(self):
        return self

    async def send(self, topic, key, value, *, partition, timestamp, headers):
        self.sent.append((topic, key, value))
        ack = asyncio.get_running_loop().create_future()
        if value in self.too_large:
            ack.set_exception(MessageSizeTooLargeError())
        else:
            ack.set_result(SimpleNamespace(offset=len(self.sent)))
        return ack

    def create_batch(self):
        return _Batch(self.size) if self.batch_bytes is None else BatchBuilder(self.batch_bytes, 0)

    async def send_batch(self, batch, topic, *, partition):
        closed = batch.closed() if callable(batch.closed) else batch.closed  # aiokafka's is a method
        assert closed, "handed over closed: sent without the linger, nothing else added to it"
        await asyncio.sleep(0)
        if topic in self.refusing:
            raise RuntimeError(f"{topic} refused")
        ack = asyncio.get_running_loop().create_future()
        self.batches.append((topic, partition, getattr(batch, "records", batch.record_count()), ack))
        return ack

    async def partitions_for(self, topic):
        return set(range(self.partitions.get(topic, 1)))

    def _partition(self, topic, partition, key, value, serialized_key, serialized_value):
        self.partitioned.append(topic)
        return len(serialized_key) % self.partitions[topic]


class _Batch:
    def __init__(self, capacity: int) -> None:
        self.capacity, self.records, self.closed = capacity, [], False

    def append(self, *, key, value, timestamp):
        if len(self.records) == self.capacity or self.closed:
            return None
        self.records.append((key, value))
        return True

    def close(self) -> None:
        self.closed = True

    def record_count(self) -> int:
        return len(self.records)

    def size(self) -> int:
        return 61 + sum(len(key or b"") + len(value or b"") for key, value in self.records)  # a batch's header, then the records


@pytest.fixture
def batching_producer():
    return BatchingProducer
