"""The desk over plain dicts standing in for the worker's tables: decisions, idempotence, recovery, bounds. Its
decisions are read as the entries one story stage's shelf folds them into (`Placing`)."""

from datetime import datetime, timedelta, timezone

import orjson
import pytest
from placing import Placed, Placing

from schemas import ArticleFacts, ArticleMetadata, PreparedArticle
from schemas.placing import parse_to_story
from streams.pipeline.dedup import fingerprint
from streams.pipeline.features import features
from streams.settings import Settings
from streams.story.desk import (
    ABSORBED,
    GC_THRESHOLDS,
    Decided,
    DeskStores,
    Duplicate,
    Redelivered,
    StoryDesk,
    collecting_as_the_worker,
    decision_messages,
)
from streams.tools.synthetic import REPLAYED_AT

SETTINGS = Settings(broker="127.0.0.1:1")


def _prepared(article_id: str, title: str, text: str, outlet: str) -> PreparedArticle:
    article = ArticleMetadata(
        article_id=article_id, title=title, outlet=outlet,
        received_at=datetime(2024, 5, 6, 12, tzinfo=timezone.utc),
    )
    fp = fingerprint(title, text)
    return PreparedArticle(
        article=article, facts=ArticleFacts(title=title), terms=features(title, text), exact=fp.exact, signature=fp.in_base64()
    )


FLOOD = "Heavy rain flooded Porto Alegre on Monday, forcing thousands from their homes, mayor Sebastiao Melo said. Rescuers used boats in the Guaiba river districts."
FLOOD_2 = "Mayor Sebastiao Melo said the Porto Alegre floods had displaced thousands as the Guaiba river kept rising on Tuesday, and rescuers in boats searched flooded districts."
RATES = "The Reserve Bank of India raised its repo rate by a quarter point on Wednesday to curb inflation, governor Shaktikanta Das said."


def _synthetic(size: int, seed: int) -> list:
    """A synthetic stream of short articles, prepared as the worker would, one broker second apart."""
    from streams.pipeline.prepare import prepare
    from streams.tools.synthetic import generate

    stream = generate(size, seed=seed, max_paragraphs=2)
    return [prepare(orjson.dumps(a), None, REPLAYED_AT + i, 2_000_000) for i, a in enumerate(stream.articles)]


def _report(number: int, title: str | None, text: str, published: str | None, received: float) -> PreparedArticle:
    """Article a<number>, published when said (or undated), prepared as the worker would, received then."""
    from streams.pipeline.prepare import prepare

    raw = {"id": f"a{number}", "title": title, "text": text, **({"published_at": published} if published else {})}
    return prepare(orjson.dumps(raw), None, received, 2_000_000)


def _run(placing: Placing, prepared: PreparedArticle) -> Placed:
    return placing.place(prepared)


def test_related_articles_share_a_story_and_unrelated_ones_do_not():
    desk = Placing()
    a = _run(desk, _prepared("a", "Floods hit Porto Alegre", FLOOD, "Outlet A"))
    b = _run(desk, _prepared("b", "Porto Alegre floods displace thousands", FLOOD_2, "Outlet B"))
    c = _run(desk, _prepared("c", "Reserve Bank of India raises rates", RATES, "Outlet C"))
    assert a.event.story_id == b.event.story_id != c.event.story_id
    assert (b.event.version, b.event.kind) == (2, "joined")


def test_the_same_article_twice_changes_nothing_and_says_so():
    placing = Placing()
    first = _run(placing, _prepared("a", "Floods hit Porto Alegre", FLOOD, "Outlet A"))
    before = _copy_stores(placing.desk.stores)
    again = _run(placing, _prepared("a", "Floods hit Porto Alegre", FLOOD, "Outlet A"))
    assert isinstance(again.outcome, Redelivered) and again.verdict.kind == "redelivery"
    assert again.outcome.messages == first.outcome.messages  # sent again: a crash may have kept them from the broker
    assert first.events and again.events == ()  # and the story stage, which took them, makes nothing of them
    assert placing.desk.stores == before


def test_a_copy_under_another_id_is_a_duplicate_of_the_first():
    desk = Placing()
    _run(desk, _prepared("a", "Floods hit Porto Alegre", FLOOD, "Outlet A"))
    copy = _run(desk, _prepared("z", "Floods hit Porto Alegre", FLOOD, "Syndicator"))
    assert isinstance(copy.outcome, Duplicate) and copy.events == ()
    assert (copy.verdict.duplicate_of, copy.verdict.kind, copy.verdict.similarity) == ("a", "exact", 1.0)


def test_a_copy_delivered_again_sends_the_verdict_it_got_the_first_time_again():
    """A crash may cut in after the copy's record is stored and before its verdict is on the broker: when it
    comes again, its first verdict is published again, then the redelivery notice."""
    desk = StoryDesk(SETTINGS)
    desk.place(_prepared("a", "Floods hit Porto Alegre", FLOOD, "Outlet A"))
    first = desk.place(_prepared("z", "Floods hit Porto Alegre", FLOOD, "Syndicator"))
    again = desk.place(_prepared("z", "Floods hit Porto Alegre", FLOOD, "Syndicator"))
    assert again.earlier == first.verdict and again.verdict.kind == "redelivery"
    sent = [(kind, key, value) for kind, key, value in desk.messages(again)]
    assert sent == [("duplicate", "z", first.verdict.to_bytes()), ("duplicate", "z", again.verdict.to_bytes())]


def test_a_restarted_desk_rebuilt_from_the_tables_decides_the_same():
    desk = StoryDesk(SETTINGS)
    first = desk.place(_prepared("a", "Floods hit Porto Alegre", FLOOD, "Outlet A"))
    restarted = StoryDesk(SETTINGS, DeskStores(**{k: dict(v) for k, v in vars(desk.stores).items()}))
    restarted.load()
    joined = restarted.place(_prepared("b", "Porto Alegre floods displace thousands", FLOOD_2, "Outlet B"))
    original = desk.place(_prepared("b", "Porto Alegre floods displace thousands", FLOOD_2, "Outlet B"))
    assert joined == original and joined.record["story_id"] == first.record["story_id"] and not joined.record["started"]
    assert isinstance(restarted.place(_prepared("a", "x", FLOOD, "Outlet A")), Redelivered)


def test_the_snapshot_the_story_stage_keeps_equals_a_fold_of_the_changelog():
    from streams.story.fold import fold, snapshot

    placing = Placing()
    a = _run(placing, _prepared("a", "Floods hit Porto Alegre", FLOOD, "Outlet A"))
    b = _run(placing, _prepared("b", "Porto Alegre floods displace thousands", FLOOD_2, "Outlet B"))
    story_id = a.event.story_id
    made = snapshot(story_id, placing.shelf.state(story_id))
    assert made == fold([*a.events, *b.events]) and made.version == 2


def test_an_articles_record_is_its_decision_and_read_back_as_json_it_makes_the_same_messages_again():
    """A table gives the record back as parsed JSON: a redelivery read from it sends what the article sent first."""
    desk = StoryDesk(SETTINGS)
    article = _prepared("a", "Floods hit Porto Alegre", FLOOD, "Outlet A")
    outcome = desk.place(article)
    assert isinstance(outcome, Decided)
    record = desk.stores.articles["a"]
    assert record == outcome.record and record["started"] and record["position"] == 1
    desk.stores.articles["a"] = orjson.loads(orjson.dumps(record))
    again = desk.place(article)
    assert isinstance(again, Redelivered) and again.messages == outcome.messages
    ((story_id, placement),) = outcome.messages
    message = parse_to_story(placement)
    assert (message.kind, message.story_id, message.position) == ("article", record["story_id"], 1)
    assert (message.article, message.facts) == (article.article, article.facts)


def test_a_placement_is_smaller_than_the_prepared_article_it_places_so_the_prepared_topics_limit_fits_it():
    """The placements topic takes the prepared topic's message limit (streams/kafka/topics.py): a placement drops
    the terms and the signature for its header, so even an article with no terms and the longest header (a story's
    first entry far into the log, its merge's messages too) makes messages smaller than its prepared article."""
    prepared = _prepared("a" * 200, "T" * 300, "", "O" * 200).model_copy(update={"terms": {}})
    record = {"story_id": "story-" + "f" * 12, "position": 10**15, "started": True, "score": 0.123456789,
              "own_time": 4102444800.123456, "merged": ["story-" + "e" * 12, "story-" + "f" * 12, "2099-12-31T23:59:59.999999+00:00"],
              "now": 4102444800.123456}
    messages = decision_messages(record, prepared)
    assert len(messages) == 3
    assert max(len(message) for _, message in messages) < len(prepared.to_bytes())


def test_an_article_an_earlier_version_placed_sends_the_entries_its_record_holds_again():
    """A worker of the version that folded as it placed recorded an article's entries: redelivered after an
    upgrade (its batch not acked), the article sends them again to the story events topic, as that version did."""
    first = Placing().place(_prepared("a", "Floods hit Porto Alegre", FLOOD, "Outlet A"))
    entry = first.event
    desk = StoryDesk(SETTINGS)
    desk.stores.articles["a"] = {"story_id": entry.story_id, "events": [orjson.loads(entry.to_bytes())], "now": 1.0}
    again = desk.place(_prepared("a", "Floods hit Porto Alegre", FLOOD, "Outlet A"))
    assert isinstance(again, Redelivered) and again.messages == () and again.verdict.kind == "redelivery"
    (verdict, sent) = desk.messages(again)
    assert verdict[0] == "duplicate" and sent == ("event", entry.story_id, entry.to_bytes())
    assert desk.position == 0 and not desk.stories.stories  # nothing decided or counted again


def test_a_desk_rebuilt_mid_stream_goes_on_exactly_as_the_uninterrupted_one():
    """Profiles, merges and the hot window depend on arrival order; load must rebuild them in that order."""



    prepared = _synthetic(240, seed=5)
    calm, restarted = StoryDesk(SETTINGS), StoryDesk(SETTINGS)
    for index, article in enumerate(prepared):
        if index in (80, 160):
            restarted = StoryDesk(SETTINGS, restarted.stores)
            restarted.load()
        expected = calm.place(article)
        got = restarted.place(article)
        assert got == expected, f"article {index} decided differently after the rebuild"
    assert restarted.stores == calm.stores


def _copy_stores(stores: DeskStores) -> DeskStores:
    import copy

    return DeskStores(**{name: copy.deepcopy(dict(store)) for name, store in vars(stores).items()})


def test_a_crash_after_the_article_record_is_healed_when_the_article_comes_again():
    """The record is written first and the position last: with only the record kept, the article's redelivery
    makes its other writes again, and the stream goes on exactly as the uninterrupted one."""


    prepared = _synthetic(160, seed=9)
    calm = StoryDesk(SETTINGS)
    outcomes = [calm.place(article) for article in prepared]
    crashed = StoryDesk(SETTINGS)
    for article in prepared[:100]:
        crashed.place(article)
    before = _copy_stores(crashed.stores)
    crashed.place(prepared[100])  # its writes, of which only the article record survives the crash
    lost = before
    lost.articles[prepared[100].article.article_id] = crashed.stores.articles[prepared[100].article.article_id]
    restarted = StoryDesk(SETTINGS, lost)
    restarted.load()
    again = restarted.place(prepared[100])  # redelivered: recognised, and its lost writes made again
    assert isinstance(again, Redelivered) and again.messages == outcomes[100].messages
    assert [restarted.place(article) for article in prepared[101:]] == outcomes[101:]
    assert restarted.stores == calm.stores
    # Delivered once more (its batch's acks lost again): healed once, so its date is not noted again after the
    # later articles' dates, and the stored clock stays the uninterrupted one's.
    assert restarted.place(prepared[100]).messages == outcomes[100].messages
    assert (restarted.lag, restarted.previous_date) == (calm.lag, calm.previous_date)
    assert restarted.stores == calm.stores


def test_memory_holds_the_windows_not_the_history():
    """Over 40 days of event time, the live stories and fingerprints in memory stay those of the windows."""
    import orjson

    from streams.pipeline.prepare import prepare
    from streams.tools.synthetic import stream_over_days

    settings = Settings(broker="127.0.0.1:1", story_window_days=2, dedup_window_days=4)
    desk = StoryDesk(settings)
    peaks = []
    for number, raw in enumerate(stream_over_days(1200, 40, seed=3, max_paragraphs=1), start=1):
        desk.place(prepare(orjson.dumps(raw), None, REPLAYED_AT + number, 2_000_000))
        if number % 300 == 0:
            peaks.append((desk.stories.live, len(desk.duplicates), len(desk.absorbed)))
    stores = desk.stores
    assert len(stores.articles) == 1200  # every article is still recognised (on disk in the worker)
    assert max(p[1] for p in peaks) < 250  # about 4 days of 30 articles, not 1,200
    assert max(p[0] for p in peaks) < 120
    assert len(stores.fingerprints) == len(desk.duplicates)
    absorbed = {key: row for key, row in stores.live.items() if key.startswith(ABSORBED)}
    assert len(stores.live) == desk.stories.live + len(absorbed) and len(absorbed) == len(desk.absorbed)
    assert max(p[2] for p in peaks) > 0  # merges were remembered on the way, and only for the windows:
    assert all(row["seen"] >= desk.stories.clock - 4 * 86400 for row in absorbed.values())  # the dedup window, the longer
    restarted = StoryDesk(settings, stores)
    restarted.load()
    assert restarted.stories.live == desk.stories.live and len(restarted.duplicates) == len(desk.duplicates)
    assert restarted.absorbed == desk.absorbed


def test_a_feed_mixing_headlines_and_full_text_clusters_each_story_together():
    """Headline-only and full-text articles of the same stories, interleaved: one story each, not one per kind."""
    rates_2 = (
        "India's central bank lifted its benchmark repo rate by 25 basis points on Wednesday, governor Shaktikanta "
        "Das said, as the Reserve Bank of India moved again to curb persistent inflation."
    )
    feed = [
        _prepared("f1", "Floods hit Porto Alegre", FLOOD, "Outlet A"),
        _prepared("r1", "Reserve Bank of India raises repo rate", RATES, "Outlet C"),
        _prepared("f2", "Porto Alegre floods displace thousands", "", "Wire D"),
        _prepared("r2", "Reserve Bank of India lifts repo rate to curb inflation", "", "Wire E"),
        _prepared("f3", "Porto Alegre flood waters keep rising", FLOOD_2, "Outlet B"),
        _prepared("r3", "India central bank raises rates again", rates_2, "Outlet F"),
        _prepared("f4", "Thousands flee Porto Alegre floods", "", "Wire G"),
    ]
    desk = Placing()
    placed, merged = {}, {}
    for article in feed:
        outcome = desk.place(article)
        copied = isinstance(outcome.outcome, Duplicate)  # a headline posted again with a word changed: its original's story
        placed[article.article.article_id] = outcome.verdict.story_id if copied else outcome.event.story_id
        merged.update({e.absorbed_story_id: e.story_id for e in outcome.events if e.kind == "merged"})

    def story_now(story_id: str) -> str:  # a merge moves an absorbed story's articles to the survivor
        while story_id in merged:
            story_id = merged[story_id]
        return story_id

    stories = {article_id: story_now(story_id) for article_id, story_id in placed.items()}
    floods = {stories[a] for a in ("f1", "f2", "f3", "f4")}
    rates = {stories[a] for a in ("r1", "r2", "r3")}
    assert len(floods) == 1 and len(rates) == 1 and floods != rates, stories


def test_the_seeds_stay_one_story_of_five_among_real_headlines_on_russia_ukraine_and_nato():
    """Hard negatives: 105 real headlines of March 2014 (UCI News Aggregator, CC BY 4.0) naming Russia, Ukraine,
    NATO, Crimea, Putin or Kiev, re-dated to the seeds' days so that content alone must keep them apart."""
    from pathlib import Path

    import orjson

    from streams.pipeline.prepare import prepare

    here = Path(__file__).parent
    headlines = [orjson.loads(line) for line in (here / "hard_negatives.jsonl").read_bytes().splitlines()]
    for number, headline in enumerate(headlines):
        headline["published_at"] = f"2022-01-{10 + number % 5:02d}T{number % 24:02d}:00:00+00:00"
    seeds = sorted((here.parents[2] / "seeds").glob("*.txt"))
    payloads = [orjson.dumps(h) for h in headlines]
    for index, seed in enumerate(seeds):  # the seeds spread among the headlines
        payloads.insert(index * 22 + 10, seed.read_bytes())
    desk = Placing()
    placed, merged = {}, {}
    for number, payload in enumerate(payloads):
        article = prepare(payload, f"p{number}".encode(), REPLAYED_AT + number, 2_000_000)
        outcome = desk.place(article)
        copied = isinstance(outcome.outcome, Duplicate)  # a headline posted again with a word changed: its original's story
        placed[article.article.article_id] = outcome.verdict.story_id if copied else outcome.event.story_id
        merged.update({e.absorbed_story_id: e.story_id for e in outcome.events if e.kind == "merged"})

    def story_now(story_id: str) -> str:
        while story_id in merged:
            story_id = merged[story_id]
        return story_id

    seed_ids = {a for a in placed if not a.startswith("uci-")}
    (seed_story,) = {story_now(placed[a]) for a in seed_ids}
    assert len(seed_ids) == 5
    assert [a for a in placed if a.startswith("uci-") and story_now(placed[a]) == seed_story] == []


def test_a_copy_of_an_article_whose_story_was_merged_names_the_story_that_absorbed_it():
    prepared = _synthetic(260, seed=1)  # two of its articles merge stories
    placing = Placing()
    desk = placing.desk
    outcomes = [placing.place(article) for article in prepared]
    merge = [o.events[1] for o in outcomes if len(o.events) == 2][-1]  # within the story window of the stream's end
    absorbed = next(p for p, o in zip(prepared, outcomes) if o.events and o.event.story_id == merge.absorbed_story_id)
    copy_of = absorbed.model_copy(update={"article": absorbed.article.model_copy(update={"article_id": "a-copy"})})
    verdict = desk.place(copy_of).verdict
    assert (verdict.kind, verdict.duplicate_of) == ("exact", absorbed.article.article_id)
    assert verdict.story_id == merge.story_id != merge.absorbed_story_id

    # Ten days on, past the story window (7) and within the dedup window (30): the merge is still followed.
    later = datetime.fromtimestamp(desk.stories.clock + 10 * 86400, timezone.utc)
    for number, text in enumerate((FLOOD, RATES), start=1_000):
        desk.place(_report(number, None, text, (later + timedelta(minutes=number)).isoformat(), REPLAYED_AT + 10_000 + number))
    assert merge.story_id not in desk.stories.stories  # the survivor left the story window
    second = copy_of.model_copy(update={"article": copy_of.article.model_copy(update={"article_id": "a-second-copy"})})
    assert desk.place(second).verdict.story_id == merge.story_id


def test_a_date_after_the_broker_time_is_not_the_articles_time_and_expires_nothing():
    """An undated report of a future event (its text's date: 2032), or a typo'd year, would have moved the stream's
    clock years ahead and expired every live story and fingerprint at once."""
    received = datetime(2024, 5, 6, 20, tzinfo=timezone.utc).timestamp()

    def article(number: int, title: str, text: str, published: str | None = None) -> PreparedArticle:
        return _report(number, title, text, published, received + number * 600)

    desk = Placing()
    first = desk.place(article(1, "Floods hit Porto Alegre", FLOOD, "2024-05-06T10:00:00Z"))
    desk.place(article(2, "Porto Alegre floods displace thousands", FLOOD_2, "2024-05-06T14:00:00Z"))
    games = article(3, "Brisbane unveils venue plan", GAMES)
    typo = article(4, "Rates rise in India", RATES, "2064-05-06T15:00:00Z")
    assert games.facts.event_date.year == 2032 and typo.facts.published_at.year == 2064
    for ahead in (games, typo):
        assert desk.place(ahead).event.article_time.year == 2024
    assert desk.desk.stories.live == 3 and len(desk.desk.duplicates) == 4
    later = desk.place(article(5, "Porto Alegre flood waters rise again", FLOOD_3, "2024-05-06T18:00:00Z"))
    assert later.event.story_id == first.event.story_id


def test_a_typo_d_year_in_a_replayed_archive_expires_nothing_and_a_real_gap_moves_the_clock_at_its_second_article():
    """In a replayed archive every date lies before the broker time, so a typo'd year (2024 in a 2022 archive)
    passes the check above; alone, it would have moved the stream two years on and expired every live story and
    fingerprint at once. Two dated articles that agree on a leap are a real gap in the stream: the clock follows."""
    received = datetime(2026, 11, 30, tzinfo=timezone.utc).timestamp()

    def article(number: int, title: str, text: str, published: str) -> PreparedArticle:
        return _report(number, title, text, published, received + number)

    placing = Placing()
    desk = placing.desk
    first = placing.place(article(1, "Floods hit Porto Alegre", FLOOD, "2022-01-12T10:00:00Z"))
    placing.place(article(2, "Porto Alegre floods displace thousands", FLOOD_2, "2022-01-12T14:00:00Z"))
    typo = placing.place(article(3, "Rates rise in India", RATES, "2024-01-12T15:00:00Z"))
    assert typo.event.article_time.year == 2022  # its time as the undated's: the stream's lag behind the broker
    assert desk.stories.live == 2 and len(desk.duplicates) == 3
    later = placing.place(article(4, "Porto Alegre flood waters rise again", FLOOD_3, "2022-01-12T18:00:00Z"))
    assert later.event.story_id == first.event.story_id

    after_gap = placing.place(article(5, "Brisbane unveils venue plan", GAMES, "2022-06-01T10:00:00Z"))
    assert after_gap.event.article_time.month == 1 and desk.stories.live == 3  # alone: nothing expires yet
    restarted = StoryDesk(SETTINGS, DeskStores(**{k: dict(v) for k, v in vars(desk.stores).items()}))
    restarted.load()
    for desk_now in (desk, restarted):  # the date before is kept with the windows: a restart follows the leap alike
        confirmed = desk_now.place(article(6, "Chile drafts a new constitution", CHARTER, "2022-06-01T12:00:00Z"))
        assert confirmed.record["own_time"] == datetime(2022, 6, 1, 12, tzinfo=timezone.utc).timestamp()
        assert first.event.story_id not in desk_now.stories.stories  # January's stories left the window

GAMES = (
    "Organisers in Brisbane unveiled the venue plan for the Olympic Games, which open on July 23, 2032, with a new "
    "stadium at Victoria Park and athletes' village at Hamilton. The plan needs state approval."
)
CHARTER = (
    "Chile's constitutional convention handed its draft charter to president Gabriel Boric in Santiago, "
    "ahead of a national referendum on the text in September."
)
FLOOD_3 = (
    "Rescuers in boats kept searching flooded districts of Porto Alegre on Wednesday as the Guaiba river rose again, "
    "mayor Sebastiao Melo said, while governor Eduardo Leite counted the displaced in the thousands."
)


@pytest.mark.parametrize("seed, by_a_later_article", [(4, False), (1, True)])
def test_a_crash_before_the_position_of_a_batch_that_merged_an_articles_story_away_is_healed(seed, by_a_later_article):
    """An article's story was merged into another, by the article itself or by a later one of its batch: with the
    batch's records and windows written and its position lost, the redeliveries do not count the article in the
    survivor a second time, and the stream goes on exactly as the uninterrupted one."""
    prepared = _synthetic(300, seed=seed)
    calm = Placing()
    outcomes = [calm.place(article) for article in prepared]

    def batch_of(last: int) -> int | None:
        """The article whose story article `last` merges away (from it to `last`: the batch), of the kind wanted."""
        if len(outcomes[last].events) != 2:
            return None
        gone = outcomes[last].events[1].absorbed_story_id
        first = max((k for k in range(last + 1) if outcomes[k].events and outcomes[k].event.story_id == gone), default=None)
        return first if first is not None and (first < last) == by_a_later_article else None

    last = next(i for i in range(len(outcomes)) if batch_of(i) is not None)
    first = batch_of(last)
    crashed = StoryDesk(SETTINGS)
    for article in prepared[:first]:
        crashed.place(article)
    lost = _copy_stores(crashed.stores)
    for article in prepared[first : last + 1]:
        crashed.place(article)
    written = _copy_stores(crashed.stores)
    for name in ("articles", "live", "fingerprints"):  # every write of the batch but the position's
        setattr(lost, name, getattr(written, name))
    restarted = StoryDesk(SETTINGS, lost)
    restarted.load()
    again = [restarted.place(article) for article in prepared[first : last + 1]]
    assert [o.messages for o in again] == [o.outcome.messages for o in outcomes[first : last + 1]]
    assert [restarted.place(article) for article in prepared[last + 1 :]] == [o.outcome for o in outcomes[last + 1 :]]
    assert restarted.stores.live == calm.desk.stores.live
    assert restarted.stores.fingerprints == calm.desk.stores.fingerprints


def test_tools_measure_with_the_workers_collector_thresholds_and_put_back_their_own():
    import gc

    before = gc.get_threshold()
    assert before != GC_THRESHOLDS  # pytest's process runs with the defaults
    with pytest.raises(RuntimeError), collecting_as_the_worker():
        assert gc.get_threshold() == GC_THRESHOLDS
        raise RuntimeError("a measurement that fails")
    assert gc.get_threshold() == before
