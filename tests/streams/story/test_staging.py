"""Batches of desk writes: what a desk reading through them decides, and what a crash between phases leaves."""

import copy
import functools
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from streams.pipeline.prepare import prepare
from streams.settings import Settings
from streams.story.desk import ABSORBED, Decided, DeskStores, Duplicate, StoryDesk
from streams.story.staging import (
    DELETED,
    PHASES,
    Staging,
    keys_in_order,
    write,
    write_open_batch,
)
from streams.tools.synthetic import REPLAYED_AT, _article, _story, generate

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


def _sent(outcome):
    """What an outcome sends on: a decision's messages (sent again, the same, on its redelivery), or the verdict a
    duplicate got the first time."""
    if isinstance(outcome, Duplicate):
        return outcome.earlier or outcome.verdict
    return outcome.messages


def _merge(outcome) -> tuple[str, str] | None:
    """The (absorbed, surviving) stories an article's decision merged, if any."""
    merged = isinstance(outcome, Decided) and outcome.record["merged"]
    return (merged[0], merged[1]) if merged else None


def _batches(stream, size: int = BATCH):
    return [stream[i : i + size] for i in range(0, len(stream), size)]


def test_a_desk_placing_in_batches_decides_and_stores_as_one_writing_each_article(stream, calm):
    outcomes, calm_stores = calm
    stores = DeskStores()
    staging = Staging(stores)
    desk = StoryDesk(SETTINGS, staging.stores)
    placed = []
    for batch in _batches(stream):
        placed += [desk.place(article) for article in batch]
        write_open_batch(staging)
    assert any(map(_merge, outcomes)), "the stream merges stories: merges are batched too"
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
    if phases_written:  # recorded: each comes back as a redelivery, which sends what it sent the first time
        assert not any(isinstance(o, Decided) for o in again)
        assert [_sent(o) for o in again] == [_sent(o) for o in expected]
    else:  # nothing stored: placed as the first time
        assert again == expected


CUTS = ((0.5, 1.0), (1.0, 0.5), (0.0, 1.0), (1.0, 0.0), (0.5, 0.5), (1.0, 0.9))  # the share of its writes each store keeps


@functools.cache
def _stream_and_calm(seed: int) -> tuple[list, tuple]:
    articles = generate(300, seed=seed, max_paragraphs=2).articles
    stream = [prepare(orjson.dumps(a), None, REPLAYED_AT + i, 2_000_000) for i, a in enumerate(articles)]
    desk = StoryDesk(SETTINGS)
    return stream, ([desk.place(article) for article in stream], desk.stores)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("phase", range(1, len(PHASES)))
def test_a_crash_inside_a_phase_is_healed_whichever_part_of_each_store_got_through(seed, phase):
    """Each store's changelog is a partition of its own: a crash inside a phase leaves each store a prefix of
    that phase's writes, cut at its own point. A desk rebuilt from them goes on exactly as the uninterrupted
    one, in the batches where stories merge (a story absorbed, or started and absorbed, in the batch; the
    second stream merges in three batches)."""
    stream, calm = _stream_and_calm(seed)
    merging = _merging(calm[0])
    assert merging, "the stream merges stories"
    for crashed_batch in merging:
        for shares in CUTS:
            again, expected = _crash_and_go_on(stream, calm, crashed_batch, lambda phases: _cut(phases, phase, shares))
            assert [_sent(o) for o in again] == [_sent(o) for o in expected], (crashed_batch, shares)


@pytest.mark.parametrize("phase", range(1, len(PHASES)))
def test_a_story_started_and_absorbed_twice_over_in_the_crashed_batch_is_counted_once(phase):
    """85 real headlines (UCI News Aggregator, CC BY 4.0; March 2014) in batches of 25: in the third, a story
    starts and is absorbed, and its survivor is absorbed in turn. With that batch's profiles stored and its
    position not (or its profiles cut part way), the healing desk took the first story for one its batch had
    not counted, made it anew and merged it a second time: the survivor counted its articles twice, and a
    later merge absorbed a story its log had merged away already (an entry no fold accepts)."""
    headlines = [orjson.loads(line) for line in (Path(__file__).parent / "merging_headlines.jsonl").read_bytes().splitlines()]
    stream = [prepare(orjson.dumps(h), None, REPLAYED_AT + i, 2_000_000) for i, h in enumerate(headlines)]
    desk = StoryDesk(SETTINGS)
    calm = ([desk.place(article) for article in stream], desk.stores)
    merges = [m for m in map(_merge, calm[0][50:75]) if m]
    assert {keep for _, keep in merges} & {gone for gone, _ in merges}, "a survivor of the batch is absorbed in it"
    for shares in ((1.0, 1.0), *CUTS):
        again, expected = _crash_and_go_on(stream, calm, 2, lambda phases: _cut(phases, phase, shares), size=25)
        assert [_sent(o) for o in again] == [_sent(o) for o in expected], shares


def _healed_merge(seed: int):
    """The first merge of the stream whose other story (not the one the article joined) was stored before its
    batch: the stores with that batch's records only (a crash kept the rest), the batch, the merge (absorbed,
    surviving) and that other story."""
    stream, (outcomes, _) = _stream_and_calm(seed)
    for crashed in _merging(outcomes):
        stores, phases = _crashed_batch(SETTINGS, _batches(stream)[:crashed], _batches(stream)[crashed])
        merges = [(o.record["story_id"], _merge(o)) for o in outcomes[crashed * BATCH : (crashed + 1) * BATCH] if _merge(o)]
        for story_id, merge in merges:
            gone, keep = merge
            partner = keep if gone == story_id else gone
            if partner in stores.live:
                write(phases[0])  # the articles' records
                return stores, _batches(stream)[crashed], merge, partner
    raise AssertionError("no such merge in the stream")


@pytest.mark.parametrize("seed", [2, 3])
def test_healing_a_merge_merges_the_stories_its_entry_names_though_a_profile_stored_since_is_as_near(seed):
    """A crash kept all but the records of a batch in which an article merged its story with another. Before it
    comes again, the stored profiles hold a story as near as the one it merged (here a copy of it, under an id
    that wins ties: a later article of the batch may have brought its profile that near). Healing merges the two
    stories the entry names, as the log has them; merging the nearest took the copy, and the index then held a
    story the log says was absorbed."""
    stores, batch, (gone, keep), partner = _healed_merge(seed)
    copied = stores.live["story-0"] = copy.deepcopy(stores.live[partner])
    desk = _healed(stores, batch, SETTINGS)
    index = desk.stories.stories
    assert gone not in index and keep in index and gone not in desk.stores.live
    assert index["story-0"].to_json() == copied  # the copy neither absorbed nor was absorbed


def _writer_to(changelog: DeskStores, local: DeskStores):
    """Writes made for `local`'s stores, made to the same stores of `changelog` (a table's changelog beside it)."""
    onto = {id(getattr(local, name)): store for name, store in vars(changelog).items()}
    return lambda writes: write([(onto[id(store)], key, value) for store, key, value in writes])


def _merging(outcomes) -> list[int]:
    """The batches in which stories merge."""
    return sorted({i // BATCH for i, o in enumerate(outcomes) if _merge(o)})


def _cut(phases, phase: int, shares) -> list:
    """What a crash inside `phase` lets through: the phases before it whole, and of it a prefix of each store's
    writes, cut at that store's share (`CUTS`)."""
    by_store: dict[int, list] = {}
    for written in phases[phase]:
        by_store.setdefault(id(written[0]), []).append(written)
    kept = [w for p in phases[:phase] for w in p]
    for writes, share in zip(by_store.values(), shares * 2):
        kept += writes[: round(len(writes) * share)]
    return kept


def _crash_and_go_on(stream, calm, crashed_batch: int, landed, size: int = BATCH) -> tuple[list, list]:
    """Place the batches up to `crashed_batch`, store only what `landed` keeps of its writes (given its phases),
    and rebuild a desk from the stores: it places that batch again (what it decided is returned, with the
    uninterrupted desk's outcomes) and the rest of the stream, which must go as the uninterrupted desk's, and
    store what it stored."""
    outcomes, calm_stores = calm
    batches = _batches(stream, size)
    stores, phases = _crashed_batch(SETTINGS, batches[:crashed_batch], batches[crashed_batch])
    write(landed(phases))

    kept = _kept(stores)
    staging = Staging(kept)
    restarted = StoryDesk(SETTINGS, staging.stores)
    restarted.load()
    start = crashed_batch * size
    again = [restarted.place(article) for article in batches[crashed_batch]]
    expected = outcomes[start : start + size]
    write_open_batch(staging)
    start += size
    for batch in batches[crashed_batch + 1 :]:
        assert [restarted.place(article) for article in batch] == outcomes[start : start + len(batch)]
        start += len(batch)
        write_open_batch(staging)
    assert kept.live == calm_stores.live
    assert kept.fingerprints == calm_stores.fingerprints
    return again, expected


def test_discarding_the_open_batch_leaves_what_was_sealed_before_it():
    stores = DeskStores(live={"s": {"size": 1}})
    staging = Staging(stores)
    staging.stores.live["s"] = {"size": 2}
    sealed = staging.seal()
    staging.stores.live["s"] = {"size": 3}
    staging.stores.live["t"] = {"size": 1}
    del staging.stores.live["s"]
    assert "s" not in staging.stores.live and list(staging.stores.live) == ["t"]
    staging.discard_open()
    assert staging.stores.live["s"] == {"size": 2} and "t" not in staging.stores.live
    for phase in staging.phases(sealed):
        write(phase)
    staging.written(sealed)
    assert stores.live == {"s": {"size": 2}}


def _kept(stores: DeskStores) -> DeskStores:
    return DeskStores(**{name: copy.deepcopy(dict(store)) for name, store in vars(stores).items()})


ONE_DAY_WINDOW = Settings(broker="127.0.0.1:1", story_window_days=1.0)


def _articles_of(names: str, seed: int):
    """A maker of prepared articles of the named stories (synthetic), each dated by its day after a start."""
    rng, start = random.Random(seed), datetime(2024, 3, 1, tzinfo=timezone.utc)
    stories, counts = {name: _story(rng, name, start) for name in names}, dict.fromkeys(names, 0)

    def article(name: str, day: float):
        counts[name] += 1
        raw = _article(rng, stories[name], counts[name], start + timedelta(days=day), 2)
        return prepare(orjson.dumps(raw), None, REPLAYED_AT, 2_000_000)

    return article


def _crashed_batch(settings: Settings, before: list[list], crashed: list) -> tuple[DeskStores, list]:
    """A desk places the batches `before`, writing each, then places `crashed`: its stores, and the phases of
    the batch the crash keeps from them (the test writes what got through)."""
    stores = DeskStores()
    staging = Staging(stores)
    desk = StoryDesk(settings, staging.stores)
    for batch in before:
        for article in batch:
            desk.place(article)
        write_open_batch(staging)
    for article in crashed:
        desk.place(article)
    return stores, staging.phases(staging.seal())


def _healed(stores: DeskStores, crashed: list, settings: Settings = ONE_DAY_WINDOW) -> StoryDesk:
    """A desk rebuilt from a copy of the stores, which places the crashed batch again and writes it."""
    staging = Staging(_kept(stores))
    desk = StoryDesk(settings, staging.stores)
    desk.load()
    for article in crashed:
        desk.place(article)
    write_open_batch(staging)
    return desk


def test_healing_expires_at_the_article_s_own_time_not_at_the_clock_of_profiles_stored_later():
    """A profile stored late in the crashed batch moves the restored clock on; an article healed before it must not
    expire, at that clock, a story that a later article of the batch refreshed but whose profile was cut."""
    article = _articles_of("PQR", seed=3)
    first = [article("Q", 0.0), article("P", 0.1), article("R", 0.1)]
    crashed = [article("R", 0.9), article("P", 0.95), article("Q", 0.97), article("R", 1.5)]
    later = article("Q", 1.6)
    calm = StoryDesk(ONE_DAY_WINDOW)
    expected = [calm.place(a) for a in [*first, *crashed, later]]
    stores, (records, windows, *_) = _crashed_batch(ONE_DAY_WINDOW, [first], crashed)
    live = [w for w in windows if w[0] is stores.live]
    assert live[0][1] == expected[3].record["story_id"]  # R's profile, stored with the clock of day 1.5
    write(records + [w for w in windows if w[0] is stores.fingerprints] + live[:1])
    again = _healed(stores, crashed)
    assert _sent(again.place(later)) == _sent(expected[-1])  # Q lives on: it joins Q


def test_an_article_healed_as_counted_expires_again_what_it_expired_the_first_time():
    """Its add expired a quiet story, and the crash cut that removal (a store's removals go last): healing the
    article, counted already, expires the story again, or a later article of it would join a story the
    uninterrupted desk had let go."""
    article = _articles_of("SR", seed=5)
    # R at 0.8 brings the stream's time on, so that R at 1.5 is no lone leap ahead of it (the desk's LEAP_SECONDS)
    first, crashed, later = [article("S", 0.0), article("R", 0.1), article("R", 0.8)], article("R", 1.5), article("S", 1.6)
    calm = StoryDesk(ONE_DAY_WINDOW)
    expected = [calm.place(a) for a in [*first, crashed, later]]
    assert expected[-1].record["started"], "the uninterrupted desk let S go: its next article starts a story"
    stores, (records, windows, *_) = _crashed_batch(ONE_DAY_WINDOW, [first], [crashed])
    assert any(value is DELETED for store, _, value in windows if store is stores.live)  # S expired
    write(records + [w for w in windows if w[2] is not DELETED])  # the values got through, the removal did not
    again = _healed(stores, [crashed])
    assert _sent(again.place(later)) == _sent(expected[-1])


def test_a_removal_the_changelog_lost_is_sent_again_by_a_worker_that_kept_its_tables():
    """The local store makes a phase's writes at once while its changelog is cut: the local store lacks an
    absorbed story whose removal never reached the changelog. Healing stages the removal again all the same, so
    a worker rebuilt from the changelog later does not take the story for live and merge it a second time."""
    settings = Settings(broker="127.0.0.1:1", join_threshold=0.45)
    articles = generate(300, seed=1, max_paragraphs=2).articles[:37]
    stream = [prepare(orjson.dumps(a), None, REPLAYED_AT + i, 2_000_000) for i, a in enumerate(articles)]
    calm = StoryDesk(settings)
    expected = [calm.place(a) for a in stream]
    assert any(map(_merge, expected[17:34])), "the crashed batch merges a story"
    local, (records, windows, *_) = _crashed_batch(settings, [stream[:17]], stream[17:34])
    changelog = _kept(local)
    on_changelog = _writer_to(changelog, local)
    write(records + windows)  # the local store: the phases whole
    live = [w for w in windows if w[0] is local.live]
    assert live[-1][2] is DELETED  # the merge's removal, last of the live profiles: the changelog's cut drops it
    on_changelog(records + [w for w in windows if w[0] is local.fingerprints] + live[:-1])
    staging = Staging(local)
    healed = StoryDesk(settings, staging.stores)
    healed.load()
    for a in stream[17:34]:
        healed.place(a)
    on_changelog([w for phase in staging.phases(staging.seal()) for w in phase])
    rebuilt = StoryDesk(settings, Staging(changelog).stores)
    rebuilt.load()
    assert [_sent(rebuilt.place(a)) for a in stream[34:]] == [_sent(o) for o in expected[34:]]


def test_a_fingerprint_older_than_the_window_is_removed_when_the_desk_loads():
    """A crash can keep a fingerprint's removal from the store; loading drops it from the index, and from the
    store too, or it would stay there for good."""
    stores = DeskStores()
    staging = Staging(stores)
    desk = StoryDesk(SETTINGS, staging.stores)
    stream = generate(40, seed=2, max_paragraphs=1).articles
    day = 86400
    for i, raw in enumerate(stream):
        desk.place(prepare(orjson.dumps(raw), None, REPLAYED_AT + i, 2_000_000))
    write_open_batch(staging)
    old_id, old_row = next(iter(stores.fingerprints.items()))
    stale = dict(old_row, seen=old_row["seen"] - (SETTINGS.dedup_window_days + 1) * day)
    stores.fingerprints[old_id] = stale  # as if its removal had been cut from the changelog
    loaded = StoryDesk(SETTINGS, staging.stores)
    loaded.load()
    assert old_id not in loaded.duplicates
    write_open_batch(staging)
    assert old_id not in stores.fingerprints and stores.fingerprints  # the rest stay


def test_a_value_staged_for_later_is_made_once_when_its_batch_is_sealed_and_read_through_before():
    """A story's state and profile are staged on each article it gains and made into rows once per batch."""
    made, row = [], {"size": 1}

    def make():
        made.append(dict(row))
        return dict(row)

    staging = Staging(DeskStores())
    staging.stores.live.set_later("s1", make)
    row["size"] = 2
    staging.stores.live.set_later("s1", make)  # a later article of the batch changed it, and staged it again
    assert made == [] and "s1" in staging.stores.live
    assert staging.stores.live["s1"] == {"size": 2} and staging.stores.live.get("s1") == {"size": 2}
    row["size"] = 3
    sealed = staging.seal()
    row["size"] = 4  # the next batch changes it: the sealed row is what it was at the seal
    assert sealed["live"]["s1"] == {"size": 3} and staging.stores.live["s1"] == {"size": 3}
    assert made == [{"size": 2}, {"size": 2}, {"size": 3}]  # the two reads, then the seal, and nothing after


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


def test_each_store_s_keys_in_order_are_its_absorbed_rows_then_its_values_then_its_removals():
    staging = Staging(DeskStores(live={"gone": {}}))
    staging.stores.live["b"] = {"size": 1}
    del staging.stores.live["gone"]
    staging.stores.live["a"] = {"size": 2}
    staging.stores.live[ABSORBED + "gone"] = {"into": "a", "seen": 1.0}
    staging.stores.meta["position"] = {"offset": 3}
    order = keys_in_order(staging.seal())
    assert order["live"] == [ABSORBED + "gone", "b", "a", "gone"] and order["meta"] == ["position"] and order["articles"] == []


def test_writes_made_again_take_what_each_store_holds_and_write_its_removals_after_its_values():
    """A key removed by the batch written since (an absorbed story) goes after the values, whatever its place
    in the journal: a cut between them must not leave the removal without the survivor's value."""
    stores = DeskStores(articles={"a": {"story_id": "s"}}, live={"survivor": {"size": 5}}, meta={"position": {"offset": 9}})
    staging = Staging(stores)
    again = staging.again({"articles": ["a"], "live": ["absorbed", "survivor"], "meta": ["position"]})
    assert [[(key, value) for _, key, value in phase] for phase in staging.phases(again)] == [
        [("a", {"story_id": "s"})], [("survivor", {"size": 5}), ("absorbed", DELETED)], [("position", {"offset": 9})]
    ]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("phase", range(len(PHASES)))
def test_a_worker_that_kept_its_tables_sends_a_cut_batch_again_and_its_changelogs_then_hold_its_tables(seed, phase):
    """RocksDB makes a phase's writes at once while the crash cuts their changelogs, each at its own point.
    The restarted worker sends the batch's keys again with what its tables hold (streams/worker/journal.py):
    the changelogs then hold what the tables hold, and a desk rebuilt from them later, on another host, goes
    on as the uninterrupted one, after the restarted worker has healed the batch."""
    stream, calm = _stream_and_calm(seed)
    outcomes, _ = calm
    batches = _batches(stream)
    for crashed_batch in _merging(outcomes):
        for shares in CUTS:
            local, phases = _crashed_batch(SETTINGS, batches[:crashed_batch], batches[crashed_batch])
            changelog = _kept(local)
            on_changelog = _writer_to(changelog, local)
            names = {id(store): name for name, store in vars(local).items()}
            keys = {}
            for store, key, _ in (w for p in phases for w in p):
                keys.setdefault(names[id(store)], []).append(key)
            for written in phases[: phase + 1]:
                write(written)  # the local tables: each phase whole, up to the crash
            on_changelog(_cut(phases, phase, shares))

            staging = Staging(local)
            for again in staging.phases(staging.again(keys)):
                on_changelog(again)
            assert changelog == local, (crashed_batch, shares)

            restarted = StoryDesk(SETTINGS, staging.stores)
            restarted.load()
            for article in batches[crashed_batch]:
                restarted.place(article)
            for healing in staging.phases(staging.seal()):
                write(healing)
                on_changelog(healing)
            rebuilt = StoryDesk(SETTINGS, Staging(changelog).stores)
            rebuilt.load()
            start = (crashed_batch + 1) * BATCH
            sent = [_sent(rebuilt.place(article)) for article in stream[start:]]
            assert sent == [_sent(o) for o in outcomes[start:]], (crashed_batch, shares)


@pytest.mark.parametrize("written", range(len(PHASES) + 1))
def test_a_date_that_leapt_alone_is_judged_as_the_first_time_after_a_crash_in_any_phase(written):
    """Healing notes an article's date again only where the stored meta row does not count it yet, and as its record
    says the date was read: a typo'd year that leapt alone stays alone, and the undated article after it is dated
    from the stream's lag, as the uninterrupted desk dates it (not two years on, which would expire every story)."""
    settings = Settings(broker="127.0.0.1:1")
    rng, start = random.Random(7), datetime(2022, 1, 12, tzinfo=timezone.utc)
    stories = {name: _story(rng, name, start) for name in "AB"}

    def article(number: int, name: str, day: float | None):
        raw = _article(rng, stories[name], number, start + timedelta(days=day or 0.0), 2)
        if day is None:
            del raw["published_at"]
        return prepare(orjson.dumps(raw), None, REPLAYED_AT + number, 2_000_000)

    first = [article(1, "A", 0.0), article(2, "B", 0.1)]
    crashed = [article(3, "A", 730.0), article(4, "B", None)]  # a typo'd year, then an undated article
    later = [article(5, "A", None), article(6, "B", 0.3)]
    calm = StoryDesk(settings)
    expected = [calm.place(a) for a in [*first, *crashed, *later]]
    assert [datetime.fromtimestamp(e.record["own_time"], timezone.utc).year for e in expected[2:]] == [2022] * 4  # the typo leapt alone
    stores, phases = _crashed_batch(settings, [first], crashed)
    write([w for phase in phases[:written] for w in phase])
    desk = StoryDesk(settings, Staging(_kept(stores)).stores)
    desk.load()
    for a in crashed:
        desk.place(a)
    assert [desk.place(a) for a in later] == expected[4:]
    assert (desk.lag, desk.previous_date) == (calm.lag, calm.previous_date)
