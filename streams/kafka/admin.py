"""Topic creation, shared by the worker (all its topics) and the replay producer (the raw topic), and what the
cluster says of a topic: its message limit, where its partitions end; and the listing and deletion of topics, for
runs that leave no topics behind (the bench's)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

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

T = TypeVar("T")
ATTEMPT_S = 10.0  # the longest one admin request is waited for before it is asked again


class TopicsRefused(RuntimeError):
    """The cluster refused to create a topic as specified (too many replicas, a size it caps...)."""


async def _answered(admin: AIOKafkaAdminClient, request: Callable[[], Awaitable[T]], deadline: float) -> T:
    """The admin request's answer, asked again while the broker it went to cannot take it. aiokafka's admin client
    sends each request to one broker of the cluster's list (a random one, or the one it calls the controller),
    and a broker that went down moments before stays on that list until the cluster fences it, seconds later:
    a replay started then failed with NodeNotReadyError although two brokers of three served. A request to a
    broker that refuses connections fails at once; one to the controller waits for it (up to aiokafka's 40 s),
    so each try gets at most ATTEMPT_S seconds. A request raises the retriable errors its answer holds too (a
    topic not known yet to the broker asked, a controller moved). Each retry refreshes the list (the broker is
    picked anew); an error no retry changes, or one still there at the `deadline` (the loop's time), is raised."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            return await asyncio.wait_for(request(), max(0.5, min(ATTEMPT_S, deadline - loop.time())))
        except (KafkaError, TimeoutError) as error:
            if not getattr(error, "retriable", True) or loop.time() >= deadline:
                raise
        await asyncio.sleep(0.5)
        await admin._client.force_metadata_update()  # noqa: SLF001 - the admin client has no public refresh


async def ensure_topics(settings: Settings, specs: list[TopicSpec], timeout: float = 30.0) -> None:
    """Create the topics that do not exist yet, with the settings' replication; existing ones are left as they are.
    A broker that cannot take a request is asked again for up to `timeout` seconds in all."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        existing = set(await _answered(admin, admin.list_topics, deadline))
        missing = [
            NewTopic(s.name, num_partitions=s.partitions, replication_factor=settings.replication_factor, topic_configs=s.config)
            for s in specs
            if s.name not in existing
        ]
        if not missing:
            return

        async def create() -> list[str]:
            """The topics refused, each with its error; a retriable error (the controller changed or timed out) is
            raised to ask again. Asked again, a topic the cluster made before gets TopicAlreadyExistsError."""
            refused = []
            for topic, code, *message in (await admin.create_topics(missing)).topic_errors:
                if not code or (error := for_code(code)) is TopicAlreadyExistsError:  # another worker was first
                    continue
                described = " ".join([f"{topic}: {error.__name__}", *filter(None, message)])
                if error.retriable:
                    raise error(described)
                refused.append(described)
            return refused

        if refused := await _answered(admin, create, deadline):
            raise TopicsRefused(
                "the cluster refused to create topics (see STORYWIRE_REPLICATION_FACTOR, STORYWIRE_MIN_INSYNC_REPLICAS, "
                "STORYWIRE_MAX_MESSAGE_BYTES and STORYWIRE_PREPARED_MAX_MESSAGE_BYTES): " + "; ".join(refused)
            )
        await _until_served(settings, missing)
    finally:
        await admin.close()


async def topic_names(settings: Settings, timeout: float = 30.0) -> list[str]:
    """The names of the cluster's topics (a broker that cannot take the request is asked again, up to `timeout`)."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        return await _answered(admin, admin.list_topics, asyncio.get_running_loop().time() + timeout)
    finally:
        await admin.close()


async def delete_topics(settings: Settings, topics: list[str], timeout: float = 30.0) -> None:
    """Delete these topics (one already gone is no matter); raises the cluster's error for a topic it keeps (not
    allowed to delete it, deletion turned off)."""
    if not topics:
        return

    async def delete() -> None:
        refused = []
        for topic, code in (await admin.delete_topics(topics)).topic_error_codes:  # no message in versions 0-3
            if not code or (error := for_code(code)) is UnknownTopicOrPartitionError:  # gone (asked again: by us)
                continue
            if error.retriable:
                raise error(topic)
            refused.append(f"{topic}: {error.__name__} (error code {code})")  # 73, deletion turned off: no class
        if refused:
            raise KafkaError("the cluster kept topics it was asked to delete: " + "; ".join(refused))

    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        await _answered(admin, delete, asyncio.get_running_loop().time() + timeout)
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
    to the broker asked (on several brokers the news takes a moment to reach each), and the broker asked may be
    down: it is asked again, for up to `timeout` seconds, before that error is raised too."""

    async def described() -> list:
        """The topic's config entries; the answer's error raised, so that a retriable one is asked again."""
        (response,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        ((error_code, error_message, _, _, entries),) = response.resources
        if error_code:
            raise for_code(error_code)(error_message)
        return entries

    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        entries = await _answered(admin, described, asyncio.get_running_loop().time() + timeout)
    finally:
        await admin.close()
    for name, value, *_ in entries:
        if name == "max.message.bytes":
            return int(value)
    return 1_048_588  # Kafka's default
