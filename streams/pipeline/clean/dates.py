"""Dates: a feed's or a page's publication date, date lines, and the days the reporting names or implies
(full dates, year-less dates, weekdays resolved against the publication date).
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from email.utils import parsedate_to_datetime

from streams.pipeline.clean.paragraphs import Block
from streams.pipeline.english import word_starts

# A weekday mention is resolved only against a publication date at most this far from the text's dates.
_FRESH_DAYS = 7
# A year-less date up to this many days after the reference is an upcoming event, not last year's.
_UPCOMING_DAYS = 7

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_MONTHS["sept"] = 9
_MONTH_WORDS = sorted(_MONTHS, key=len, reverse=True)
_M = "(?:" + "|".join([w.capitalize() for w in _MONTH_WORDS] + [w.upper() for w in _MONTH_WORDS]) + ")"
_Y = r"(?:19|20)\d\d"
_PUBLISHED_YEARS = range(1900, 2100)  # the years of _Y: a date is read in them, in a text or a feed
_DATE = re.compile(
    rf"\b(?P<m1>{_M})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y1>{_Y})\b)?"
    rf"|\b(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+(?P<m2>{_M})\b\.?(?:,?\s+(?P<y2>{_Y})\b)?"
    rf"|\b(?P<y3>{_Y})-(?P<m3>\d\d)-(?P<d3>\d\d)\b"
)
_WEEKDAYS = [d for d in calendar.day_name]
_WD_ABBR = r"(?:Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun)"
_WEEKDAY = re.compile(
    r"\b(?:(?P<pre>[Ll]ast|[Nn]ext|[Tt]his|[Cc]oming)\s+)?(?P<wd>" + "|".join(_WEEKDAYS) + r")(?:['’]s)?\b"
)
_WEEKDAY_NAMES = tuple(_WEEKDAYS)
_WEEKDAY_INITIALS = "".join(sorted({name[0] for name in _WEEKDAYS}))
# Where a date can start: a word opening with a digit or a month's initial (`word_starts`), and unless a digit, with
# the first three letters of a month as _M writes it ("Jan", "JAN", "May"): most such words are names ("Minister").
_MONTH_INITIALS = "".join(sorted({word[0].upper() for word in _MONTH_WORDS}))
_MONTH_OPENINGS = frozenset(form[:3] for word in _MONTH_WORDS for form in (word.capitalize(), word.upper()))
_NOT_A_DAY = re.compile(r"(?:Ash|Good|Black|Cyber|Super|Bloody|Holy|Maundy|Giving|Easter|Palm|Shrove|Fat|Spy)\s+$")
_DATE_PREFIX = re.compile(
    r"^(?:(?P<kind>posted|published|first published|updated|last updated|last modified|date|dated|released|created)\b"
    r"(?:\s+by\s+[\w .'’-]{1,40}?(?:\s+(?:on|at)\b|\s*[|·•,–—-]))?(?:\s+(?:on|at)\b)?\s*:?\s*"
    r"|by\s+[\w .'’-]{1,40}?(?:\s+(?:on|at)\b|\s*[|·•,–—-])\s*)",
    re.I,
)
_WEEKDAY_PREFIX = re.compile(r"^(?:" + "|".join(_WEEKDAYS) + "|" + _WD_ABBR + r")\.?,?\s+", re.I)
_TIME = re.compile(
    r"^\s*(?:,|at|@|-|–|\||T)?\s*(?P<h>\d{1,2})(?:[:.h](?P<mi>\d\d)(?::(?P<s>\d\d))?)?\s*(?P<ap>[ap]\.?\s?m\.?)?",
    re.I,
)
_ZONE = re.compile(
    r"^\s*\(?(?:UTC|GMT|Z|[ECMP][SD]T|BST|CES?T|EES?T|IST|JST|AES?T)\)?(?:\s*[+-]\s*\d{1,2}(?::?\d\d)?)?", re.I
)
_LINE_REST = re.compile(r"^\s*(?:[|·•,–—-]\s*)?(?:by\s+[^.!?]{1,60})?\s*$", re.I)
_RELATIVE_LINE = re.compile(
    r"^(?:(?:posted|published|updated)\s*:?\s*)?\d+\s+(?:seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?)\s+ago$", re.I
)


@dataclass(frozen=True)
class DateMention:
    """A date named in the text: full, or month and day only (year to be inferred)."""

    pos: int
    month: int
    day: int
    year: int | None


def date_mentions(text: str) -> list[DateMention]:
    """Every calendar date named in `text` ("January 12", "12 January 2022", "2022-01-12"), in order."""
    found = []
    for m in _date_matches(text):
        month_word = m.group("m1") or m.group("m2")
        month = _MONTHS[month_word.lower()] if month_word else int(m.group("m3"))
        day = int(m.group("d1") or m.group("d2") or m.group("d3"))
        year_text = m.group("y1") or m.group("y2") or m.group("y3")
        year = int(year_text) if year_text else None
        if 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year or 2000, month)[1]:
            found.append(DateMention(m.start(), month, day, year))
    return found


def _date_matches(text: str) -> Iterator[re.Match[str]]:
    """`_DATE.finditer(text)`, with the pattern tried only where a date can start (a word starting with a
    digit or a month's initial): the same matches, without entering the regex engine at every position."""
    pos = 0
    for start in word_starts(text, _MONTH_INITIALS, True):
        if start < pos or not (text[start].isdecimal() or text[start : start + 3] in _MONTH_OPENINGS):
            continue
        if m := _DATE.match(text, start):
            yield m
            pos = m.end()


def _weekday_matches(text: str) -> Iterator[re.Match[str]]:
    """`_WEEKDAY.finditer(text)`, with the pattern tried only at each weekday name that opens a word (its \\b
    allows no other), or at the "last"/"next"/"this"/"coming" before it: the same matches, found much faster."""
    pos = 0
    for day in word_starts(text, _WEEKDAY_INITIALS, False):
        if day < pos or not text.startswith(_WEEKDAY_NAMES, day):
            continue
        gap = day
        while gap > pos and text[gap - 1].isspace():
            gap -= 1
        starts = (gap - len("coming"), gap - len("last"), day) if gap < day else (day,)
        for start in starts:
            if start >= pos and (m := _WEEKDAY.match(text, start)) and m.start("wd") == day:
                yield m
                pos = m.end()
                break


def parse_date_line(text: str) -> tuple[str, datetime | None] | None:
    """(kind, datetime) when the whole of `text` is a date line ("Posted on January 13 2022, 01:03am",
    "Thu, 07 Jul 2022"); kind is the prefix word ("posted", "updated", ...) or "bare"."""
    s = text.strip(" •·|-–—()[]")
    if _RELATIVE_LINE.match(s):
        return ("relative", None)
    kind = "bare"
    if m := _DATE_PREFIX.match(s):
        kind, s = (m.group("kind") or "posted").lower(), s[m.end() :]
    if m := _WEEKDAY_PREFIX.match(s):
        s = s[m.end() :]
    m = _DATE.match(s)
    if not m or not (m.group("y1") or m.group("y2") or m.group("y3")):
        return None
    mention = date_mentions(s[: m.end()])
    if not mention:
        return None
    rest = s[m.end() :]
    clock = None
    if (t := _TIME.match(rest)) and (t.group("mi") or t.group("ap")):
        clock, rest = _clock(t), rest[t.end() :]
    if z := _ZONE.match(rest):
        rest = rest[z.end() :]
    if not _LINE_REST.match(rest):
        return None
    d = mention[0]
    return kind, datetime.combine(date(d.year, d.month, d.day), clock or time(0), tzinfo=timezone.utc)


def _clock(t: re.Match[str]) -> time | None:
    hour, minute, second = int(t.group("h")), int(t.group("mi") or 0), int(t.group("s") or 0)
    ap = (t.group("ap") or "").lower()
    if ap.startswith("p") and hour < 12:
        hour += 12
    elif ap.startswith("a") and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 59:
        return None
    return time(hour, minute, second)


def parse_datetime_text(value: str | None) -> datetime | None:
    """A feed's date: ISO 8601, RFC 2822, or free text like "January 13, 2022 1:03am"; UTC when no zone is given.

    A year outside _PUBLISHED_YEARS is no date: it is a placeholder (0001-01-01) or a typo, and near datetime's
    limits a time zone or a weekday resolved against it would overflow."""
    if not value or not value.strip():
        return None
    s = " ".join(value.split())
    for parse in (_parse_iso, _parse_rfc2822, _parse_free):
        found = parse(s)
        if found is not None:
            if found.year not in _PUBLISHED_YEARS:
                return None
            return found if found.tzinfo else found.replace(tzinfo=timezone.utc)
    return None


def _parse_iso(s: str) -> datetime | None:
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00") if s.endswith("Z") else s)
    except ValueError:
        return None


def _parse_rfc2822(s: str) -> datetime | None:
    try:
        return parsedate_to_datetime(s)
    except (TypeError, ValueError, IndexError):
        return None


def _parse_free(s: str) -> datetime | None:
    found = parse_date_line(s)
    if found and found[1]:
        return found[1]
    mentions = [d for d in date_mentions(s) if d.year]
    if mentions:
        d = mentions[0]
        return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
    return None


def published_from_text(blocks: list[Block]) -> datetime | None:
    """The publication date a page prints: a "Posted/Published on" line anywhere, else a bare date line on top.

    Copyright years are not dates of anything; "Updated" lines are used only when nothing else is there.
    """
    lines = [(i, b.notes["date_line"]) for i, b in enumerate(blocks) if "date_line" in b.notes]
    lines = [(i, kind, when) for i, (kind, when) in lines if when is not None]
    first_kept = next((i for i, b in enumerate(blocks) if b.reason is None), len(blocks))
    for wanted in (("posted", "published", "first published", "released", "date", "dated", "created"), ("bare",)):
        for i, kind, when in lines:
            if kind in wanted and (kind != "bare" or i < first_kept):
                return when
    for i, kind, when in lines:
        if kind in ("updated", "last updated", "last modified"):
            return when
    return None


def days_in_reporting(paragraphs: list[str], published: date | None) -> tuple[list[date], list[str]]:
    """Every date the reporting names or implies, and the weekdays it names for past or present events;
    each most cited first (ties: the one named first). One pass over the text finds both.

    Year-less dates take the year that puts them closest before the reference date
    (the publication date, else the latest full date in the text). Weekdays resolve
    to the latest such day on or before the publication date, only when the
    publication date is known and close to the text's own dates (a republished
    article's crawl date months later would send them to the wrong week).
    """
    text = "\n\n".join(paragraphs)
    mentions = date_mentions(text)
    weekdays = _weekday_mentions(text, [m.pos for m in mentions])
    full = [date(m.year, m.month, m.day) for m in mentions if m.year]
    reference = published or (max(full) if full else None)
    cited: list[tuple[int, date]] = []
    for m in mentions:
        resolved = date(m.year, m.month, m.day) if m.year else _infer_year(m.month, m.day, reference)
        if resolved:
            cited.append((m.pos, resolved))
    explicit = [d for _, d in cited]
    if published and (not explicit or any(abs((d - published).days) <= _FRESH_DAYS for d in explicit)):
        cited.extend(_weekday_dates(weekdays, published))
    return _most_cited(cited), _weekdays_named(weekdays)


def _infer_year(month: int, day: int, reference: date | None) -> date | None:
    if reference is None:
        return None
    for year in (reference.year + 1, reference.year, reference.year - 1, reference.year - 2, reference.year - 4):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate <= reference + timedelta(days=_UPCOMING_DAYS):
            return candidate
    return None


def _weekdays_named(mentions: list[re.Match]) -> list[str]:
    """The weekdays of `mentions`, most mentioned first (ties: the one named first)."""
    counts = Counter(m.group("wd") for m in mentions)
    first = {}
    for m in mentions:
        first.setdefault(m.group("wd"), m.start())
    return sorted(counts, key=lambda day: (-counts[day], first[day]))


def _weekday_mentions(text: str, date_positions: list[int]) -> list[re.Match]:
    """Weekday mentions that name a day of the reported week: not holidays, not "next X", not part of a date."""
    out = []
    for m in _weekday_matches(text):
        if _NOT_A_DAY.search(text[max(0, m.start() - 10) : m.start()]):
            continue
        if any(0 <= p - m.end() <= 3 for p in date_positions):  # "Wednesday, January 12": the date counts
            continue
        if (m.group("pre") or "").lower() in ("next", "coming"):
            continue
        out.append(m)
    return out


def _weekday_dates(mentions: list[re.Match], published: date) -> list[tuple[int, date]]:
    """Weekday mentions (of `_weekday_mentions`) resolved against the publication date."""
    out = []
    for m in mentions:
        pre = (m.group("pre") or "").lower()
        back = (published.weekday() - _WEEKDAYS.index(m.group("wd"))) % 7
        if pre == "last" and back == 0:
            back = 7
        out.append((m.start(), published - timedelta(days=back)))
    return out


def _most_cited(cited: list[tuple[int, date]]) -> list[date]:
    counts = Counter(d for _, d in cited)
    first: dict[date, int] = {}
    for pos, d in sorted(cited, key=lambda c: c[0]):
        first.setdefault(d, pos)
    return sorted(counts, key=lambda d: (-counts[d], first[d]))
