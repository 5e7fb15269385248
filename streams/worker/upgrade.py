"""Upgrading a deployment whose place stage folded as it placed: its story states become the story stage's rows.

A worker of that version kept each story's state in a table of the place stage (`EARLIER_STATES`, one partition).
This version keeps it in the story stage's row, in the story rows table's partition that the story's placements go
to. On start, before faust opens its tables, a worker that finds states in the earlier table's changelog and no
note of the upgrade in the desk's meta (`UPGRADED`) writes each state as its story's row, at the last log position
the desk's stored meta counts: every article that version placed is at or below it, so none folds into its story
again, and the story's next entry follows the versions it has. Each is written as faust writes a table (keys and
values as JSON), to the partition aiokafka's producer files the story's placements under (its key, the story id).
The note is written once every row is on the broker: a worker stopped part way writes them all again on its next
start, each the same. Upgrade from a clean stop of every worker, and start one worker first: the earlier
version's journal is not this one's, and a worker upgrading while another already folds would write rows back.
"""

from __future__ import annotations

import logging

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from streams.kafka.admin import topic_names
from streams.kafka.connection import client_options
from streams.kafka.topics import changelog_spec, story_rows_changelog_spec
from streams.settings import Settings
from streams.story.desk import META
from streams.worker.context import STORY_ROWS, TABLES
from streams.worker.journal import changelog_ends, changelog_messages

log = logging.getLogger(__name__)

EARLIER_STATES = "story-states"  # the place stage's table of story states, before the story stage
UPGRADED = "story-rows-made"  # the desk's meta row that notes the upgrade done


async def rows_from_earlier_states(settings: Settings) -> int:
    """Write the earlier table's story states as story rows, if it has any and the desk's meta does not note the
    upgrade done; returns how many were written."""
    if changelog_spec(settings, EARLIER_STATES).name not in await topic_names(settings):
        return 0
    stored_meta = await _latest(settings, "meta", TABLES["meta"])
    if UPGRADED in stored_meta:
        return 0
    earlier = await _latest(settings, "states", EARLIER_STATES)
    if not earlier:
        return 0
    position = orjson.loads(stored_meta[META])["position"] if META in stored_meta else 0
    rows_spec = story_rows_changelog_spec(settings, STORY_ROWS)
    partitions = list(range(rows_spec.partitions))
    choose = DefaultPartitioner()
    producer = AIOKafkaProducer(**client_options(settings), acks="all", max_request_size=settings.max_prepared_bytes)
    await producer.start()
    try:
        for story_id, state in earlier.items():
            row = {"state": orjson.loads(state), "position": position, "awaiting": None, "held": [], "early": []}
            partition = choose(story_id.encode(), partitions, partitions)
            await producer.send(rows_spec.name, orjson.dumps(row), key=orjson.dumps(story_id), partition=partition)
        await producer.flush()
        note = {"stories": len(earlier), "position": position}
        meta_topic = changelog_spec(settings, TABLES["meta"]).name
        await producer.send_and_wait(meta_topic, orjson.dumps(note), key=orjson.dumps(UPGRADED), partition=0)
    finally:
        await producer.stop()
    log.warning("upgraded: %d story states of an earlier version made story rows, at log position %d", len(earlier), position)
    return len(earlier)


async def _latest(settings: Settings, store: str, table: str) -> dict[str, bytes]:
    """A one-partition table changelog's latest value per key, as the journal reads changelogs (a key whose latest
    is a removal left out)."""
    tables = {store: table}
    found = await changelog_messages(settings, tables, {}, await changelog_ends(settings, tables))
    return {key: value for key, value in dict(found[store]).items() if value is not None}
