"""The desk: the story events log folded as it arrives, with the fold `storywire stories` uses, in bounded memory."""

from __future__ import annotations

from datetime import timedelta

from schemas import DuplicateVerdict
from streams.story.fold import fold_log, snapshot
from streams.story.state import MAX_ABSORBED
from streams.web.live import (
    DAYS_PER_STORY,
    DUPLICATES_PER_STORY,
    ENTRIES_PER_STORY,
    NOTICES_QUEUED,
    OTHER_OUTLETS,
    OUTLETS_PER_DAY,
    Desk,
)
from streams.web.view import story_detail


def _desk(events, limit: int = 100) -> Desk:
    desk = Desk(limit)
    for event in events:
        desk.apply(event)
    return desk


def test_the_desk_folds_what_the_whole_log_fold_folds(newsroom, minutes):
    events = [
        newsroom.article(
            "s1", "a1", "Harbour Times", at=minutes(0), people=("Elena Vargas",), claims=(("crane", 4, "exact"),)
        ),
        newsroom.article("s2", "b1", "Coast Daily", at=minutes(1), phrases=("Ferry Strike",)),
        newsroom.article("s1", "a2", "Coast Daily", at=minutes(2), claims=(("crane", 4, "nearly"),)),
    ]
    desk = _desk(events)
    whole = fold_log(events)
    for story_id in ("s1", "s2"):
        assert desk.get(story_id).snapshot() == snapshot(story_id, whole[story_id])
    assert desk.get("s1").snapshot().conflicts  # exact 4 against nearly 4: the fold's conflict, on the desk


def test_a_repeated_entry_is_folded_once(newsroom):
    first = newsroom.article("s1", "a1", "Harbour Times")
    second = newsroom.article("s1", "a2", "Coast Daily")
    desk = _desk([first, second])
    assert desk.apply(first) is False and desk.apply(second) is False
    held = desk.get("s1")
    assert held.entries_total == 2 and held.state.articles == 2


def test_stories_come_most_recently_active_first_and_a_merged_story_leaves_the_list(newsroom):
    events = [
        newsroom.article("s1", "a1", "Harbour Times"),
        newsroom.article("s2", "b1", "Coast Daily", phrases=("Ferry Strike",)),
        newsroom.article("s3", "c1", "Bay News", phrases=("Dock Fire",)),
        newsroom.article("s1", "a2", "Bay News"),
    ]
    desk = _desk(events)
    assert [held.story_id for held in desk.latest()] == ["s1", "s3", "s2"]
    desk.apply(newsroom.merge("s3", "s2"))
    assert [held.story_id for held in desk.latest()] == ["s3", "s1"]
    assert desk.get("s2").snapshot().merged_into == "s3"


def test_a_merge_moves_the_absorbed_stories_rows_and_counts_into_the_survivor(newsroom, minutes):
    events = [
        newsroom.article("s1", "a1", "Harbour Times", at=minutes(0)),
        newsroom.article("s2", "b1", "Coast Daily", at=minutes(60 * 24)),
        newsroom.article("s1", "a2", "Bay News", at=minutes(60 * 48)),
        newsroom.merge("s1", "s2", at=minutes(60 * 49)),
    ]
    desk = _desk(events)
    survivor, absorbed = desk.get("s1"), desk.get("s2")
    assert [row["position"] for row in survivor.entries] == [1, 2, 3, 4]
    assert [row.get("article_id") for row in survivor.entries] == ["a1", "b1", "a2", None]
    assert survivor.entries[-1]["absorbed_story_id"] == "s2"
    assert survivor.entries_total == 4 and absorbed.entries == []
    assert sum(sum(day.values()) for day in survivor.days.values()) == 3
    assert survivor.snapshot().absorbed == ["s2"] and survivor.snapshot().articles == 3


def test_an_entry_of_a_story_the_desk_no_longer_holds_is_counted_not_half_folded(newsroom):
    events = [
        newsroom.article("s1", "a1", "Harbour Times"),
        newsroom.article("s2", "b1", "Coast Daily", phrases=("Ferry Strike",)),
        newsroom.article("s3", "c1", "Bay News", phrases=("Dock Fire",)),
    ]
    desk = _desk(events, limit=2)
    assert desk.get("s1") is None and desk.held == 2  # the least recently active left
    assert desk.apply(newsroom.article("s1", "a2", "Bay News")) is False
    assert desk.unfoldable == 1 and desk.get("s1") is None


def test_a_first_entry_again_of_a_story_the_desk_dropped_is_not_taken_for_a_new_story(newsroom):
    first = newsroom.article("s1", "a1", "Harbour Times")
    events = [
        first,
        newsroom.article("s1", "a2", "Coast Daily"),
        newsroom.article("s2", "b1", "Coast Daily", phrases=("Ferry Strike",)),
        newsroom.article("s3", "c1", "Bay News", phrases=("Dock Fire",)),
    ]
    desk = _desk(events, limit=2)
    assert desk.get("s1") is None
    assert desk.apply(first) is False  # redelivered: the story has two entries, not one
    assert desk.unfoldable == 1 and desk.get("s1") is None


def test_a_merge_with_a_story_the_desk_no_longer_holds_still_closes_it(newsroom):
    events = [
        newsroom.article("s2", "b1", "Coast Daily", phrases=("Ferry Strike",)),
        newsroom.article("s1", "a1", "Harbour Times"),
        newsroom.article("s3", "c1", "Bay News", phrases=("Dock Fire",)),
    ]
    desk = _desk(events, limit=2)
    assert desk.get("s2") is None and desk.get("s1") is not None
    assert desk.apply(newsroom.merge("s1", "s2")) is True
    survivor = desk.get("s1")
    assert survivor.snapshot().absorbed == ["s2"] and survivor.entries[-1]["absorbed_label"] is None
    assert desk.apply(newsroom.article("s1", "a3", "Coast Daily")) is True  # the survivor goes on


def test_a_day_names_its_first_outlets_and_counts_the_others_together(newsroom):
    events = [newsroom.article("s1", f"a{i}", f"outlet {i}") for i in range(OUTLETS_PER_DAY + 3)]
    (day,) = _desk(events).get("s1").days.values()
    assert len(day) == OUTLETS_PER_DAY + 1 and day[OTHER_OUTLETS] == 3
    assert sum(day.values()) == OUTLETS_PER_DAY + 3


def test_a_story_keeps_its_latest_rows_and_days_and_counts_all(newsroom, minutes):
    total = ENTRIES_PER_STORY + 5
    events = [newsroom.article("s1", f"a{i}", f"outlet {i % 3}", at=minutes(i * 60 * 24 * 4)) for i in range(total)]
    held = _desk(events).get("s1")
    assert len(held.entries) == ENTRIES_PER_STORY and held.entries_total == total
    assert held.entries[-1]["article_id"] == f"a{total - 1}" and held.entries[0]["article_id"] == "a5"
    assert len(held.days) <= DAYS_PER_STORY and max(held.days) == events[-1].article_time.date()


def test_copies_of_a_storys_articles_are_kept_and_redeliveries_are_not(newsroom):
    desk = _desk([newsroom.article("s1", "a1", "Harbour Times"), newsroom.article("s2", "b1", "Coast Daily")])
    desk.add_duplicate(DuplicateVerdict(article_id="x1", duplicate_of="a1", similarity=0.9, kind="near", story_id="s1"))
    desk.add_duplicate(
        DuplicateVerdict(article_id="a1", duplicate_of="a1", similarity=1.0, kind="redelivery", story_id="s1")
    )
    desk.add_duplicate(
        DuplicateVerdict(article_id="x2", duplicate_of="b1", similarity=1.0, kind="exact", story_id="s2")
    )
    found, total = desk.duplicates_of(desk.get("s1"))
    assert [d.article_id for d in found] == ["x1"] and total == 1
    desk.apply(newsroom.merge("s1", "s2"))
    found, total = desk.duplicates_of(desk.get("s1"))
    assert sorted(d.article_id for d in found) == ["x1", "x2"] and total == 2  # the absorbed story's copies too


def test_an_absorbed_storys_copies_and_label_stay_with_the_survivor_when_it_leaves_the_desk(newsroom):
    events = [
        newsroom.article("s1", "a1", "Harbour Times"),
        newsroom.article("s2", "b1", "Coast Daily", phrases=("Ferry Strike",)),
    ]
    desk = _desk(events, limit=3)
    label = desk.get("s2").snapshot().label
    first, second = (
        DuplicateVerdict(article_id=f"x{n}", duplicate_of="b1", similarity=1.0, kind="exact", story_id="s2")
        for n in (1, 2)
    )
    desk.add_duplicate(first)
    desk.apply(newsroom.merge("s1", "s2"))
    desk.add_duplicate(second)  # a copy of the absorbed story's article found after the merge
    for story_id in ("s3", "s4"):  # the absorbed story, never active again, is the first to leave
        desk.apply(newsroom.article(story_id, f"{story_id}-a1", "Bay News", phrases=(f"Dock Fire {story_id}",)))
    assert desk.get("s2") is None
    found, total = desk.duplicates_of(desk.get("s1"))
    assert [d.article_id for d in found] == ["x1", "x2"] and total == 2
    assert story_detail(desk, desk.get("s1"))["merged_from"] == [{"story_id": "s2", "label": label}]


def test_every_merge_row_names_the_story_it_absorbed_however_many_came_before(newsroom):
    stories = [f"s{n}" for n in range(MAX_ABSORBED + 3)]  # more than a story's state names as absorbed
    desk = _desk([newsroom.article(s, f"{s}-a1", "Bay News", phrases=(f"Dock Fire {s}",)) for s in stories], limit=100)
    labels = {s: desk.get(s).snapshot().label for s in stories[1:]}
    for absorbed in stories[1:]:
        desk.apply(newsroom.merge(stories[0], absorbed))
    rows = [row for row in desk.get(stories[0]).entries if row["kind"] == "merged"]
    assert {row["absorbed_story_id"]: row["absorbed_label"] for row in rows} == labels


async def test_a_story_that_leaves_the_desk_is_announced_so_its_open_page_can_say_so(newsroom):
    desk = Desk(2)
    with desk.listening() as notices:
        for story_id in ("s1", "s2", "s3"):
            desk.apply(newsroom.article(story_id, f"{story_id}-a1", "Bay News", phrases=(f"Dock Fire {story_id}",)))
        heard = [notices.get_nowait() for _ in range(notices.qsize())]
    assert {"story_id": "s1", "kind": "left"} in heard and desk.get("s1") is None


def test_a_copy_s_verdict_sent_again_after_a_crash_counts_once_however_many_copies_came_between(newsroom):
    desk = _desk([newsroom.article("s1", "a1", "Harbour Times")])
    first = DuplicateVerdict(article_id="x0", duplicate_of="a1", similarity=1.0, kind="exact", story_id="s1")
    desk.add_duplicate(first)
    for n in range(1, 3 * DUPLICATES_PER_STORY):
        desk.add_duplicate(DuplicateVerdict(article_id=f"x{n}", duplicate_of="a1", similarity=1.0, kind="exact", story_id="s1"))
    desk.add_duplicate(first)  # the copy redelivered: its verdict again, then the redelivery notice
    desk.add_duplicate(DuplicateVerdict(article_id="x0", duplicate_of="x0", similarity=1.0, kind="redelivery", story_id="s1"))
    assert desk.duplicates_of(desk.get("s1"))[1] == 3 * DUPLICATES_PER_STORY


async def test_listeners_hear_each_change_and_a_slow_one_loses_only_the_oldest(newsroom):
    desk = Desk(10)
    with desk.listening() as notices:
        desk.apply(newsroom.article("s1", "a1", "Harbour Times"))
        assert (await notices.get()) == {
            "story_id": "s1",
            "version": 1,
            "kind": "started",
            "label": "Port Authority Board Mar 2023",
        }
        for i in range(NOTICES_QUEUED + 3):
            desk.apply(
                newsroom.article(
                    "s1", f"a{i + 2}", "Coast Daily", at=newsroom.states["s1"].last_seen + timedelta(minutes=1)
                )
            )
        assert notices.qsize() == NOTICES_QUEUED
        assert notices.get_nowait()["version"] == 5  # versions 2-4 made room
        desk.close()
        while (notice := notices.get_nowait()) is not None:
            assert notice["kind"] == "joined"
