"""What the API serves and the pages render: timeline rows, the stories list with its search, a story's detail."""

from __future__ import annotations

from schemas import DuplicateVerdict
from streams.web.live import Desk
from streams.web.pages import story_page
from streams.web.view import LISTED, TITLE_CHARS, entry_row, story_detail, story_list


def _desk(*events) -> Desk:
    desk = Desk(100)
    for event in events:
        desk.apply(event)
    return desk


def test_a_row_says_what_the_entry_added_people_apart_from_other_names(newsroom):
    newsroom.article(
        "s1", "a1", "Harbour Times", people=("Elena Vargas",), quotes=(("We will rebuild the quay", "Elena Vargas"),)
    )
    event = newsroom.article(
        "s1",
        "a2",
        "Coast Daily",
        title="Board votes to close terminal",
        people=("Elena Vargas", "Tom Reyes"),
        places=("Portsmouth",),
        quotes=(("We will rebuild the quay", "Elena Vargas"), ("Not before summer", "Tom Reyes")),
        claims=(("sailing", 40, "about"),),
    )
    row = entry_row(event)
    assert (row["kind"], row["outlet"], row["title"], row["new_outlet"]) == (
        "joined",
        "Coast Daily",
        "Board votes to close terminal",
        True,
    )
    assert row["new_people"] == {"shown": ["Tom Reyes"], "more": 0}
    assert row["new_names"]["shown"] == ["Portsmouth"]
    assert [q["text"] for q in row["new_quotes"]["shown"]] == ["Not before summer"]
    assert row["new_figures"]["shown"] == ["about 40 sailings"]
    assert [(c["what"], c["outlets"]) for c in row["corroborations"]["shown"]] == [("quote", 2)]


def test_a_row_names_a_bounded_number_of_items_and_counts_the_rest(newsroom):
    people = tuple(f"Person Number{i}" for i in range(LISTED + 3))
    row = entry_row(newsroom.article("s1", "a1", None, people=people, title="x" * (TITLE_CHARS + 50)))
    assert len(row["new_people"]["shown"]) == LISTED and row["new_people"]["more"] == 3
    assert len(row["title"]) == TITLE_CHARS and row["title"].endswith("…")
    assert row["outlet"] == "unknown outlet (a1)"


def test_search_finds_stories_by_label_people_and_places_in_any_case(newsroom):
    desk = _desk(
        newsroom.article("s1", "a1", "Harbour Times", people=("Elena Vargas",), places=("Portsmouth",)),
        newsroom.article("s2", "b1", "Coast Daily", phrases=("Ferry Strike",), people=("Tom Reyes",)),
    )

    def found(query: str) -> list[str]:
        return [s["story_id"] for s in story_list(desk, query)["stories"]]

    assert found("") == ["s2", "s1"]
    assert found("ferry") == ["s2"]
    assert found("VARGAS") == ["s1"]
    assert found("portsmouth port authority") == ["s1"]  # every term, anywhere
    assert found("portsmouth ferry") == []
    assert story_list(desk, "nothing like this")["matched"] == 0


def test_the_stories_list_is_bounded_and_says_how_many_matched(newsroom):
    desk = _desk(*(newsroom.article(f"s{i}", f"a{i}", "Harbour Times") for i in range(5)))
    listing = story_list(desk, "", shown=2)
    assert listing["matched"] == 5 and [s["story_id"] for s in listing["stories"]] == ["s4", "s3"]
    summary = listing["stories"][0]
    assert (summary["articles"], summary["outlet_count"], summary["outlets"]) == (1, 1, ["Harbour Times"])
    assert summary["articles_over_time"]["buckets"] == [{"start": "2023-03-07T09:00:00+00:00", "count": 1}]


def test_a_storys_detail_has_quotes_by_outlets_conflicts_duplicates_and_merges(newsroom, minutes):
    quote = ("We will rebuild the quay before the summer", "Elena Vargas")
    desk = _desk(
        newsroom.article(
            "s1",
            "a1",
            "Harbour Times",
            at=minutes(0),
            quotes=(quote,),
            claims=(("crane", 4, "exact"),),
            title="Cranes down",
        ),
        newsroom.article("s1", "a2", "Coast Daily", at=minutes(5), quotes=(quote, ("Only a delay", "Tom Reyes"))),
        newsroom.article("s2", "b1", "Bay News", at=minutes(9), claims=(("crane", 4, "nearly"),)),
        newsroom.merge("s1", "s2", at=minutes(10)),
    )
    desk.add_duplicate(
        DuplicateVerdict(article_id="x1", duplicate_of="a1", similarity=0.92, kind="near", story_id="s1")
    )
    detail = story_detail(desk, desk.get("s1"))
    assert [(q["text"], q["outlet_count"], q["outlets"]) for q in detail["corroborated_quotes"]] == [
        (quote[0], 2, ["Harbour Times", "Coast Daily"])
    ]
    assert [q["text"] for q in detail["single_source_quotes"]] == ["Only a delay"]
    (conflict,) = detail["conflicts"]
    assert {side["value"]: side["outlets"] for side in conflict["sides"]} == {
        "4 cranes": ["Harbour Times"],
        "nearly 4 cranes": ["Bay News"],
    }
    assert [row["position"] for row in detail["entries"]] == [4, 3, 2, 1]  # newest first, the absorbed story's too
    assert detail["entries"][0]["kind"] == "merged" and detail["entries_total"] == 4
    assert detail["merged_from"] == [{"story_id": "s2", "label": "Port Authority Board Mar 2023"}]
    assert detail["merged_into_story"] is None
    assert [(d["article_id"], d["original_title"]) for d in detail["duplicates"]] == [("x1", "Cranes down")]
    assert detail["duplicates_total"] == 1
    assert detail["articles_per_day"] == {
        "unit": "day",
        "buckets": [{"start": "2023-03-07", "outlets": {"Harbour Times": 1, "Coast Daily": 1, "Bay News": 1}}],
    }
    absorbed = story_detail(desk, desk.get("s2"))
    assert absorbed["merged_into_story"] == {"story_id": "s1", "label": detail["label"]}


def test_an_absorbed_storys_page_points_to_the_story_its_entries_went_into(newsroom):
    desk = _desk(
        newsroom.article("s1", "a1", "Harbour Times"),
        newsroom.article("s2", "b1", "Coast Daily"),
        newsroom.merge("s1", "s2"),
    )
    absorbed = story_detail(desk, desk.get("s2"))
    assert absorbed["entries"] == [] and absorbed["entries_total"] == 0
    timeline = story_page(absorbed).split('id="timeline"')[1].split("</section>")[0]
    assert "the latest 0" not in timeline and 'href="/stories/s1"' in timeline
