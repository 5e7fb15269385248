"""Batches of desk writes: what a desk reading through them decides, and what a crash between phases leaves."""

import copy

import orjson
import pytest

from streams.pipeline.prepare import prepare
from streams.settings import Settings
from streams.story.desk import Appended, DeskStores, Duplicate, StoryDesk
from streams.story.staging import DELETED, PHASES, Staging, write, write_open_batch
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
    again, expected = _crash_and_go_on(stream, calm, 12, lambda phases: [w for phase in phases[:phases_written] for w in phase])
    if phases_written:  # recorded: each comes back as a redelivery of the same entries
        assert all(isinstance(o, Duplicate) for o in again)
        assert [o.events for o in again] == [o.events for o in expected]
    else:  # nothing stored: placed as the first time
        assert again == expected


CUTS = ((0.5, 1.0), (1.0, 0.5), (0.0, 1.0), (1.0, 0.0), (0.5, 0.5))  # the share of its writes each store keeps


@pytest.mark.parametrize("phase", range(1, len(PHASES)))
def test_a_crash_inside_a_phase_is_healed_whichever_part_of_each_store_got_through(stream, calm, phase):
    """Each store's changelog is a partition of its own: a crash inside a phase leaves each store a prefix of
    that phase's writes, cut at its own point. A desk rebuilt from them goes on exactly as the uninterrupted
    one, in the batches where stories merge (a story absorbed, or started and absorbed, in the batch)."""
    outcomes, _ = calm
    merging = sorted({i // BATCH for i, o in enumerate(outcomes) if isinstance(o, Appended) and len(o.events) == 2})
    assert merging, "the stream merges stories"

    def cut(phases, shares):
        stores: dict[int, list] = {}
        for written in phases[phase]:
            stores.setdefault(id(written[0]), []).append(written)
        kept = [w for p in phases[:phase] for w in p]
        for writes, share in zip(stores.values(), shares * 2):
            kept += writes[: round(len(writes) * share)]
        return kept

    for crashed_batch in merging:
        for shares in CUTS:
            again, expected = _crash_and_go_on(stream, calm, crashed_batch, lambda phases: cut(phases, shares))
            assert [o.events for o in again] == [o.events for o in expected], (crashed_batch, shares)


def _crash_and_go_on(stream, calm, crashed_batch: int, landed) -> tuple[list, list]:
    """Place the batches up to `crashed_batch`, store only what `landed` keeps of its writes (given its phases),
    and rebuild a desk from the stores: it places that batch again (what it decided is returned, with the
    uninterrupted desk's outcomes) and the rest of the stream, which must go as the uninterrupted desk's, and
    store what it stored."""
    outcomes, calm_stores = calm
    stores = DeskStores()
    staging = Staging(stores)
    desk = StoryDesk(SETTINGS, staging.stores)
    batches = _batches(stream)
    for batch in batches[:crashed_batch]:
        for article in batch:
            desk.place(article)
        write_open_batch(staging)
    for article in batches[crashed_batch]:
        desk.place(article)
    write(landed(staging.phases(staging.seal())))

    kept = DeskStores(**{name: copy.deepcopy(dict(store)) for name, store in vars(stores).items()})
    staging = Staging(kept)
    restarted = StoryDesk(SETTINGS, staging.stores)
    restarted.load()
    start = crashed_batch * BATCH
    again = [restarted.place(article) for article in batches[crashed_batch]]
    expected = outcomes[start : start + BATCH]
    write_open_batch(staging)
    start += BATCH
    for batch in batches[crashed_batch + 1 :]:
        assert [restarted.place(article) for article in batch] == outcomes[start : start + len(batch)]
        start += len(batch)
        write_open_batch(staging)
    assert kept.stories == calm_stores.stories
    assert kept.live == calm_stores.live
    assert kept.fingerprints == calm_stores.fingerprints
    return again, expected


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


def test_within_a_store_a_batch_writes_its_removals_after_its_values():
    """A store's changelog keeps order, so a removal on the broker says the batch's values are there too (the
    desk's healing takes a story removed for absorbed, its survivor stored)."""
    stores = DeskStores(live={"absorbed": {"size": 3}, "expired": {"size": 1}})
    staging = Staging(stores)
    del staging.stores.live["absorbed"]
    staging.stores.live["survivor"] = {"size": 7}
    del staging.stores.live["expired"]
    staging.stores.live["new"] = {"size": 1}
    windows = staging.phases(staging.seal())[PHASES.index(("fingerprints", "live"))]
    assert [(key, value if value is DELETED else value["size"]) for _, key, value in windows] == [
        ("survivor", 7), ("new", 1), ("absorbed", DELETED), ("expired", DELETED)
    ]
