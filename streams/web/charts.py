"""The inline SVG charts: a story's articles over time, and its articles per day by outlet.

Counts go into at most MAX_BARS buckets: per hour while all of a story's articles fall within two days,
else per day, week, month, year or several years, the narrowest that fits the story's span, with the
empty ones in between kept (a quiet week shows as one). Everything here is numbers and plain-text
labels; the templates draw the SVG and escape every label.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta

from streams.web.formats import count_of, format_day, format_time, parse_time

MAX_BARS = 60
COLOURS = 8  # outlets with a colour of their own (the most prolific); the rest share a grey
GREY = COLOURS
HOURLY_SPAN = timedelta(hours=48)


Unit = tuple[str, Callable[[date], int], Callable[[int], date]]  # name, a day's bucket number, a bucket's first day


def _years(n: int) -> Unit:
    """Buckets of n years from a year n divides (year 0 is no date: that bucket starts in year 1)."""
    return "year" if n == 1 else f"{n} years", lambda day: day.year // n, lambda i: date(max(1, i * n), 1, 1)


UNITS: tuple[Unit, ...] = (  # narrowest first
    ("day", date.toordinal, date.fromordinal),
    ("week", lambda day: (day.toordinal() - 1) // 7, lambda i: date.fromordinal(i * 7 + 1)),  # day 1 was a Monday
    ("month", lambda day: day.year * 12 + day.month - 1, lambda i: date(i // 12, i % 12 + 1, 1)),
    *(_years(n) for n in (1, 2, 5, 10, 20, 50, 100, 200)),  # 200 years fit any two dates (years 1-9999) in 50
)


def by_day(days: dict[date, Counter]) -> dict:
    """Articles per day (or week, month, year or years) by outlet: {"unit", "buckets": [{"start", "outlets"}]}."""
    if not days:
        return {"unit": "day", "buckets": []}
    first, last = min(days), max(days)
    unit, number, start = next(
        (name, number, start) for name, number, start in UNITS if number(last) - number(first) < MAX_BARS
    )
    grouped: dict[int, Counter] = {}
    for day, outlets in days.items():
        grouped.setdefault(number(day), Counter()).update(outlets)
    buckets = [
        {"start": start(i).isoformat(), "outlets": dict(grouped.get(i, {}))}
        for i in range(number(first), number(last) + 1)
    ]
    return {"unit": unit, "buckets": buckets}


def over_time(hours: dict[datetime, int], days: dict[date, Counter]) -> dict:
    """Articles over time: {"unit", "buckets": [{"start", "count"}]}, hourly for a story of two days or less."""
    total = sum(sum(outlets.values()) for outlets in days.values())
    if hours and sum(hours.values()) == total and max(hours) - min(hours) < HOURLY_SPAN:
        first, steps = min(hours), int((max(hours) - min(hours)) / timedelta(hours=1)) + 1
        starts = [first + timedelta(hours=i) for i in range(steps)]
        return {"unit": "hour", "buckets": [{"start": s.isoformat(), "count": hours.get(s, 0)} for s in starts]}
    daily = by_day(days)
    buckets = [{"start": b["start"], "count": sum(b["outlets"].values())} for b in daily["buckets"]]
    return {"unit": daily["unit"], "buckets": buckets}


def bucket_name(start: str, unit: str) -> str:
    """How a bucket is named in a tooltip: '12 Jan 2022 13:00', '12 Jan 2022', 'week of 10 Jan 2022', 'Jan 2022',
    '2022', '2020–2024'."""
    if unit == "hour":
        return format_time(start)
    if unit == "week":
        return "week of " + format_day(start)
    if unit == "month":
        return f"{parse_time(start):%b %Y}"
    if unit == "year":
        return str(parse_time(start).year)
    if unit.endswith(" years"):  # the bucket of years a multiple of n opens; the first one starts in year 1
        year, n = parse_time(start).year, int(unit.removesuffix(" years"))
        last = year - year % n + n - 1
        return f"{year}–{last}" if last > year else str(year)
    return format_day(start)


def tick_name(start: str, unit: str) -> str:
    """How a bucket is named under the axis, short: '13:00', '12 Jan', 'Jan 22', '2022'."""
    when = parse_time(start)
    if unit == "hour":
        return f"{when:%H:%M}"
    if unit == "month":
        return f"{when:%b %y}"
    if unit.endswith(("year", "years")):
        return str(when.year)
    return f"{when.day} {when:%b}"


def sparkline(series: dict, width: int = 150, height: int = 34) -> dict:
    """Bars for a story's row: the latest bucket at the right edge, each bar with its tooltip."""
    buckets = series["buckets"]
    slot = width / max(len(buckets), 16)
    peak = max((b["count"] for b in buckets), default=0) or 1
    offset = width - slot * len(buckets)
    bars = []
    for i, bucket in enumerate(buckets):
        h = max(2.0, bucket["count"] / peak * (height - 2)) if bucket["count"] else 0.0
        bars.append(
            {
                "x": round(offset + i * slot + slot * 0.1, 2),
                "y": round(height - h, 2),
                "w": round(max(1.0, slot * 0.8), 2),
                "h": round(h, 2),
                "title": f"{bucket_name(bucket['start'], series['unit'])}: {count_of(bucket['count'], 'article')}",
            }
        )
    return {"width": width, "height": height, "bars": bars}


def outlet_colours(outlets: dict[str, int]) -> dict[str, int]:
    """Outlet -> colour number: the COLOURS outlets with the most articles each get one; others are GREY."""
    ranked = sorted(outlets.items(), key=lambda kv: -kv[1])
    return {outlet: i for i, (outlet, _) in enumerate(ranked[:COLOURS])}


def stacked_bars(series: dict, colours: dict[str, int], width: int = 350, height: int = 170) -> dict:
    """Articles per bucket stacked by outlet, with axis labels and a legend (outlets by articles)."""
    left, right, bottom, top = 30, 14, 22, 8
    plot_w, plot_h = width - left - right, height - bottom - top
    buckets = series["buckets"]
    slot = plot_w / max(len(buckets), 10)
    peak = max((sum(b["outlets"].values()) for b in buckets), default=0) or 1
    bars, totals = [], Counter()
    for i, bucket in enumerate(buckets):
        x, base = left + i * slot + slot * 0.12, top + plot_h
        name = bucket_name(bucket["start"], series["unit"])
        for outlet, n in sorted(bucket["outlets"].items(), key=lambda kv: (colours.get(kv[0], GREY), kv[0])):
            totals[outlet] += n
            h = n / peak * plot_h
            base -= h
            bars.append(
                {
                    "x": round(x, 2),
                    "y": round(base, 2),
                    "w": round(max(1.0, slot * 0.76), 2),
                    "h": round(h, 2),
                    "colour": colours.get(outlet, GREY),
                    "title": f"{name}: {outlet}, {count_of(n, 'article')}",
                }
            )
    every = max(1, -(-len(buckets) // 4))  # at most about four date labels
    ticks = [
        {"x": round(left + i * slot + slot / 2, 2), "text": tick_name(b["start"], series["unit"])}
        for i, b in enumerate(buckets)
        if i % every == 0 or i == len(buckets) - 1 and i % every > every // 2
    ]
    legend = [
        {"outlet": outlet, "articles": n, "colour": colours.get(outlet, GREY)}
        for outlet, n in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "ticks": ticks,
        "tick_y": height - 6,
        "peak": peak,
        "axis": {"left": left, "top": top, "bottom": top + plot_h, "right": width - right},
        "legend": legend,
    }
