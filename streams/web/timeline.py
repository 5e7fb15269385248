"""A story as Knight Lab TimelineJS data (https://timeline.knightlab.com/docs/json-format.html).

TimelineJS puts headlines, texts, groups and display dates into its page as HTML, so every string from an
article is escaped here, the slide texts are the story page's own escaped markup, and autolinking is off
(text that looks like a link stays text).
"""

from __future__ import annotations

import re

from markupsafe import escape

from streams.web.formats import count_of, format_time, parse_time
from streams.web.pages import entry_changes


def timeline_json(detail: dict) -> dict:
    """The story page's detail as a TimelineJS timeline: a title slide, then one slide per entry, oldest first."""
    return {
        "title": {"text": {"headline": str(escape(detail["label"])), "text": _summary(detail)}, "autolink": False},
        "events": [_slide(row) for row in reversed(detail["entries"])],
    }


def _date(iso: str) -> dict:
    when = parse_time(iso)
    return {
        "year": when.year,
        "month": when.month,
        "day": when.day,
        "hour": when.hour,
        "minute": when.minute,
        "display_date": f"{format_time(when)} UTC",
    }


def _slide(row: dict) -> dict:
    """One entry's slide; its id is the entry's own story and version (an absorbed story's entries keep theirs)."""
    slide = {"unique_id": re.sub(r"[^A-Za-z0-9_-]", "-", f"{row['story_id']}-v{row['version']}"), "autolink": False}
    if row["kind"] == "merged":
        absorbed = row["absorbed_label"] or row["absorbed_story_id"]
        text = (
            f"<p>The same story told twice: {escape(absorbed)} and its "
            f"{count_of(row['absorbed_version'], 'entry', 'entries')} are folded in; "
            f"{count_of(row['articles'], 'article')} now.</p>"
        )
        return {
            **slide,
            "start_date": _date(row["time"]),
            "group": "merges",
            "text": {"headline": f"Merged: {escape(absorbed)}", "text": text},
        }
    return {
        **slide,
        "start_date": _date(row["article_time"]),
        "group": str(escape(row["outlet"])),
        "text": {"headline": str(escape(row["title"] or row["outlet"])), "text": str(entry_changes(row))},
    }


def _summary(detail: dict) -> str:
    counts = f"{count_of(detail['articles'], 'article')} from {count_of(detail['outlet_count'], 'outlet')}"
    seen = f"first seen {format_time(detail['first_seen'])} UTC, last seen {format_time(detail['last_seen'])} UTC"
    parts = [f"<p>{counts}, {seen}.</p>"]
    for conflict in detail["conflicts"]:
        sides = " vs ".join(f"{escape(s['value'])} ({escape(', '.join(s['outlets']))})" for s in conflict["sides"])
        parts.append(f"<p>Outlets disagree on the {escape(conflict['about'])}: {sides}.</p>")
    return "".join(parts)
