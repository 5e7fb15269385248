"""Web archives (WARC, WARC.gz), by warcio: each HTML response record is a web page (see `html`).

What is taken from where: the page's text and metadata as for any page; its URL is the page's canonical URL,
else the record's target URI (`WARC-Target-URI`); the record's date (`WARC-Date`, when it was crawled) is
kept as `crawled_at`, not as the publication date. Every other record (warcinfo, requests, metadata,
revisits, redirects, images and other non-HTML responses) is passed over and counted by kind. A record cut
short (a truncated archive, even one that is no page) is skipped with the reason; the records before it are
read. So is a record of a type WARC does not define: a header cut or garbled ("WARC-Type: respon") may have
been a page.
"""

from __future__ import annotations

import io
from collections.abc import Generator, Iterator
from functools import partial
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from streams.sources.html import MAX_PAGE_BYTES, page_article
from streams.sources.reading import PassedOver, Skipped, Unreadable, gunzip, with_id

_PAGE_TYPES = ("text/html", "application/xhtml+xml")
_WHOLE_FILE_GZIP = "non-chunked gzip file detected"  # warcio's words for a WARC gzipped as one file
_ARTICLE_RECORD_TYPES = ("response", "resource")
# The other record types WARC 1.1 defines (and warcio's name for an ARC file's header): no page by nature.
_OTHER_RECORD_TYPES = ("warcinfo", "request", "metadata", "revisit", "conversion", "continuation", "arc_header")


def warc_articles(path: Path) -> Iterator[dict | Skipped | PassedOver]:
    """The pages of one WARC file as raw articles with ids; other records passed over by kind.

    A WARC gzipped as one whole file (`gzip archive.warc`), not record by record as crawlers write it, is read
    through Python's gzip: warcio refuses it ("non-chunked gzip file detected")."""
    with path.open("rb") as stream:
        read = yield from _archive_articles(path, stream, stream_size=path.stat().st_size)
    if read is not None:
        with path.open("rb") as compressed:
            stream = _Gunzipped(compressed)
            yield from _archive_articles(path, stream, already_read=read)
        if stream.cut_short:
            yield Skipped(str(path), "truncated WARC: the gzip file ends early; the records before the cut were read")


def _archive_articles(
    path: Path, stream: BinaryIO, stream_size: int | None = None, already_read: int = 0
) -> Generator[dict | Skipped | PassedOver, None, int | None]:
    """The records of a WARC stream after the first `already_read`; returns how many records were read when the
    stream is one gzip of the whole file (to be read again through gzip), else None. `stream_size`: the bytes the
    stream holds, to tell what follows the last record; unknown, the rest of the stream is read to count it."""
    number = 0
    archive = ArchiveIterator(stream)
    records = iter(archive)
    while True:
        number += 1
        try:
            record = next(records, None)
            if record is None:
                break
            if number <= already_read:
                continue
            read = _record_article(record, f"{path} record {number}")
        except Exception as error:  # noqa: BLE001 - warcio fails in many ways on a damaged archive
            if _WHOLE_FILE_GZIP in str(error) and not already_read:
                return number - 1
            done = f"the {number - 1} records before it were read" if number > 1 else "no record could be read"
            yield Skipped(str(path), f"unreadable WARC at record {number} ({_first_line(error)}); {done}")
            return None
        yield read
    # warcio ends quietly at a compressed record cut short: whatever is left after the last record is one
    left = stream_size - archive.offset if stream_size is not None else sum(map(len, iter(partial(stream.read, 1 << 16), b"")))
    if left > 0:
        yield Skipped(str(path), f"truncated WARC: its last {left:,} bytes hold no complete record")
    return None


class _Gunzipped(io.RawIOBase):
    """A gzip file's content as a stream, to its last byte even when the file is cut short (where Python's gzip
    raises, and what it had decompressed in that read is lost): `cut_short` says so once it is read."""

    def __init__(self, compressed: BinaryIO) -> None:
        self._compressed, self._gunzip, self._pending, self.cut_short = compressed, gunzip(), b"", False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            chunk = self._compressed.read(1 << 16)
            if not chunk:
                self.cut_short = not self._gunzip.eof
                return 0
            self._pending = self._gunzip.decompress(chunk)
            while self._gunzip.eof and self._gunzip.unused_data:  # the next gzip member
                rest, self._gunzip = self._gunzip.unused_data, gunzip()
                self._pending += self._gunzip.decompress(rest)
        size = min(len(buffer), len(self._pending))
        buffer[:size], self._pending = self._pending[:size], self._pending[size:]
        return size


def _first_line(error: Exception) -> str:
    """An error's first line of text (warcio's messages run over a dozen lines), or its kind."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0].removeprefix("ERROR: ") if lines else type(error).__name__


def _record_article(record: ArcWarcRecord, where: str) -> dict | Skipped | PassedOver:
    if not record.rec_type:
        return Skipped(where, "record without a WARC-Type: not a WARC record")
    if record.rec_type not in _ARTICLE_RECORD_TYPES + _OTHER_RECORD_TYPES:
        return Skipped(where, f"record of unknown WARC-Type {record.rec_type!r}: cut short or garbled (a damaged WARC)")
    # warcio reads a header block cut short (no Content-Length yet, or half of one) as a record without content
    content_length = record.rec_headers.get_header("Content-Length") or ""
    if record.format == "warc" and not content_length.strip().isdigit():
        return Skipped(where, "record without a valid Content-Length: its header cut short or garbled (a damaged WARC)")
    target = record.rec_headers.get_header("WARC-Target-URI")
    where = f"{where} ({target})" if target else where
    kind = _not_a_page(record)
    if kind:  # a response cut in its HTTP headers looks like one without a Content-Type: read it to its end
        while record.raw_stream.read(1 << 16):
            pass
        return _cut_short(record, where) or PassedOver(kind)
    payload = record.content_stream().read(MAX_PAGE_BYTES + 1)
    if len(payload) > MAX_PAGE_BYTES:
        return Skipped(where, f"page larger than the {MAX_PAGE_BYTES:,} bytes read")
    cut = _cut_short(record, where)
    if cut:
        return cut
    try:
        article = page_article(payload, url=target)
    except Unreadable as error:
        return Skipped(where, str(error))
    crawled = record.rec_headers.get_header("WARC-Date")
    return with_id({**article, "crawled_at": crawled} if crawled else article)


def _cut_short(record: ArcWarcRecord, where: str) -> Skipped | None:
    """Skipped when the file did not hold the bytes the record's Content-Length promised (a truncated WARC)."""
    missing = getattr(record.raw_stream, "limit", 0)  # no Content-Length: no limit, nothing known missing
    return Skipped(where, f"record cut short: {missing:,} of its bytes missing (a truncated WARC)") if missing else None


def _not_a_page(record: ArcWarcRecord) -> str | None:
    """Why the record is no web page ("request record", "HTTP 301", "image/jpeg"), or None for a page."""
    if record.rec_type not in _ARTICLE_RECORD_TYPES:
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
