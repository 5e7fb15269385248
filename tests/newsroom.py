"""Invented newsroom inputs for the tests: web pages wrapped in site chrome, RSS and Atom feeds, WARC archives,
and a local HTTP server that serves feeds, errors and slow answers.

All made here from the text a test gives, never downloaded. (Importable from any test: pytest puts the
directory of the root conftest.py on sys.path.)
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import Awaitable, Callable
from html import escape
from xml.sax.saxutils import escape as xml_escape

from aiohttp import web
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

# An invented story, long enough for near-duplicate detection (word shingles) to have something to compare.
STORY_TITLE = "Harbour Bridge reopens after six weeks of storm repairs"
STORY = [
    "The Harbour Bridge reopened to traffic on Tuesday morning, six weeks after a winter storm tore away part of "
    "its eastern railing and left cracks in the deck above the shipping channel.",
    "Engineers from the county roads department replaced forty metres of railing, sealed the cracks and resurfaced "
    "both lanes, at a cost the department put at 2.1 million dollars.",
    "\u201cWe are glad to have our bridge back, and we are grateful to the crews who worked through the nights,\u201d "
    "said Mayor Elena Ruiz, who crossed on foot with the first commuters shortly after seven o'clock.",
    "During the closure, drivers between the old town and the island faced detours of up to forty minutes, and "
    "the ferry service added six crossings a day to carry the extra passengers.",
    "The roads department said inspections would now take place every three months instead of once a year, and "
    "that a second phase of repairs to the western railing would start in the autumn.",
    "Shop owners on Quay Street, where trade fell by a third during the closure, said they expected customers to "
    "return within days.",
]

# Site chrome each invented page carries; none of it may reach a cleaned article's text.
CHROME = {
    "navigation": ["Front page", "Opinion columns", "Crossword puzzles", "Weather forecast"],
    "cookie banner": ["We use cookies to personalise content and ads. Accept all cookies or manage your preferences."],
    "related links": [
        "Read more: Ten things to know about the alliance summit",
        "Read more: How the pipeline dispute shaped energy prices",
    ],
    "footer": ["Privacy policy", "Terms of service", "Contact the newsroom"],
}


def web_page(
    title: str,
    paragraphs: list[str],
    *,
    site: str | None = None,
    published: str | None = None,
    author: str | None = None,
    canonical: str | None = None,
) -> str:
    """A news page: head metadata, then navigation, a cookie banner, the article, related links and a footer."""
    meta = [f'<meta property="og:title" content="{escape(title)}">']
    if site:
        meta.append(f'<meta property="og:site_name" content="{escape(site)}">')
    if published:
        meta.append(f'<meta property="article:published_time" content="{escape(published)}">')
    if author:
        meta.append(f'<meta name="author" content="{escape(author)}">')
    if canonical:
        meta.append(f'<link rel="canonical" href="{escape(canonical)}">')
    nav = "".join(f'<li><a href="/s{i}">{escape(link)}</a></li>' for i, link in enumerate(CHROME["navigation"]))
    related = "".join(f'<li><a href="/r{i}">{escape(link)}</a></li>' for i, link in enumerate(CHROME["related links"]))
    footer = " | ".join(f'<a href="/f{i}">{escape(link)}</a>' for i, link in enumerate(CHROME["footer"]))
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    byline = f'<p class="byline">By {escape(author)}</p>' if author else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)} | {escape(site or "News")}</title>
{chr(10).join(meta)}
</head>
<body>
<header><nav class="site-nav"><ul>{nav}</ul></nav></header>
<div id="cookie-consent" class="cookie-banner"><p>{escape(CHROME["cookie banner"][0])}</p><button>Accept</button></div>
<main>
<article>
<h1>{escape(title)}</h1>
{byline}
{body}
</article>
<aside class="related-stories"><h2>Related stories</h2><ul>{related}</ul></aside>
</main>
<footer><p>{footer}</p><p>&copy; 2022 {escape(site or "News")}. All rights reserved.</p></footer>
</body>
</html>
"""


def rss_feed(title: str, link: str, items: list[dict]) -> str:
    """An RSS 2.0 feed. Item keys: title, link, guid, published (RFC 822), author (dc:creator), paragraphs
    (as content:encoded), summary (as description), source (the item's <source> outlet)."""
    entries = []
    for item in items:
        parts = [f"<title>{xml_escape(item['title'])}</title>"] if item.get("title") else []
        if item.get("link"):
            parts.append(f"<link>{xml_escape(item['link'])}</link>")
        if item.get("guid"):
            parts.append(f'<guid isPermaLink="false">{xml_escape(item["guid"])}</guid>')
        if item.get("published"):
            parts.append(f"<pubDate>{item['published']}</pubDate>")
        if item.get("author"):
            parts.append(f"<dc:creator>{xml_escape(item['author'])}</dc:creator>")
        if item.get("source"):
            parts.append(f'<source url="{xml_escape(link)}/source.xml">{xml_escape(item["source"])}</source>')
        if item.get("summary"):
            parts.append(f"<description>{xml_escape(item['summary'])}</description>")
        if item.get("paragraphs"):
            html = "".join(f"<p>{escape(p)}</p>" for p in item["paragraphs"])
            parts.append(f"<content:encoded><![CDATA[{html}]]></content:encoded>")
        entries.append("<item>" + "\n".join(parts) + "</item>")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
<title>{xml_escape(title)}</title>
<link>{xml_escape(link)}</link>
<description>Invented for the tests</description>
{chr(10).join(entries)}
</channel>
</rss>
"""


def atom_feed(title: str, link: str, entries: list[dict]) -> str:
    """An Atom feed. Entry keys: title, link, id, published, updated (ISO 8601), author, paragraphs (as HTML
    content), summary."""
    parts = []
    for entry in entries:
        fields = [
            f"<title>{xml_escape(entry['title'])}</title>",
            f'<link rel="alternate" href="{xml_escape(entry["link"])}"/>',
            f"<id>{xml_escape(entry['id'])}</id>",
            f"<updated>{entry.get('updated') or entry['published']}</updated>",
        ]
        if entry.get("published"):
            fields.append(f"<published>{entry['published']}</published>")
        if entry.get("author"):
            fields.append(f"<author><name>{xml_escape(entry['author'])}</name></author>")
        if entry.get("summary"):
            fields.append(f"<summary>{xml_escape(entry['summary'])}</summary>")
        if entry.get("paragraphs"):
            html = "".join(f"<p>{escape(p)}</p>" for p in entry["paragraphs"])
            fields.append(f'<content type="html">{xml_escape(html)}</content>')
        parts.append("<entry>" + "\n".join(fields) + "</entry>")
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
<title>{xml_escape(title)}</title>
<link href="{xml_escape(link)}"/>
<id>{xml_escape(link)}</id>
<updated>2022-01-13T12:00:00Z</updated>
{chr(10).join(parts)}
</feed>
"""


def warc_archive(pages: list[tuple[str, str, str]], *, compress: bool) -> bytes:
    """A WARC as a crawler writes it: a warcinfo record, then per page (url, crawl date, html) its request and
    its response, and besides the pages an image, a redirect and a JSON response (no pages)."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=compress)
    writer.write_record(writer.create_warcinfo_record("test.warc", {"software": "storywire tests"}))

    def response(url: str, status: str, content_type: str | None, body: bytes, date: str | None = None) -> None:
        request = f"GET {url.split('/', 3)[-1]} HTTP/1.1\r\nHost: {url.split('/')[2]}\r\n\r\n".encode()
        writer.write_record(writer.create_warc_record(url, "request", payload=io.BytesIO(request)))
        headers = [("Content-Type", content_type)] if content_type else [("Location", url + "/")]
        http = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
        extra = {"WARC-Date": date} if date else None
        writer.write_record(
            writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http, warc_headers_dict=extra)
        )

    for url, crawled, html in pages:
        response(url, "200 OK", "text/html; charset=utf-8", html.encode(), crawled)
    response("https://images.example/photo.jpg", "200 OK", "image/jpeg", b"\xff\xd8\xff\xe0" + bytes(200))
    response("https://ledger.example/old-path", "301 Moved Permanently", None, b"")
    response("https://ledger.example/api/weather", "200 OK", "application/json", b'{"forecast": "rain"}')
    return buffer.getvalue()


class FeedServer:
    """An HTTP server on 127.0.0.1 for follow tests: each path answers with the handler a test sets, and every
    request is recorded with its conditional headers. Use `async with FeedServer() as server`."""

    def __init__(self) -> None:
        self.handlers: dict[str, Callable[[web.Request], Awaitable[web.StreamResponse]]] = {}
        self.requests: list[tuple[str, str | None, str | None]] = []  # path, If-None-Match, If-Modified-Since
        self.closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base = ""

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> int:
        return sum(1 for p, *_ in self.requests if p == path)

    def serve_feed(self, path: str, feed: str, etag: str | None = None, last_modified: str | None = None) -> None:
        """Serve a feed as a well-behaved server does: 304 to a request whose validators match."""

        async def handler(request: web.Request) -> web.StreamResponse:
            if (etag and request.headers.get("If-None-Match") == etag) or (
                not etag and last_modified and request.headers.get("If-Modified-Since") == last_modified
            ):
                return web.Response(status=304)
            headers = {k: v for k, v in (("ETag", etag), ("Last-Modified", last_modified)) if v}
            return web.Response(body=feed.encode(), content_type="application/rss+xml", headers=headers)

        self.handlers[path] = handler

    async def hold(self, seconds: float) -> None:
        """A slow answer: wait (until the server closes, at the latest)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), seconds)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.path, request.headers.get("If-None-Match"), request.headers.get("If-Modified-Since")))
        handler = self.handlers.get(request.path)
        return await handler(request) if handler else web.Response(status=404)

    async def __aenter__(self) -> FeedServer:
        app = web.Application()
        app.router.add_route("GET", "/{path:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.base = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc_info) -> None:
        self.closing.set()
        await self._runner.cleanup()
