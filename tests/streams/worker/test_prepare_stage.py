"""The prepare stage's sending, without a broker: results ready together go as one batch, one group at a time, so
that the prepared articles land in the order handed over even when a send fails."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import orjson
import pytest
from aiokafka.errors import (
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    TopicAuthorizationFailedError,
)

from schemas import DeadLetter
from streams.settings import Settings
from streams.worker import context, prepare_stage
from streams.worker.acks import InOrderAcks
from streams.worker.counters import Counters
from streams.worker.metrics import WorkerMetrics


class _Stream:
    def __init__(self) -> None:
        self.acked: list[int] = []

    async def ack(self, event) -> None:
        self.acked.append(event.message.offset)


class _Preparer:
    async def result(self, future, payload, key, timestamp):
        return await future


def _context(producer) -> SimpleNamespace:
    async def started():
        return producer

    def topic(name: str) -> SimpleNamespace:
        return SimpleNamespace(get_topic_name=lambda: name, app=SimpleNamespace(maybe_start_producer=started))

    counters = Counters()
    return SimpleNamespace(
        topics=SimpleNamespace(prepared_articles=topic("prepared"), dead_letters=topic("dead-letters")),
        counters=counters,
        metrics=WorkerMetrics(counters, 60),
        app=SimpleNamespace(),
        settings=SimpleNamespace(max_prepared_bytes=1_000_000),
    )


class _Sending:
    """`_send_in_order` on `n` handed articles (offsets 0..n-1 of one partition), their results given by the test."""

    def __init__(self, ctx, n: int) -> None:
        loop = asyncio.get_running_loop()
        self.stream, self.handed, self.in_flight = _Stream(), asyncio.Queue(), asyncio.Semaphore(n)
        self.acks = InOrderAcks(self.stream)
        self.results = [loop.create_future() for _ in range(n)]
        for offset, future in enumerate(self.results):
            event = SimpleNamespace(value=b"{}", key=f"a{offset}".encode(), message=SimpleNamespace(tp="raw-0", offset=offset, timestamp=0.0))
            self.in_flight._value -= 1  # acquired as it was handed over
            self.handed.put_nowait((event, self.acks.expect(event), future))
        self.settling: set = set()
        self.task = asyncio.create_task(prepare_stage._send_in_order(ctx, _Preparer(), self.handed, self.acks, self.in_flight, self.settling, 1_000_000))

    def ready(self, *offsets: int) -> None:
        for offset in offsets:
            self.results[offset].set_result((f"prepared {offset}".encode(), f"a{offset}", 0.0))


async def test_results_ready_together_go_as_one_batch_and_their_articles_are_acked_in_offset_order(batching_producer):
    producer = batching_producer(size=10)
    ctx = _context(producer)
    sending = _Sending(ctx, 5)
    sending.ready(0, 1, 2)
    await _until(lambda: len(producer.batches) == 1)
    sending.ready(3, 4)
    await _until(lambda: len(producer.batches) == 2)
    assert [records for _, _, records, _ in producer.batches] == [
        [(b"a0", b"prepared 0"), (b"a1", b"prepared 1"), (b"a2", b"prepared 2")],
        [(b"a3", b"prepared 3"), (b"a4", b"prepared 4")],
    ]
    producer.batches[1][3].set_result(SimpleNamespace(offset=3))
    await asyncio.sleep(0.01)
    assert sending.stream.acked == [] and ctx.counters.prepared == 0  # delivered, but the earlier group is not yet
    producer.batches[0][3].set_result(SimpleNamespace(offset=0))
    await _until(lambda: len(sending.stream.acked) == 5)
    assert sending.stream.acked == [0, 1, 2, 3, 4] and ctx.counters.prepared == 5
    assert sending.in_flight._value == 5  # each article's place is given back
    sending.task.cancel()


async def test_retries_land_in_the_order_the_articles_were_handed_over_and_what_landed_ahead_is_logged(batching_producer, caplog):
    producer = batching_producer(size=10)
    ctx = _context(producer)
    sending = _Sending(ctx, 6)
    for offsets in ((0, 1), (2, 3), (4, 5)):
        sending.ready(*offsets)
        await _until(lambda: len(producer.batches) == offsets[0] // 2 + 1)  # three groups on their way
    producer.batches[1][3].set_exception(KafkaTimeoutError())  # the second group's failure is reported first
    await asyncio.sleep(0.01)
    assert producer.sent == []  # its retry waits for the first group
    producer.batches[2][3].set_result(SimpleNamespace(offset=4))  # the third lands
    producer.batches[0][3].set_exception(KafkaTimeoutError())
    await _until(lambda: len(sending.stream.acked) == 6)
    assert [key for _, key, _ in producer.sent] == [b"a0", b"a1", b"a2", b"a3"]  # in order, whatever failed first
    assert sending.stream.acked == [0, 1, 2, 3, 4, 5] and ctx.counters.sends_retried == 4
    assert f"2 prepared articles {prepare_stage.SENT_AGAIN}" in caplog.text  # a4 and a5, before a0 to a3
    assert caplog.text.count(prepare_stage.SENT_AGAIN) == 1

    caplog.clear()
    sending = _Sending(ctx, 2)
    sending.ready(0, 1)
    await _until(lambda: len(producer.batches) == 4)
    producer.batches[3][3].set_result(SimpleNamespace(offset=6))
    await _until(lambda: len(sending.stream.acked) == 2)
    assert prepare_stage.SENT_AGAIN not in caplog.text  # a group handed over after the retries landed


async def test_no_group_is_handed_over_while_a_failed_one_is_sent_again(batching_producer, monkeypatch):
    """A broker back from an outage would take a new group's batch while the ones that expired in it wait for their
    retry, and the new articles would land ahead of them."""
    producer = batching_producer(size=10)
    ctx = _context(producer)
    looked = asyncio.Event()  # the broker comes back only once the test has looked: no race with a slow host

    async def back_after_a_while(counters, *sends):
        await looked.wait()
        producer.sent.extend((topic.get_topic_name(), key, value) for topic, key, value in sends)

    monkeypatch.setattr(prepare_stage, "deliver_all", back_after_a_while)
    sending = _Sending(ctx, 3)
    sending.ready(0)
    await _until(lambda: len(producer.batches) == 1)
    producer.batches[0][3].set_exception(KafkaTimeoutError())
    await asyncio.sleep(0.01)
    sending.ready(1, 2)  # ready while a0 waits to be sent again
    await asyncio.sleep(0.01)
    assert len(producer.batches) == 1
    looked.set()
    await _until(lambda: len(producer.batches) == 2)
    assert [key for _, key, _ in producer.sent] == [b"a0"]  # it had landed before a1 and a2 were handed over
    assert [records for _, _, records, _ in producer.batches][1] == [(b"a1", b"prepared 1"), (b"a2", b"prepared 2")]
    sending.task.cancel()


async def test_a_group_whose_first_batch_landed_while_an_earlier_group_s_retries_went_out_is_logged(batching_producer, caplog):
    class Held(batching_producer):
        """aiokafka taking a group's second batch only once the producer is free again."""

        held = asyncio.Event()

        async def send_batch(self, batch, topic, *, partition):
            if len(self.batches) == 2:
                await self.held.wait()
            return await super().send_batch(batch, topic, partition=partition)

    producer = Held(size=1)
    ctx = _context(producer)
    sending = _Sending(ctx, 3)
    sending.ready(0)
    await _until(lambda: len(producer.batches) == 1)
    sending.ready(1, 2)
    await _until(lambda: len(producer.batches) == 2)  # the second group is being handed over: a1, then a2
    producer.batches[1][3].set_result(SimpleNamespace(offset=1))  # a1 lands
    producer.batches[0][3].set_exception(KafkaTimeoutError())
    await _until(lambda: len(producer.sent) == 1)  # a0 sent again, behind a1
    producer.held.set()
    await _until(lambda: len(producer.batches) == 3)
    producer.batches[2][3].set_result(SimpleNamespace(offset=3))
    await _until(lambda: len(sending.stream.acked) == 3)
    assert f"2 prepared articles {prepare_stage.SENT_AGAIN}" in caplog.text  # a1 and a2, both after a0
    sending.task.cancel()


async def test_dead_letters_sent_again_change_no_order_and_are_not_logged_as_such(batching_producer, caplog):
    producer = batching_producer(size=10)
    ctx = _context(producer)
    sending = _Sending(ctx, 3)
    letter = DeadLetter(article_id="a0", reason="not an article", stage="decode", payload_bytes=2, payload_preview="{}")
    sending.results[0].set_result((letter, "a0", 0.0))
    sending.ready(1)
    await _until(lambda: len(producer.batches) == 2)  # the dead letter's batch, and a1's
    topics = [topic for topic, *_ in producer.batches]
    producer.batches[topics.index("dead-letters")][3].set_exception(KafkaTimeoutError())
    producer.batches[topics.index("prepared")][3].set_result(SimpleNamespace(offset=1))
    await _until(lambda: len(sending.stream.acked) == 2)
    assert [(topic, key) for topic, key, _ in producer.sent] == [("dead-letters", b"a0")]
    sending.ready(2)
    await _until(lambda: len(producer.batches) == 3)
    producer.batches[2][3].set_result(SimpleNamespace(offset=2))
    await _until(lambda: len(sending.stream.acked) == 3)
    assert prepare_stage.SENT_AGAIN not in caplog.text
    sending.task.cancel()


async def test_a_failed_batch_sends_each_article_again_and_one_the_broker_finds_too_large_becomes_a_dead_letter(batching_producer):
    producer = batching_producer(size=10, too_large=(b"prepared 1",))
    ctx = _context(producer)
    sending = _Sending(ctx, 3)
    sending.ready(0, 1, 2)
    await _until(lambda: producer.batches)
    producer.batches[0][3].set_exception(MessageSizeTooLargeError())
    await _until(lambda: len(sending.stream.acked) == 3)
    assert [(topic, key) for topic, key, _ in producer.sent] == [
        ("prepared", b"a0"), ("prepared", b"a1"), ("dead-letters", b"a1"), ("prepared", b"a2"),
    ]
    assert "more than Kafka accepts on prepared" in orjson.loads(producer.sent[2][2])["reason"]
    assert (ctx.counters.prepared, ctx.counters.dead_letters, ctx.counters.sends_retried) == (2, 1, 3)
    assert sending.stream.acked == [0, 1, 2] and sending.in_flight._value == 3
    sending.task.cancel()


async def test_only_the_articles_of_a_failed_batch_are_sent_again_and_a_later_batch_landed_first_is_logged(batching_producer, caplog):
    producer = batching_producer(size=2)
    ctx = _context(producer)
    sending = _Sending(ctx, 3)
    sending.ready(0, 1, 2)
    await _until(lambda: len(producer.batches) == 2)  # a0 and a1, then a2
    producer.batches[0][3].set_result(SimpleNamespace(offset=0))
    producer.batches[1][3].set_exception(KafkaTimeoutError())
    await _until(lambda: len(sending.stream.acked) == 3)
    assert [(topic, key) for topic, key, _ in producer.sent] == [("prepared", b"a2")]  # the others had landed
    assert (ctx.counters.prepared, ctx.counters.dead_letters, ctx.counters.sends_retried) == (3, 0, 1)
    assert prepare_stage.SENT_AGAIN not in caplog.text  # a2 was the last: nothing overtook it

    sending = _Sending(ctx, 3)
    sending.ready(0, 1, 2)
    await _until(lambda: len(producer.batches) == 4)
    producer.batches[2][3].set_exception(KafkaTimeoutError())
    producer.batches[3][3].set_result(SimpleNamespace(offset=2))
    await _until(lambda: len(sending.stream.acked) == 3)
    assert [key for _, key, _ in producer.sent[1:]] == [b"a0", b"a1"]  # after a2: the place stage gets them out of order
    assert f"1 prepared articles {prepare_stage.SENT_AGAIN}" in caplog.text
    sending.task.cancel()


async def test_the_prepared_topic_s_own_limit_is_kept_where_it_is_lower_than_the_settings_say(batching_producer, monkeypatch, caplog):
    ctx = _context(batching_producer(size=10))
    asked = []

    async def topic_limit(settings, topic):
        asked.append(topic)
        return topic_limits[topic]

    monkeypatch.setattr(prepare_stage, "max_message_bytes", topic_limit)
    topic_limits = {"prepared": 150_000}
    assert await prepare_stage.prepared_limit(ctx) == 150_000 and asked == ["prepared"]
    assert "takes messages of at most 150000 bytes" in caplog.text
    topic_limits = {"prepared": 4_000_000}
    assert await prepare_stage.prepared_limit(ctx) == 1_000_000  # the settings', lower

    async def not_allowed(settings, topic):
        raise TopicAuthorizationFailedError("not allowed to describe prepared")

    monkeypatch.setattr(prepare_stage, "max_message_bytes", not_allowed)
    assert await prepare_stage.prepared_limit(ctx) == 1_000_000  # a cluster whose ACLs say no: the settings'
    assert "its message limit cannot be read" in caplog.text

    message = (b"x" * 90_000, "a1", 0.0)  # with a record's framing to spare, more than the topic takes
    (sent,) = prepare_stage._sends(ctx, b"{}", b"a1", message, 150_000)
    assert sent[0] is ctx.topics.dead_letters and "more than Kafka accepts on prepared" in orjson.loads(sent[2])["reason"]
    (sent,) = prepare_stage._sends(ctx, b"{}", b"a1", message, 1_000_000)
    assert sent[0] is ctx.topics.prepared_articles


async def _until(done, seconds: float = 5.0) -> None:
    async def waiting() -> None:
        while not done():
            await asyncio.sleep(0.001)

    await asyncio.wait_for(waiting(), seconds)


class _OneArticleThenWaiting:
    """A raw stream that hands over one article, then waits until the worker crashes."""

    def __init__(self, crashed: asyncio.Event) -> None:
        self.crashed = crashed

    def noack(self):
        return self

    async def ack(self, event) -> None:
        pass

    async def events(self):
        yield SimpleNamespace(value=b'{"title": "t", "text": "x"}', key=b"a0", message=SimpleNamespace(tp="raw-0", offset=0, timestamp=0.0))
        await self.crashed.wait()


@pytest.mark.parametrize("failing", ["_sends", "_landed_ahead"])  # in the sender, in the task that acks a group
async def test_a_stage_task_that_fails_stops_the_worker_rather_than_leave_the_agent_waiting(monkeypatch, failing):
    crashed, reasons, timers = asyncio.Event(), [], []
    bug = RuntimeError("a bug in sending")

    async def crash(reason):
        reasons.append(reason)
        crashed.set()

    def failing_sends(*args, **kwargs):
        raise bug

    async def limit(ctx):
        return 1_000_000

    monkeypatch.setattr(prepare_stage, failing, failing_sends)
    monkeypatch.setattr(prepare_stage, "prepared_limit", limit)
    monkeypatch.setattr(context, "exit_unless_stopped_within", timers.append)  # the real one would end pytest
    ctx = _context(producer=None)
    ctx.app.crash, ctx.settings, ctx.acked = crash, Settings(broker="127.0.0.1:1", prepare_processes=0), lambda event: None
    await asyncio.wait_for(prepare_stage.prepare_agent(ctx)(_OneArticleThenWaiting(crashed)), 10)
    assert reasons == [bug] and timers == [context.CRASH_STOP_SECONDS]
