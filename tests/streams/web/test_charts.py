"""The charts' buckets and layout: hourly for a young story, daily, weekly or monthly as the story's span grows."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from streams.web.charts import (
    COLOURS,
    GREY,
    MAX_BARS,
    bucket_name,
    by_day,
    outlet_colours,
    over_time,
    sparkline,
    stacked_bars,
)

H0 = datetime(2023, 3, 7, 9, 0, tzinfo=UTC)


def test_a_story_within_two_days_is_counted_per_hour_with_its_quiet_hours():
    hours = {H0: 2, H0 + timedelta(hours=3): 1}
    days = {H0.date(): Counter({"Harbour Times": 3})}
    series = over_time(hours, days)
    assert series["unit"] == "hour"
    assert [b["count"] for b in series["buckets"]] == [2, 0, 0, 1]


def test_a_longer_story_is_counted_per_day_then_per_week_then_per_month():
    days = {date(2023, 3, 1): Counter({"A": 1}), date(2023, 3, 4): Counter({"A": 2, "B": 1})}
    daily = by_day(days)
    assert daily["unit"] == "day"
    assert [sum(b["outlets"].values()) for b in daily["buckets"]] == [1, 0, 0, 3]
    assert over_time({}, days)["unit"] == "day"

    weeks = by_day(
        {date(2023, 1, 2): Counter({"A": 1}), date(2023, 1, 2) + timedelta(days=MAX_BARS + 10): Counter({"A": 1})}
    )
    assert weeks["unit"] == "week" and weeks["buckets"][0]["start"] == "2023-01-02"  # a Monday
    assert len(weeks["buckets"]) <= MAX_BARS

    months = by_day({date(2021, 1, 15): Counter({"A": 1}), date(2023, 3, 9): Counter({"B": 2})})
    assert months["unit"] == "month"
    assert months["buckets"][0] == {"start": "2021-01-01", "outlets": {"A": 1}}
    assert months["buckets"][-1] == {"start": "2023-03-01", "outlets": {"B": 2}}
    assert len(months["buckets"]) == 27


def test_a_story_over_decades_or_centuries_is_counted_per_year_or_more_in_at_most_max_bars():
    decades = by_day({date(1989, 6, 4): Counter({"A": 1}), date(2024, 6, 4): Counter({"B": 3})})
    assert decades["unit"] == "year" and len(decades["buckets"]) == 36
    assert decades["buckets"][0] == {"start": "1989-01-01", "outlets": {"A": 1}}
    assert decades["buckets"][-1] == {"start": "2024-01-01", "outlets": {"B": 3}}
    assert bucket_name(decades["buckets"][0]["start"], "year") == "1989"

    century = by_day({date(1900, 1, 1): Counter({"A": 1}), date(2024, 6, 4): Counter({"B": 3})})
    assert century["unit"] == "5 years" and len(century["buckets"]) == 25
    assert bucket_name(century["buckets"][0]["start"], century["unit"]) == "1900–1904"

    assert len(by_day({date.min: Counter({"A": 1}), date.max: Counter({"B": 1})})["buckets"]) <= MAX_BARS

    first_years = by_day({date(1, 1, 1): Counter({"A": 1}), date(100, 1, 1): Counter({"B": 1})})
    names = [bucket_name(bucket["start"], first_years["unit"]) for bucket in first_years["buckets"][:3]]
    assert first_years["unit"] == "2 years" and names == ["1", "2–3", "4–5"]  # years 0 and 1: year 1 alone


def test_sparkline_bars_grow_with_their_counts_and_name_their_bucket():
    chart = sparkline(
        {"unit": "day", "buckets": [{"start": "2023-03-07", "count": 4}, {"start": "2023-03-08", "count": 1}]}
    )
    tall, short = chart["bars"]
    assert tall["h"] > short["h"] > 0
    assert tall["y"] + tall["h"] == chart["height"]
    assert short["x"] + short["w"] <= chart["width"]
    assert tall["title"] == "7 Mar 2023: 4 articles"


def test_outlets_stack_in_one_bar_per_day_and_the_legend_counts_them():
    series = {
        "unit": "day",
        "buckets": [{"start": "2023-03-07", "outlets": {"A": 2, "B": 1}}, {"start": "2023-03-08", "outlets": {"B": 3}}],
    }
    chart = stacked_bars(series, {"A": 0, "B": 1})
    first_day = [bar for bar in chart["bars"] if bar["title"].startswith("7 Mar 2023")]
    stacked = chart["axis"]["bottom"] - min(bar["y"] for bar in first_day)
    assert sum(bar["h"] for bar in first_day) == pytest.approx(stacked, abs=0.05)
    assert stacked == pytest.approx(chart["axis"]["bottom"] - chart["axis"]["top"], abs=0.05)  # 3 articles: the peak
    assert [(entry["outlet"], entry["articles"]) for entry in chart["legend"]] == [("B", 4), ("A", 2)]
    assert chart["peak"] == 3
    assert [tick["text"] for tick in chart["ticks"]] == ["7 Mar", "8 Mar"]


def test_the_most_prolific_outlets_get_colours_and_the_rest_share_grey():
    outlets = {f"outlet {i}": 100 - i for i in range(COLOURS + 2)}
    colours = outlet_colours(outlets)
    assert colours["outlet 0"] == 0 and len(colours) == COLOURS
    assert colours.get(f"outlet {COLOURS + 1}", GREY) == GREY
