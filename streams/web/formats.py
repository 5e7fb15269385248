"""How times, days and counts read on the pages and in exports: one style everywhere, times in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime


def parse_time(value: str | datetime) -> datetime:
    """A time from the view (ISO text) or the fold (a datetime), as an aware UTC datetime."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def format_time(value: str | datetime | None) -> str:
    """'12 Jan 2022 13:05' (UTC)."""
    if not value:
        return ""
    when = parse_time(value)
    return f"{when.day} {when:%b %Y %H:%M}"


def format_day(value: str | date | datetime | None) -> str:
    """'12 Jan 2022'."""
    if not value:
        return ""
    day = value if isinstance(value, date) else date.fromisoformat(value[:10])
    return f"{day.day} {day:%b %Y}"


def count_of(n: int, thing: str, things: str | None = None) -> str:
    """'1 article', '5 articles', '1,204 articles'."""
    return f"{n:,} {thing if n == 1 else things or thing + 's'}"
