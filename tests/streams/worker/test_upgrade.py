"""A deployment of the version whose place stage folded as it placed: its story states become story rows, on a broker."""

from __future__ import annotations

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner
from placing import Placing

from schemas.placing import Placement
from streams.kafka.admin import ensure_topics
from streams.kafka.connection import client_options
from streams.kafka.topics import changelog_spec, story_rows_changelog_spec
from streams.settings import Settings
from streams.story.fold import fold_log
from streams.story.shelf import StoredRows, StoryShelf
from streams.worker.context import STORY_ROWS, TABLES
from streams.worker.upgrade import EARLIER_STATES, rows_from_earlier_states
from tests.streams.story.test_desk import FLOOD, FLOOD_2, RATES, _prepared

PARTITIONS = 3
POSITION = 42  # the last log position the earlier desk's meta row counts


async def test_an_earlier_version_s_story_states_become_rows_where_their_placements_go_and_their_stories_go_on(kafka_bootstrap, topic_prefix):
    settings = Settings(broker=kafka_bootstrap, topic_prefix=topic_prefix, partitions=PARTITIONS)
    placing = Placing()
    articles = [
        _prepared("a", "Floods hit Porto Alegre", FLOOD, "Outlet A"),
        _prepared("b", "Porto Alegre floods displace thousands", FLOOD_2, "Outlet B"),
        _prepared("c", "India raises repo rate", RATES, "Outlet C"),
    ]
    events = [event for article in articles for event in placing.place(article).events]
    states = fold_log(events)
    assert len(states) == 2 and max(state.version for state in states.values()) == 2
    rows_spec = story_rows_changelog_spec(settings, STORY_ROWS)
    earlier, meta = changelog_spec(settings, EARLIER_STATES), changelog_spec(settings, TABLES["meta"])
    await ensure_topics(settings, [earlier, meta, rows_spec])
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await producer.start()
    try:
        for story_id, state in states.items():
            await producer.send_and_wait(earlier.name, orjson.dumps(state.to_json()), key=orjson.dumps(story_id))
        await producer.send_and_wait(earlier.name, None, key=orjson.dumps("story-removed"))  # a removal: no row
        meta_row = {"position": POSITION, "lag": 0.0, "previous_date": None}
        await producer.send_and_wait(meta.name, orjson.dumps(meta_row), key=orjson.dumps("desk"))
        # An upgrade stopped part way: a row written, the upgrade not noted.
        first = next(iter(states))
        stale = {"state": states[first].to_json(), "position": 1, "awaiting": None, "held": [], "early": []}
        where = DefaultPartitioner()(first.encode(), list(range(PARTITIONS)), list(range(PARTITIONS)))
        await producer.send_and_wait(rows_spec.name, orjson.dumps(stale), key=orjson.dumps(first), partition=where)
    finally:
        await producer.stop()

    assert await rows_from_earlier_states(settings) == 2  # all written again
    assert await rows_from_earlier_states(settings) == 0  # noted in the desk's meta: done once

    rows = await _changelog(settings, rows_spec.name)
    choose, partitions = DefaultPartitioner(), list(range(PARTITIONS))
    assert sorted(rows) == sorted(states)
    for story_id, (partition, row) in rows.items():
        assert partition == choose(story_id.encode(), partitions, partitions)  # where its placements go
        assert row["position"] == POSITION and row["state"] == states[story_id].to_json()

    # The story goes on from its versions: an article placed after the upgrade is its next entry.
    flood = next(story_id for story_id, state in states.items() if state.version == 2)
    shelf = StoryShelf(StoredRows({story_id: row for story_id, (_, row) in rows.items()}))
    later = _prepared("d", "Porto Alegre rescuers search flooded districts", FLOOD_2, "Outlet D")
    placement = Placement(story_id=flood, position=POSITION + 1, score=0.9, article_time=later.article.received_at,
                          article=later.article, facts=later.facts)  # fmt: skip
    (done,) = shelf.receive(placement, "d")
    assert [(entry.kind, entry.version) for entry in done.entries] == [("joined", 3)]
    redelivered = Placement(**{**placement.model_dump(), "position": POSITION})  # placed by the earlier version
    assert shelf.receive(redelivered, "again")[0].entries == ()


async def _changelog(settings: Settings, topic: str) -> dict[str, tuple[int, dict]]:
    """Story id -> (partition, row), as the rows' changelog has them."""
    consumer = AIOKafkaConsumer(**client_options(settings), enable_auto_commit=False, auto_offset_reset="earliest")
    await consumer.start()
    try:
        tps = [TopicPartition(topic, partition) for partition in range(PARTITIONS)]
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        found = {}
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            for tp, messages in (await consumer.getmany(*tps, timeout_ms=1000)).items():
                found.update({orjson.loads(m.key): (tp.partition, orjson.loads(m.value)) for m in messages})
        return found
    finally:
        await consumer.stop()
