"""Topic creation returns once the new topics are served, on a real broker; the topic limit the replay and the
prepare stage read: asked again while a new topic is unknown to the broker asked or that broker is down, the
broker's other errors raised (a stand-in admin client plays the brokers' answers)."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import (
    InvalidReplicationFactorError,
    KafkaConnectionError,
    NodeNotReadyError,
    NotControllerError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)

from streams.kafka import admin
from streams.kafka.connection import client_options
from streams.kafka.topics import OUTCOMES, topic_specs
from streams.settings import Settings

UNKNOWN = (UnknownTopicOrPartitionError.errno, "", 2, "t-articles", [])
LIMIT = (0, None, 2, "t-articles", [("max.message.bytes", "2097152", False, False, False)])


HANG = "no answer"  # a request to a controller that is down: aiokafka waits for it


def _brokers_answering(monkeypatch, answers: list, refreshed: list | None = None, creations: list = ()) -> list:
    """Each answer is a describe_configs resource, or an error the request raises (its broker down, say); each
    creation is HANG or the error codes of the topics named (the others made)."""
    asked = []
    creations = list(creations)

    async def refresh() -> None:
        if refreshed is not None:
            refreshed.append(len(asked))

    class Admin:
        def __init__(self, **options) -> None:
            self._client = SimpleNamespace(force_metadata_update=refresh)

        async def start(self) -> None:
            pass

        async def close(self) -> None:
            pass

        async def list_topics(self) -> list[str]:
            return []

        async def create_topics(self, topics):
            asked.append([t.name for t in topics])
            answer = creations.pop(0)
            if answer == HANG:
                await asyncio.sleep(60)
            return SimpleNamespace(topic_errors=[(t.name, answer.get(t.name, 0), None) for t in topics])

        async def describe_configs(self, resources):
            asked.append(resources[0].name)
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            if isinstance(answer, Exception):
                raise answer
            return [SimpleNamespace(resources=[answer])]

    monkeypatch.setattr(admin, "AIOKafkaAdminClient", Admin)
    return asked


async def test_a_topic_a_broker_does_not_know_yet_is_asked_about_again(monkeypatch):
    asked = _brokers_answering(monkeypatch, [UNKNOWN, UNKNOWN, LIMIT])
    assert await admin.max_message_bytes(Settings(broker="127.0.0.1:1"), "t-articles") == 2_097_152
    assert asked == ["t-articles"] * 3


async def test_a_topic_unknown_for_longer_than_the_timeout_and_other_errors_are_raised(monkeypatch):
    asked = _brokers_answering(monkeypatch, [UNKNOWN])
    with pytest.raises(UnknownTopicOrPartitionError):
        await admin.max_message_bytes(Settings(broker="127.0.0.1:1"), "t-articles", timeout=0.5)
    assert 2 <= len(asked) <= 4  # asked again every 0.5 s until the timeout
    refused = (TopicAuthorizationFailedError.errno, "not allowed", 2, "t-articles", [])
    asked = _brokers_answering(monkeypatch, [refused])
    with pytest.raises(TopicAuthorizationFailedError):
        await admin.max_message_bytes(Settings(broker="127.0.0.1:1"), "t-articles")
    assert len(asked) == 1  # no retry changes a refusal


async def test_a_request_sent_to_a_broker_that_is_down_is_sent_again_after_a_metadata_refresh(monkeypatch):
    """aiokafka's admin client sends to one broker of its list, which may name one killed moments before."""
    refreshed = []
    asked = _brokers_answering(monkeypatch, [NodeNotReadyError("node 3"), KafkaConnectionError("closed"), LIMIT], refreshed)
    assert await admin.max_message_bytes(Settings(broker="127.0.0.1:1"), "t-articles") == 2_097_152
    assert asked == ["t-articles"] * 3 and refreshed == [1, 2]  # the list refreshed after each failed request
    refused = TopicAuthorizationFailedError("not allowed")
    asked = _brokers_answering(monkeypatch, [refused])
    with pytest.raises(TopicAuthorizationFailedError):
        await admin.max_message_bytes(Settings(broker="127.0.0.1:1"), "t-articles")
    assert len(asked) == 1  # no retry changes a refusal
    asked = _brokers_answering(monkeypatch, [NodeNotReadyError("node 3")])
    with pytest.raises(NodeNotReadyError):
        await admin.max_message_bytes(Settings(broker="127.0.0.1:1"), "t-articles", timeout=1.2)
    assert 2 <= len(asked) <= 4  # asked every 0.5 s until the timeout, then the error raised


async def test_topics_the_controller_could_not_make_yet_are_asked_for_again_and_refusals_raised(monkeypatch):
    """A controller killed moments before does not answer; a controller moved answers NOT_CONTROLLER for a topic."""
    monkeypatch.setattr(admin, "ATTEMPT_S", 0.3)
    served = []

    async def until_served(settings, topics) -> None:
        served.extend(t.name for t in topics)

    monkeypatch.setattr(admin, "_until_served", until_served)
    settings = Settings(broker="127.0.0.1:1")
    specs = [topic_specs(settings)[name] for name in ("articles", "prepared")]
    names = [spec.name for spec in specs]
    moved = {names[0]: NotControllerError.errno}
    made_before = {names[1]: TopicAlreadyExistsError.errno}  # made by the try NOT_CONTROLLER answered
    asked = _brokers_answering(monkeypatch, [LIMIT], creations=[HANG, moved, made_before])
    await admin.ensure_topics(settings, specs)
    assert asked == [names] * 3 and served == names
    too_many = {names[1]: InvalidReplicationFactorError.errno}
    asked = _brokers_answering(monkeypatch, [LIMIT], creations=[too_many])
    with pytest.raises(admin.TopicsRefused, match=f"{names[1]}: InvalidReplicationFactorError"):
        await admin.ensure_topics(settings, specs)
    assert asked == [names]  # no retry changes a refusal


async def test_new_topics_are_served_by_their_leaders_when_ensure_topics_returns(settings, caplog):
    """A consumer that reads fresh topics at once finds each partition's leader acting as one: before, aiokafka
    logged NotLeaderForPartitionError as an error for 3 of 8 fresh sets of outcome topics."""
    specs, logged = topic_specs(settings), []
    for attempt in range(8):
        fresh = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}-{attempt}"})
        await admin.ensure_topics(fresh, [topic_specs(fresh)[name] for name in OUTCOMES])
        consumer = AIOKafkaConsumer(**client_options(fresh), auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [TopicPartition(fresh.topic(name), p) for name in OUTCOMES for p in range(specs[name].partitions)]
            consumer.assign(partitions)
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="aiokafka"):
                assert [await consumer.position(tp) for tp in partitions] == [0] * len(partitions)
            logged += [r.getMessage() for r in caplog.records if r.name.startswith("aiokafka")]
        finally:
            await consumer.stop()
    assert logged == []
