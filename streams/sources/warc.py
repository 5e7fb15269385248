"""Web archives (WARC, WARC.gz), by warcio: each HTML response record is a web page (see `html`).

What is taken from where: the page's text and metadata as for any page; its URL is the page's canonical URL,
else the record's target URI (`WARC-Target-URI`); the record's date (`WARC-Date`, when it was crawled) is
kept as `crawled_at`, not as the publication date. Every other record (warcinfo, requests, metadata,
revisits, redirects, images and other non-HTML responses) is passed over and counted by kind. A record cut
short (a truncated archive) is skipped with the reason; the records before it are read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from streams.sources.html import MAX_PAGE_BYTES, page_article
from streams.sources.reading import PassedOver, Skipped, Unreadable, with_id

_PAGE_TYPES = ("text/html", "application/xhtml+xml")


def warc_articles(path: Path) -> Iterator[dict | Skipped | PassedOver]:
    """The pages of one WARC file as raw articles with ids; other records passed over by kind."""
    number = 0
    with path.open("rb") as stream:
        archive = ArchiveIterator(stream)
        records = iter(archive)
        while True:
            number += 1
            try:
                record = next(records, None)
                if record is None:
                    break
                read = _record_article(record, f"{path} record {number}")
            except Exception as error:  # noqa: BLE001 - warcio fails in many ways on a damaged archive
                done = f"the {number - 1} records before it were read" if number > 1 else "no record could be read"
                yield Skipped(str(path), f"unreadable WARC at record {number} ({error or type(error).__name__}); {done}")
                return
            yield read
        # warcio ends quietly at a compressed record cut short: whatever is left after the last record is one
        left = path.stat().st_size - archive.offset
        if left > 0:
            yield Skipped(str(path), f"truncated WARC: its last {left:,} bytes hold no complete record")


def _record_article(record: ArcWarcRecord, where: str) -> dict | Skipped | PassedOver:
    if not record.rec_type:
        return Skipped(where, "record without a WARC-Type: not a WARC record")
    kind = _not_a_page(record)
    if kind:
        return PassedOver(kind)
    target = record.rec_headers.get_header("WARC-Target-URI")
    where = f"{where} ({target})" if target else where
    payload = record.content_stream().read(MAX_PAGE_BYTES + 1)
    if len(payload) > MAX_PAGE_BYTES:
        return Skipped(where, f"page larger than the {MAX_PAGE_BYTES:,} bytes read")
    if record.raw_stream.limit:  # bytes the record's Content-Length promised and the file did not hold
        return Skipped(where, f"record cut short: {record.raw_stream.limit:,} of its bytes missing (a truncated WARC)")
    try:
        article = page_article(payload, url=target)
    except Unreadable as error:
        return Skipped(where, str(error))
    crawled = record.rec_headers.get_header("WARC-Date")
    return with_id({**article, "crawled_at": crawled} if crawled else article)


def _not_a_page(record: ArcWarcRecord) -> str | None:
    """Why the record is no web page ("request record", "HTTP 301", "image/jpeg"), or None for a page."""
    if record.rec_type not in ("response", "resource"):
        return f"{record.rec_type} record"
    if record.http_headers is not None and record.rec_type == "response":
        status = record.http_headers.get_statuscode()
        if not status.startswith("2"):
            return f"HTTP {status} response"
        content_type = record.http_headers.get_header("Content-Type")
    else:
        content_type = record.rec_headers.get_header("Content-Type")
    media_type = (content_type or "").split(";")[0].strip().lower()
    return None if media_type in _PAGE_TYPES else f"{media_type or 'untyped'} {record.rec_type}"
