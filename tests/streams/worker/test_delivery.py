"""Sending from the agents, without a broker: messages filed by partition in order, whole batches, every failure read."""

from __future__ import annotations

import asyncio
import gc
from types import SimpleNamespace

import pytest
from aiokafka.errors import KafkaError

from streams.settings import RECORD_OVERHEAD_BYTES
from streams.worker import delivery


def _topic(name: str, producer=None) -> SimpleNamespace:
    async def started():
        return SimpleNamespace(_ensure_producer=lambda: producer)

    return SimpleNamespace(get_topic_name=lambda: name, app=SimpleNamespace(maybe_start_producer=started))


async def test_messages_are_grouped_by_the_partition_the_producer_files_each_under_in_the_order_given(batching_producer):
    producer = batching_producer(size=10, partitions={"events": 3})
    events, snapshots = _topic("events"), _topic("snapshots")
    sends = [(events, b"s1", b"1"), (snapshots, b"s1", b"a"), (events, b"s22", b"2"), (events, b"s1", b"3"), (events, b"s333", b"4")]
    groups = await delivery.partitioned(producer, sends)
    assert groups == {("events", 2): [0, 3], ("snapshots", 0): [1], ("events", 0): [2], ("events", 1): [4]}  # one story's in order
    assert producer.partitioned == ["events"] * 4  # a topic of one partition asks no partitioner


async def test_a_batch_refused_at_hand_over_raises_once_every_partition_has_been_handed_over(batching_producer):
    producer = batching_producer(size=2, refusing=("snapshots",))
    groups = {("events", 0): [(b"k1", b"1"), (b"k2", b"2"), (b"k3", b"3")], ("snapshots", 0): [(b"k1", b"a")]}
    with pytest.raises(RuntimeError, match="snapshots refused"):
        await delivery.send_batches(producer, groups)
    assert [(topic, records) for topic, _, records, _ in producer.batches] == [
        ("events", [(b"k1", b"1"), (b"k2", b"2")]),
        ("events", [(b"k3", b"3")]),
    ]  # the other partition went on to its end: nothing of it is sent behind the retry


async def test_sends_go_as_batches_and_a_failure_to_hand_them_over_becomes_a_failed_ack(batching_producer):
    producer = batching_producer(size=2)
    events = _topic("events", producer)
    snapshots = _topic("snapshots", producer)
    sends = [(events, b"k1", b"1"), (snapshots, b"k1", b"a"), (events, b"k2", b"2"), (events, b"k3", b"3")]
    sent = await delivery.send_batched_for_later(sends)
    handed = {ack: records for _, _, records, ack in producer.batches}  # the partitions go side by side
    assert sent.topics == ["events", "events", "snapshots"] and set(sent.acks) == set(handed)
    assert [handed[ack] for ack in sent.acks] == [[(b"k1", b"1"), (b"k2", b"2")], [(b"k3", b"3")], [(b"k1", b"a")]]
    assert sent.carried == [[0, 2], [3], [1]]  # each batch's messages, by their place in the sends
    sent.acks[0].set_result(SimpleNamespace(offset=0))
    sent.acks[1].set_exception(TimeoutError("no ack"))
    assert sent.failed() == {3, 1}  # the failed batch's message, and the one whose batch has not landed

    refused = _topic("events", batching_producer(size=2, refusing=("events",)))
    sent = await delivery.send_batched_for_later([(refused, b"k1", b"1"), (refused, b"k2", b"2")])
    assert sent.topics == ["events"] and sent.failed() == {0, 1}
    with pytest.raises(RuntimeError, match="events refused"):
        await delivery.confirmed(sent.acks, sent.topics)


async def test_a_batch_holds_no_more_bytes_than_the_topic_takes(batching_producer):
    records = [(f"k{n}".encode(), b"x" * 40_000) for n in range(5)]
    producer = batching_producer(size=10)
    await delivery.send_batches(producer, {("prepared", 0): records}, max_bytes=150_000)
    assert [len(batch) for _, _, batch, _ in producer.batches] == [2, 2, 1]  # each with a record's framing to spare
    assert all(61 + sum(len(k) + len(v) for k, v in batch) + RECORD_OVERHEAD_BYTES <= 150_000 + 40_000 for _, _, batch, _ in producer.batches)
    unbounded = batching_producer(size=10)
    await delivery.send_batches(unbounded, {("prepared", 0): records})
    assert [len(batch) for _, _, batch, _ in unbounded.batches] == [5]


async def test_a_record_larger_than_a_batch_goes_alone_in_aiokafka_s_batches_and_none_is_lost(batching_producer):
    producer = batching_producer(size=0)
    producer.batch_bytes = 1_000
    records = [(b"k1", b"x" * 300), (b"k2", b"x" * 300), (b"k3", b"x" * 5_000), (b"k4", b"x" * 300)]
    await delivery.send_batches(producer, {("events", 0): records})
    assert [count for _, _, count, _ in producer.batches] == [2, 1, 1]


def _never_retrieved(loop) -> list:
    """What asyncio reports of failed futures collected without their failure read."""
    reported = []
    loop.set_exception_handler(lambda loop, context: reported.append(context["message"]))
    return reported


async def test_waiting_for_acks_raises_the_first_failure_and_reads_every_other():
    loop = asyncio.get_running_loop()
    reported = _never_retrieved(loop)
    pending = [loop.create_future() for _ in range(3)]
    pending[0].set_result(None)
    pending[1].set_exception(TimeoutError("first"))
    pending[2].set_exception(ConnectionError("second"))
    with pytest.raises(TimeoutError, match="first"):
        await delivery.confirmed(pending, ["events"] * 3)
    del pending
    gc.collect()
    assert reported == []


async def test_a_cancelled_ack_is_a_failure_to_send_again_not_a_cancellation_of_the_waiter():
    """A waiter ended by CancelledError counts as cancelled, so nothing would send its batch again or ack it."""
    loop = asyncio.get_running_loop()
    pending = [loop.create_future() for _ in range(2)]
    pending[0].set_result(None)
    pending[1].cancel()
    with pytest.raises(KafkaError, match="cancelled"):
        await delivery.confirmed(pending, ["events"] * 2)


async def test_a_batch_s_failure_not_awaited_is_not_reported_as_never_retrieved(batching_producer):
    """A phase whose other changelog failed is written again without awaiting this batch's ack."""
    reported = _never_retrieved(asyncio.get_running_loop())
    producer = batching_producer(size=2)
    await delivery.send_batches(producer, {("articles", 0): [(b"a1", b"1")]})
    producer.batches[0][3].set_exception(TimeoutError("no ack"))
    await asyncio.sleep(0)  # its callbacks run
    producer.batches.clear()
    gc.collect()
    assert reported == []
