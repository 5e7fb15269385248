"""A story exported as Knight Lab TimelineJS JSON: its shape, its dates, and every article string escaped."""

from __future__ import annotations

from streams.web.live import Desk
from streams.web.timeline import timeline_json
from streams.web.view import story_detail

HOSTILE = "<script>alert(1)</script>"


def _timeline(*events) -> dict:
    desk = Desk(100)
    for event in events:
        desk.apply(event)
    return timeline_json(story_detail(desk, desk.get(events[0].story_id)))


def test_a_title_slide_then_one_slide_per_entry_oldest_first(newsroom, minutes):
    timeline = _timeline(
        newsroom.article("s1", "a1", "Harbour Times", at=minutes(0), title="Cranes down", people=("Elena Vargas",)),
        newsroom.article("s1", "a2", "Coast Daily", at=minutes(61), title="Terminal to close"),
    )
    assert timeline["title"]["text"]["headline"] == "Port Authority Board Mar 2023"
    assert "2 articles from 2 outlets" in timeline["title"]["text"]["text"]
    first, second = timeline["events"]
    assert first["start_date"] == {
        "year": 2023, "month": 3, "day": 7, "hour": 9, "minute": 0, "display_date": "7 Mar 2023 09:00 UTC"
    }  # fmt: skip
    assert (second["start_date"]["hour"], second["start_date"]["minute"]) == (10, 1)
    assert [e["text"]["headline"] for e in timeline["events"]] == ["Cranes down", "Terminal to close"]
    assert [e["group"] for e in timeline["events"]] == ["Harbour Times", "Coast Daily"]
    assert [e["unique_id"] for e in timeline["events"]] == ["s1-v1", "s1-v2"]
    assert "Elena Vargas" in first["text"]["text"] and "started the story" in first["text"]["text"]
    assert all(slide["autolink"] is False for slide in [timeline["title"], *timeline["events"]])


def test_every_string_from_an_article_is_escaped_for_timelinejs_which_renders_html(newsroom):
    timeline = _timeline(
        newsroom.article(
            "s1",
            "a1",
            "<b>Wire</b>",
            title=HOSTILE,
            people=('Eve "<img src=x onerror=alert(2)>"',),
            quotes=(("<iframe src=//evil></iframe> said so", "Eve"),),
        ),
    )
    slide = timeline["events"][0]
    assert slide["text"]["headline"] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert slide["group"] == "&lt;b&gt;Wire&lt;/b&gt;"
    for markup in (slide["text"]["text"], timeline["title"]["text"]["text"]):
        assert "<script" not in markup and "<img" not in markup and "<iframe" not in markup
    assert "&lt;iframe src=//evil&gt;&lt;/iframe&gt; said so" in slide["text"]["text"]


def test_a_merge_is_a_slide_of_its_own(newsroom, minutes):
    timeline = _timeline(
        newsroom.article("s1", "a1", "Harbour Times", at=minutes(0)),
        newsroom.article("s2", "b1", "Coast Daily", at=minutes(5)),
        newsroom.merge("s1", "s2", at=minutes(9)),
    )
    assert [e["unique_id"] for e in timeline["events"]] == ["s1-v1", "s2-v1", "s1-v2"]
    merge = timeline["events"][-1]
    assert merge["group"] == "merges" and merge["start_date"]["minute"] == 9
    assert merge["text"]["headline"] == "Merged: Port Authority Board Mar 2023"
    assert "2 articles now" in merge["text"]["text"]
