"""Topic creation, shared by the worker (all its topics) and the replay producer (the raw topic), and what the
cluster says of a topic: its message limit, where its partitions end."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import (
    KafkaError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
    for_code,
)

from streams.kafka.connection import client_options
from streams.kafka.topics import TopicSpec
from streams.settings import Settings


class TopicsRefused(RuntimeError):
    """The cluster refused to create a topic as specified (too many replicas, a size it caps...)."""


async def ensure_topics(settings: Settings, specs: list[TopicSpec]) -> None:
    """Create the topics that do not exist yet, with the settings' replication; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(s.name, num_partitions=s.partitions, replication_factor=settings.replication_factor, topic_configs=s.config)
            for s in specs
            if s.name not in existing
        ]
        if not missing:
            return
        response = await admin.create_topics(missing)
        refused = []
        for topic, code, *message in response.topic_errors:
            error = for_code(code)
            if code and error is not TopicAlreadyExistsError:  # already there: another worker was first
                refused.append(" ".join([f"{topic}: {error.__name__}", *filter(None, message)]))
        if refused:
            raise TopicsRefused(
                "the cluster refused to create topics (see STORYWIRE_REPLICATION_FACTOR, STORYWIRE_MIN_INSYNC_REPLICAS, "
                "STORYWIRE_MAX_MESSAGE_BYTES and STORYWIRE_PREPARED_MAX_MESSAGE_BYTES): " + "; ".join(refused)
            )
        await _until_served(settings, missing)
    finally:
        await admin.close()


async def _until_served(settings: Settings, topics: list[NewTopic], timeout: float = 30.0) -> None:
    """Wait until the leader of each new topic's every partition answers for its offsets. The cluster lists a
    leader a moment before that broker acts as one (on one KRaft broker too), and a client that reads or writes
    the topic in that moment logs NotLeaderForPartitionError as an error, then retries: 3 of 8 fresh sets of
    outcome topics did. aiokafka asks for the offsets again until they come, quietly for a leader not ready yet
    (with a warning for a topic some broker does not know yet). After `timeout` seconds, or on an error no retry
    changes (not allowed to describe the topics, say), it returns: the clients' own retries and errors take over."""
    partitions = [TopicPartition(t.name, p) for t in topics for p in range(t.num_partitions)]
    try:
        await asyncio.wait_for(end_offsets(settings, partitions), timeout)
    except (TimeoutError, KafkaError):
        pass


async def end_offsets(settings: Settings, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    """Where each partition ends now, asked of its leader by a consumer of no group (aiokafka retries a leader
    not ready yet)."""
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False)
    try:
        await consumer.start()
        return await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


async def max_message_bytes(settings: Settings, topic: str, timeout: float = 30.0) -> int:
    """The largest message the topic accepts (its max.message.bytes, which defaults to the broker's); raises the
    broker's error for the topic (not allowed to describe it, say). A topic just made may be unknown for a moment
    to the broker asked (on several brokers the news takes a moment to reach each): it is asked again, for up
    to `timeout` seconds, before that error is raised too."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while True:
            (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
            ((error_code, error_message, _, _, entries),) = response.resources
            if error_code != UnknownTopicOrPartitionError.errno or asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    if error_code:
        raise for_code(error_code)(error_message)
    for name, value, *_ in entries:
        if name == "max.message.bytes":
            return int(value)
    return 1_048_588  # Kafka's default
