"""Topic creation, shared by the worker (all its topics) and the replay producer (the raw topic)."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.settings import Settings


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


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


def raw_articles_spec(settings: Settings) -> TopicSpec:
    """The raw topic: its partitions, and a message limit above the article limit, so an oversized article
    gets through to be dead-lettered with a reason (the broker default of 1 MB would refuse it at the producer)."""
    return TopicSpec(
        settings.topic("articles"),
        settings.partitions,
        {"max.message.bytes": str(settings.max_message_bytes)},
    )
