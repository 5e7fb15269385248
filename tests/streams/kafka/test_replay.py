"""The replay producer against stand-ins for aiokafka's producer: what it does when the broker takes nothing for a
while, fails what it was sent, or does not answer a new producer."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    LeaderNotAvailableError,
    OutOfOrderSequenceNumber,
    ProducerClosed,
    TopicAuthorizationFailedError,
)

from streams.kafka import replay as replay_module
from streams.kafka.replay import replay
from streams.settings import Settings
from streams.tools.demo import SEEDS


class BrokerAfterARestart:
    """aiokafka's producers around a broker restart, each made by calling this as the producer class.

    While the broker is down, the first producer's `send` gives up on an article it could not queue, `refusals`
    times (KafkaTimeoutError: not queued). Once it is back, that producer's `fails_from`-th article fails with
    `error` (aiokafka fails a queued batch with LeaderNotAvailableError when the partition had no leader for its
    request timeout), and every later one out of sequence, as the broker then refuses them. The next producer
    does not start at its first try (`unanswered`); then it writes what it is sent. As aiokafka's, a send yields
    to the loop, its confirmation comes later, a stopped producer takes nothing (ProducerClosed) and stopping
    fails what it still held."""

    def __init__(self, refusals: int, fails_from: int, error: Exception, unanswered: int = 0) -> None:
        self.refusals, self.fails_from, self.error, self.unanswered = refusals, fails_from, error, unanswered
        self.producers: list[_Producer] = []
        self.written: list[bytes] = []
        self.options: list[dict] = []  # each producer's

    def __call__(self, **options) -> _Producer:
        self.options.append(options)
        self.producers.append(_Producer(self, first=not self.producers))
        return self.producers[-1]


class _Producer:
    def __init__(self, broker: BrokerAfterARestart, first: bool) -> None:
        self.broker, self.first, self.asked, self.queued = broker, first, 0, 0
        self.started = self.stopped = False
        self.held: list[asyncio.Future] = []

    async def start(self) -> None:
        await asyncio.sleep(0)
        if not self.first and self.broker.unanswered:
            self.broker.unanswered -= 1
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 1)]")
        self.started = True

    async def stop(self) -> None:
        self.stopped = True
        await asyncio.sleep(0)
        for confirmation in self.held:
            if not confirmation.done():
                confirmation.set_exception(OutOfOrderSequenceNumber())

    async def send(self, topic: str, value: bytes, key: bytes) -> asyncio.Future:
        await asyncio.sleep(0)
        if self.stopped:
            raise ProducerClosed()
        self.asked += 1
        if self.first and self.asked <= self.broker.refusals:
            raise KafkaTimeoutError()
        self.queued += 1
        confirmation = asyncio.get_running_loop().create_future()
        self.held.append(confirmation)
        if self.first and self.queued >= self.broker.fails_from:
            error = self.broker.error if self.queued == self.broker.fails_from else OutOfOrderSequenceNumber()
            asyncio.get_running_loop().call_soon(confirmation.set_exception, error)
        else:
            asyncio.get_running_loop().call_soon(self._write, key, confirmation)
        return confirmation

    def _write(self, key: bytes, confirmation: asyncio.Future) -> None:
        if not confirmation.done():
            self.broker.written.append(key)
            confirmation.set_result(None)


async def _topic_made(settings, specs) -> None:
    pass


async def _topic_limit(settings, topic) -> int:
    return 1_000_000


def _use(monkeypatch, broker: BrokerAfterARestart) -> None:
    monkeypatch.setattr(replay_module, "AIOKafkaProducer", broker)
    monkeypatch.setattr(replay_module, "ensure_topics", _topic_made)
    monkeypatch.setattr(replay_module, "max_message_bytes", _topic_limit)
    monkeypatch.setattr(replay_module, "BROKER_RETRY_S", 0.0)


async def test_a_replay_rides_out_a_broker_restart_and_writes_each_article_once(monkeypatch) -> None:
    broker = BrokerAfterARestart(refusals=3, fails_from=2, error=LeaderNotAvailableError(), unanswered=2)
    _use(monkeypatch, broker)
    lines: list[str] = []

    summary = await replay([SEEDS], Settings(broker="127.0.0.1:1"), progress=lines.append)

    # Before: the first refusal ended the replay; and a failed article ended it, failing every later one.
    assert summary.sent == 5
    assert sorted(broker.written) == sorted(key.encode() for key in summary.ids)  # each article once
    assert len(broker.producers) == 4  # the first, two that did not start, and the one that took over
    assert all(producer.stopped for producer in broker.producers)
    assert [producer.started for producer in broker.producers] == [True, False, False, True]
    assert sum("has taken no article" in line and "127.0.0.1:1" in line for line in lines) == 3
    assert sum("has not answered" in line for line in lines) == 2
    assert sum("sending them again on a new producer" in line for line in lines) == 1


async def test_a_replay_stops_on_a_failure_that_does_not_pass(monkeypatch) -> None:
    broker = BrokerAfterARestart(refusals=0, fails_from=1, error=TopicAuthorizationFailedError())
    _use(monkeypatch, broker)
    with pytest.raises(TopicAuthorizationFailedError):
        await replay([SEEDS], Settings(broker="127.0.0.1:1"), progress=lambda _: None)
    assert all(producer.stopped for producer in broker.producers)


@pytest.mark.parametrize(("topic_limit", "batch_bytes"), [(1_000_000, 256 * 1024), (100_000, 100_000)])
async def test_a_replay_sends_large_record_batches_but_none_larger_than_the_raw_topic_takes(
    monkeypatch, topic_limit, batch_bytes
) -> None:
    """A record batch is one message to the broker's max.message.bytes: a batch over the topic's limit is refused."""
    broker = BrokerAfterARestart(refusals=0, fails_from=10**6, error=LeaderNotAvailableError())
    _use(monkeypatch, broker)

    async def limit(settings, topic) -> int:
        return topic_limit

    monkeypatch.setattr(replay_module, "max_message_bytes", limit)
    summary = await replay([SEEDS], Settings(broker="127.0.0.1:1"), progress=lambda _: None)
    assert summary.sent == 5
    assert [options["max_batch_size"] for options in broker.options] == [batch_bytes]
    assert broker.options[0]["max_request_size"] == topic_limit
