"""The soak tool's RocksDB stores: what the bench's in-process desk writes its batches to."""

from dataclasses import fields

import orjson

from streams.pipeline.prepare import prepare
from streams.settings import Settings
from streams.story.desk import DeskStores, StoryDesk
from streams.story.staging import Staging, write_open_batch
from streams.tools.soak import RocksStores
from streams.tools.synthetic import REPLAYED_AT, generate

SETTINGS = Settings(broker="127.0.0.1:1")


def _contents(stores: DeskStores) -> dict:
    """Each store's keys and values as JSON gives them back."""
    return {f.name: {key: orjson.loads(orjson.dumps(value)) for key, value in getattr(stores, f.name).items()} for f in fields(DeskStores)}


def test_batches_written_to_rocksdb_at_once_store_what_a_desk_in_memory_stores(tmp_path):
    """A phase goes to each RocksDB store as one write batch (`RocksStore.write_all`), removals included."""
    articles = generate(300, seed=1, max_paragraphs=2).articles  # its stories merge, and fingerprints expire
    stream = [prepare(orjson.dumps(a), None, REPLAYED_AT + i, 2_000_000) for i, a in enumerate(articles)]
    in_memory = StoryDesk(SETTINGS)
    for article in stream:
        in_memory.place(article)
    rocks = RocksStores(tmp_path / "tables")
    staging = Staging(rocks.stores)
    desk = StoryDesk(SETTINGS, staging.stores)
    for first in range(0, len(stream), 17):
        for article in stream[first : first + 17]:
            desk.place(article)
        write_open_batch(staging)
    desk = staging = None
    rocks.close()
    rocks.open()
    expected = _contents(in_memory.stores)
    assert expected["live"] and expected["fingerprints"]
    assert _contents(rocks.stores) == expected
    rocks.close()
