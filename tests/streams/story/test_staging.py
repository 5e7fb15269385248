"""Batches of desk writes: what a desk reading through them decides, and what a crash between phases leaves."""

import copy

import orjson
import pytest

from streams.pipeline.prepare import prepare
from streams.settings import Settings
from streams.story.desk import DeskStores, Duplicate, StoryDesk
from streams.story.staging import PHASES, Staging, write, write_open_batch
from streams.tools.synthetic import REPLAYED_AT, generate

SETTINGS = Settings(broker="127.0.0.1:1")
BATCH = 17


@pytest.fixture(scope="module")
def stream():
    articles = generate(300, seed=1, max_paragraphs=2).articles  # its stories merge, and some articles repeat
    return [prepare(orjson.dumps(a), None, REPLAYED_AT + i, 2_000_000) for i, a in enumerate(articles)]


@pytest.fixture(scope="module")
def calm(stream):
    desk = StoryDesk(SETTINGS)
    return [desk.place(article) for article in stream], desk.stores


def _batches(stream):
    return [stream[i : i + BATCH] for i in range(0, len(stream), BATCH)]


def test_a_desk_placing_in_batches_decides_and_stores_as_one_writing_each_article(stream, calm):
    outcomes, calm_stores = calm
    stores = DeskStores()
    staging = Staging(stores)
    desk = StoryDesk(SETTINGS, staging.stores)
    placed = []
    for batch in _batches(stream):
        placed += [desk.place(article) for article in batch]
        write_open_batch(staging)
    assert any(len(o.events) == 2 for o in outcomes), "the stream merges stories: merges are batched too"
    assert placed == outcomes
    assert stores == calm_stores


def test_a_sealed_batch_not_yet_written_is_read_through_and_a_rebuilt_desk_goes_on_the_same(stream, calm):
    """A batch is sealed while the next is placed (its writes on their way to the stores): a desk rebuilt
    then (after a rebalance) reads both from the staging and decides as the uninterrupted one."""
    outcomes, calm_stores = calm
    stores = DeskStores()
    staging = Staging(stores)
    desk = StoryDesk(SETTINGS, staging.stores)
    sealed = None
    for index, batch in enumerate(_batches(stream)):
        if index == 7:
            desk = StoryDesk(SETTINGS, staging.stores)
            desk.load()
        start = index * BATCH
        assert [desk.place(article) for article in batch] == outcomes[start : start + len(batch)]
        if sealed is not None:
            for phase in staging.phases(sealed):
                write(phase)
            staging.written(sealed)
        sealed = staging.seal()
    for phase in staging.phases(sealed):
        write(phase)
    staging.written(sealed)
    assert stores == calm_stores


@pytest.mark.parametrize("phases_written", range(len(PHASES)))
def test_a_crash_between_the_phases_of_a_batch_is_healed_when_its_articles_come_again(stream, calm, phases_written):
    """With only the first phases of a batch's writes on the broker, its articles come again: each is
    recognised, its lost writes are made again, and the stream goes on exactly as the uninterrupted one."""
    outcomes, calm_stores = calm
    stores = DeskStores()
    staging = Staging(stores)
    desk = StoryDesk(SETTINGS, staging.stores)
    batches = _batches(stream)
    crashed_batch = 12
    for batch in batches[:crashed_batch]:
        for article in batch:
            desk.place(article)
        write_open_batch(staging)
    for article in batches[crashed_batch]:
        desk.place(article)
    writes = staging.seal()
    for phase in staging.phases(writes)[:phases_written]:
        write(phase)

    kept = DeskStores(**{name: copy.deepcopy(dict(store)) for name, store in vars(stores).items()})
    staging = Staging(kept)
    restarted = StoryDesk(SETTINGS, staging.stores)
    restarted.load()
    start = crashed_batch * BATCH
    again = [restarted.place(article) for article in batches[crashed_batch]]
    expected = outcomes[start : start + BATCH]
    if phases_written:  # recorded: each comes back as a redelivery of the same entries
        assert all(isinstance(o, Duplicate) for o in again)
        assert [o.events for o in again] == [o.events for o in expected]
    else:  # nothing stored: placed as the first time
        assert again == expected
    write_open_batch(staging)
    for batch in batches[crashed_batch + 1 :]:
        assert [restarted.place(article) for article in batch] == outcomes[start + BATCH : start + BATCH + len(batch)]
        start += len(batch)
        write_open_batch(staging)
    assert kept.stories == calm_stores.stories
    assert kept.live == calm_stores.live
    assert kept.fingerprints == calm_stores.fingerprints


def test_discarding_the_open_batch_leaves_what_was_sealed_before_it():
    stores = DeskStores(stories={"s": {"version": 1}})
    staging = Staging(stores)
    staging.stores.stories["s"] = {"version": 2}
    sealed = staging.seal()
    staging.stores.stories["s"] = {"version": 3}
    staging.stores.stories["t"] = {"version": 1}
    del staging.stores.stories["s"]
    assert "s" not in staging.stores.stories and list(staging.stores.stories) == ["t"]
    staging.discard_open()
    assert staging.stores.stories["s"] == {"version": 2} and "t" not in staging.stores.stories
    for phase in staging.phases(sealed):
        write(phase)
    staging.written(sealed)
    assert stores.stories == {"s": {"version": 2}}
