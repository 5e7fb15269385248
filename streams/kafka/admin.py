"""Topic creation, shared by the worker (all its topics) and the replay producer (the raw topic)."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.kafka.topics import TopicSpec


async def ensure_topics(bootstrap: str, specs: list[TopicSpec]) -> None:
    """Create the topics that do not exist yet; existing ones are left as they are."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(s.name, num_partitions=s.partitions, replication_factor=1, topic_configs=s.config)
            for s in specs
            if s.name not in existing
        ]
        if missing:
            await admin.create_topics(missing)
    finally:
        await admin.close()
