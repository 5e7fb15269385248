"""RSS 2.0, RSS 1.0 and Atom feeds, by feedparser: one raw article per item.

What is taken from where:
- text: the item's full content (`content:encoded`, Atom `content`) where the feed carries it, else its
  summary (`description`, Atom `summary`); HTML becomes paragraphs;
- title, url (the item's link; a relative one made absolute against the feed's URL, else its own link),
  author (`author`, `dc:creator`, Atom `author/name`);
- published_at: the item's publication date (`pubDate`, `dc:date`, Atom `published`), else its update date;
- id: from the GUID (Atom `id`), else the link: the same item read again, from a file or over HTTP, gets the
  same id (and the worker reports it as a redelivery); the GUID is kept as the `guid` field;
- source: the item's own `<source>` (aggregator feeds name each item's outlet), else the feed's title
  without its section ("Ledger - World" -> "Ledger").
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from urllib.parse import urljoin

import feedparser
import lxml.etree
import lxml.html

from streams.pipeline.clean.html import html_to_text
from streams.sources.reading import PAGE, Skipped, Unreadable, sniffed_format, with_id

# Problems feedparser reports that do not affect what is read: a declared encoding that was wrong, a feed
# served with an HTML content type.
_HARMLESS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
_SECTION_SEPARATOR = re.compile(r"\s+[-–—|>:]\s+")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
# Feeds are read into memory whole, from a file or over HTTP; real feeds are far smaller.
MAX_FEED_BYTES = 20_000_000


def feed_articles(
    data: bytes, where: str, content_type: str | None = None, base_url: str | None = None
) -> Iterator[dict | Skipped]:
    """Each item of the feed as a raw article with an id; raises Unreadable when nothing in it is a feed.

    `content_type` and `base_url` are the HTTP answer's, when the feed was fetched: they help decoding and
    make relative links absolute. A feed broken part way yields the items read before the break and a
    `Skipped` saying what was lost.
    """
    headers = {name: value for name, value in (("content-type", content_type), ("content-location", base_url)) if value}
    # Bytes, never a str: feedparser fetches a str that looks like a URL.
    parsed = feedparser.parse(bytes(data), response_headers=headers or None)
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(problem, _HARMLESS):
        problem = None
    if not parsed.entries:
        if not parsed.get("version") and sniffed_format(bytes(data[:4096])) == PAGE:
            raise Unreadable(_not_a_feed_but_a_page(bytes(data), base_url))
        if problem is not None:
            raise Unreadable(f"malformed feed: {_describe(problem)}")
        if not parsed.get("version"):  # an empty body has no version at all
            raise Unreadable("not an RSS or Atom feed (no <rss>, <feed> or <rdf:RDF> element)")
        return
    if problem is not None:
        yield Skipped(where, f"malformed feed: {_describe(problem)}; {len(parsed.entries)} items read up to there")
    site, home = _site_of(parsed.feed.get("title")), parsed.feed.get("link")
    for number, entry in enumerate(parsed.entries, start=1):
        article = _item_article(entry, site, home)
        if article is None:
            yield Skipped(f"{where} item {number}", "no title, no text and no summary")
        else:
            yield article


def _not_a_feed_but_a_page(data: bytes, base_url: str | None) -> str:
    """What to say of a web page given as a feed: the feeds it names (`<link rel="alternate">`), if any."""
    try:
        head = lxml.html.document_fromstring(data).find("head")
    except (lxml.etree.ParserError, ValueError):
        head = None
    links = [] if head is None else head.xpath('link[contains(@rel, "alternate")][contains(@type, "rss") or contains(@type, "atom")]/@href')
    named = list(dict.fromkeys(urljoin(base_url or "", link.strip()) for link in links if link.strip()))
    if named:
        return f"a web page, not a feed; it names {'this feed' if len(named) == 1 else 'these feeds'}: {' '.join(named)}"
    return "a web page, not a feed (it names none in a <link rel=\"alternate\">): give the URL of the site's RSS or Atom feed"


def _item_article(entry: feedparser.FeedParserDict, site: str | None, home: str | None) -> dict | None:
    """One feed item as raw-article fields with an id, or None when it has neither title nor text.

    `site` is the feed's outlet, `home` its link (which scopes GUIDs that are not globally unique and makes
    relative links absolute).
    """
    title = _plain(entry.get("title_detail"), entry.get("title"))
    text = _item_text(entry)
    if not title and not text:
        return None
    guid = entry.get("id") or None
    link = _absolute(entry.get("link"), home)
    author = (entry.get("author_detail") or {}).get("name") or entry.get("author")
    source = (entry.get("source") or {}).get("title") or site
    fields = {
        "id": _item_id(guid or link, home),
        "title": title,
        "text": text,
        "source": source,
        "url": link,
        "published_at": _date(entry, "published") or _date(entry, "updated"),
        "author": author,
        "guid": guid,
    }
    return with_id({name: value for name, value in fields.items() if value})


def _absolute(link: str | None, home: str | None) -> str | None:
    """A link made absolute against the feed's own link: feedparser resolves links against the URL a feed was
    fetched from, and a feed read from a file has none. A link from the site's root ("/news/a", the usual
    kind) then gets the url (and so the id) it gets when the feed is fetched from its own host; a link
    relative to the feed's folder may not, as the feed's link is not its URL."""
    if not link or not home:
        return link
    try:
        return urljoin(home, link)
    except ValueError:  # a malformed URL ("http://[x"): kept as the feed wrote it
        return link


def _item_text(entry: feedparser.FeedParserDict) -> str | None:
    """The full content where the feed carries it (the longest, if several), else the summary."""
    contents = [c for c in entry.get("content") or [] if c.get("value")]
    if contents:
        best = max(contents, key=lambda c: len(c["value"]))
        return _plain(best, best["value"])
    return _plain(entry.get("summary_detail"), entry.get("summary"))


def _plain(detail: dict | None, value: str | None) -> str | None:
    """A feed text construct as plain text: HTML becomes paragraphs, plain text stays as it is."""
    if not value or not value.strip():
        return None
    if detail and detail.get("type") in _HTML_TYPES:
        value = html_to_text(value).text
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", value)]
    return "\n\n".join(p for p in paragraphs if p) or None


def _item_id(guid: str | None, home: str | None) -> str | None:
    """A stable id from the item's GUID (or link); None leaves the id to its content.

    A GUID that is a URL, URN or tag is unique on its own, so the same item in two feeds gets one id;
    a bare one ("1234") is unique only within its feed, so the feed's link is part of the id.
    """
    if not guid or not guid.strip():
        return None
    key = guid.strip() if ":" in guid else f"{home or ''}\x1f{guid.strip()}"
    return "g-" + hashlib.blake2b(key.encode(), digest_size=10).hexdigest()


def _date(entry: feedparser.FeedParserDict, name: str) -> str | None:
    """The item's date as ISO 8601 in UTC where feedparser could read it, else as the feed wrote it."""
    parsed = entry.get(f"{name}_parsed")
    if parsed:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", parsed)
    return entry.get(name) or None


def _site_of(feed_title: str | None) -> str | None:
    """The outlet a feed's title names: its first part, before a section ("Ledger - World")."""
    if not feed_title or not feed_title.strip():
        return None
    return _SECTION_SEPARATOR.split(feed_title.strip())[0]


def _describe(problem: Exception) -> str:
    """An XML error as "unclosed token at line 14", anything else as its message."""
    if hasattr(problem, "getLineNumber"):
        return f"{problem.getMessage()} at line {problem.getLineNumber()}"
    return str(problem) or problem.__class__.__name__
