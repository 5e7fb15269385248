"""Paths to raw articles: files and directories mixing every input format, each read by its reader.

The format comes from the content where the first bytes tell (a WARC header, an <rss>, <feed> or <html>
element), else from the name: `.txt` (one article as scraped) and `.jsonl` (one article per line) by their
name only, as they always were; `.html`/`.htm`/`.xhtml` pages, `.xml`/`.rss`/`.atom` feeds, `.warc` and
`.warc.gz` archives. A file named on its own whose format neither tells is read as text, as `.txt`; in a
directory, such files are left out. Text is decoded as the worker decodes a payload (`decode_text`).
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import orjson

from streams.pipeline.prepare import Rejected, decode_text
from streams.sources.feeds import MAX_FEED_BYTES, feed_articles
from streams.sources.html import MAX_PAGE_BYTES, page_article
from streams.sources.reading import PassedOver, Skipped, Unreadable, with_id
from streams.sources.warc import warc_articles

TEXT, JSONL, PAGE, FEED, WARC = "text", "jsonl", "page", "feed", "warc"
_BY_SUFFIX = {
    ".txt": TEXT, ".jsonl": JSONL, ".html": PAGE, ".htm": PAGE, ".xhtml": PAGE,
    ".xml": FEED, ".rss": FEED, ".atom": FEED, ".warc": WARC, ".warc.gz": WARC,
}  # fmt: skip
_SNIFF_BYTES = 4096
# What may stand before a document's first element: XML declaration, processing instructions, comments and a
# doctype other than HTML's.
_PROLOGUE = re.compile(rb"(?:\s*(?:<\?.*?\?>|<!--.*?-->|<!doctype\s+(?!html\b)[^>]*>))*\s*", re.I | re.S)
_FIRST_ELEMENT = re.compile(rb"<(!doctype\s+html\b|[a-z][\w.:-]*)", re.I)
_FEED_ELEMENTS = (b"rss", b"feed", b"rdf:rdf")


class InputError(Exception):
    """A path that cannot be read at all (missing, or a directory without any input), with the path."""


def input_files(paths: list[Path]) -> list[Path | Skipped]:
    """The files the paths name, directories expanded (in name order) to their files of a known format, and
    as `Skipped` the directories in them that cannot be listed; a missing path, or a directory with no file to
    read (none there, or none that can be listed), is an error, found before anything is sent."""
    files: list[Path | Skipped] = []
    for path in paths:
        if path.is_dir():
            found = _directory_inputs(path)
            if not found:
                raise InputError(f"{path}: no article files in this directory ({', '.join(_BY_SUFFIX)})")
            if all(isinstance(item, Skipped) for item in found):
                raise InputError(f"{found[0].where}: {found[0].reason}")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or directory")
    return files


def read_inputs(
    files: list[Path | Skipped], max_article_bytes: int = MAX_PAGE_BYTES
) -> Iterator[dict | Skipped | PassedOver]:
    """Every article in the files, with an id, in order; what could not be read as `Skipped`, with the reason.

    A reader failing in a way nobody foresaw stops only its own file: the replay goes on with the next. A `.txt`
    file is one article's text, so it is read up to the setting `max_article_bytes` where that is larger than
    the MAX_PAGE_BYTES a page is read up to.
    """
    readers = {**_READERS, TEXT: partial(_text_file, max_bytes=max(MAX_PAGE_BYTES, max_article_bytes))}
    for path in files:
        if isinstance(path, Skipped):  # a directory input_files could not list
            yield path
            continue
        articles = 0
        try:
            for item in readers[input_format(path) or TEXT](path):
                articles += isinstance(item, dict)
                yield item
        except Unreadable as error:
            yield Skipped(str(path), str(error))
        except OSError as error:
            yield Skipped(str(path), f"cannot be read ({error.strerror or error})")
        except Exception as error:  # noqa: BLE001 - bad input never stops a replay
            before = f"{articles:,} article{'s' * (articles != 1)} read before it" if articles else "nothing read"
            yield Skipped(str(path), f"reading stopped at {error.__class__.__name__}: {error} ({before})")


def _directory_inputs(directory: Path) -> list[Path | Skipped]:
    """The files of a known format under a directory, and as `Skipped` the directories in it that cannot be
    listed (which Path.rglob passes over in silence), in name order."""
    found: list[tuple[Path, Path | Skipped]] = []

    def unlisted(error: OSError) -> None:
        where = Path(error.filename) if error.filename else directory
        reason = f"directory cannot be read ({error.strerror or error}); the files in it are not read"
        found.append((where, Skipped(str(where), reason)))

    for folder, _, names in os.walk(directory, onerror=unlisted):
        found.extend((path, path) for path in (Path(folder, name) for name in names) if _is_input_file(path))
    return [item for _, item in sorted(found, key=lambda pair: pair[0])]


def _is_input_file(path: Path) -> bool:
    try:
        is_file = path.is_file()
    except OSError:  # cannot even be looked at (a directory without search permission): its reader says why
        is_file = True
    return is_file and input_format(path) is not None


def input_format(path: Path) -> str | None:
    """The reader for a file: `.txt` and `.jsonl` by name; others by content where it tells, else by name."""
    by_name = _BY_SUFFIX.get(_suffix(path))
    if by_name in (TEXT, JSONL):
        return by_name
    return sniffed_format(_head(path)) or by_name


def sniffed_format(head: bytes) -> str | None:
    """What the first bytes of a file say it is: a WARC archive, a feed, a web page, or None."""
    if head.startswith(b"\x1f\x8b"):
        try:
            head = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(head, 64)
        except zlib.error:
            return None
        return WARC if head.startswith(b"WARC/") else None
    if head.startswith(b"WARC/"):
        return WARC
    text = head.removeprefix(b"\xef\xbb\xbf")
    first = _FIRST_ELEMENT.match(text, _PROLOGUE.match(text).end())
    if not first:
        return None
    name = first.group(1).lower()
    if name in _FEED_ELEMENTS:
        return FEED
    return PAGE if name == b"html" or name.startswith(b"!doctype") else None


def _head(path: Path) -> bytes:
    """The first bytes of a file; none for a file that cannot be read (its reader then says why)."""
    try:
        with path.open("rb") as file:
            return file.read(_SNIFF_BYTES)
    except OSError:
        return b""


def _suffix(path: Path) -> str:
    name = path.name.lower()
    return ".warc.gz" if name.endswith(".warc.gz") else path.suffix.lower()


def _capped_bytes(path: Path, limit: int, kind: str, raised_by: str = "") -> bytes:
    """The whole file, unless it is larger than its reader takes: the size is asked before anything is read, and
    the refusal names the setting that raises the limit, where one does."""
    size = path.stat().st_size
    if size > limit:
        raise_it = f"; raise {raised_by} to read it" if raised_by else ""
        raise Unreadable(f"{kind} of {size:,} bytes, more than the {limit:,} read{raise_it}")
    return path.read_bytes()


def _text_file(path: Path, max_bytes: int) -> Iterator[dict]:
    try:
        text = decode_text(_capped_bytes(path, max_bytes, "text file", "STORYWIRE_MAX_ARTICLE_BYTES"))
    except Rejected as error:
        raise Unreadable(error.reason) from None
    yield with_id({"text": text})


def _jsonl_file(path: Path) -> Iterator[dict | Skipped]:
    """One article per line (`_json_line`)."""
    with path.open("rb") as feed:
        for number, line in enumerate(feed, start=1):
            if not line.strip():
                continue
            try:
                data = _json_line(line)
            except Rejected as error:
                yield Skipped(f"{path}:{number}", error.reason)
                continue
            except orjson.JSONDecodeError as error:
                yield Skipped(f"{path}:{number}", f"malformed JSON ({error})")
                continue
            if not isinstance(data, dict):
                yield Skipped(f"{path}:{number}", "a feed line must be a JSON object")
                continue
            yield with_id(data)


def _json_line(line: bytes) -> object:
    """A line's JSON, read as UTF-8 bytes, or where orjson refuses them, decoded as the worker decodes a payload
    (`decode_text`) first: editors on Windows save UTF-8 with a byte order mark, or Windows-1252. Decoding every
    line took four times orjson's own time on the bench's stream; a line orjson reads as bytes is valid UTF-8
    without control characters, so decoding it first would read it the same."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return orjson.loads(decode_text(line))


def _page_file(path: Path) -> Iterator[dict]:
    yield with_id(page_article(_capped_bytes(path, MAX_PAGE_BYTES, "page")))


def _feed_file(path: Path) -> Iterator[dict | Skipped]:
    yield from feed_articles(_capped_bytes(path, MAX_FEED_BYTES, "feed"), str(path))


def _warc_file(path: Path) -> Iterator[dict | Skipped | PassedOver]:
    yield from warc_articles(path)


# The text reader is not here: read_inputs gives it its limit, which comes from the settings.
_READERS = {JSONL: _jsonl_file, PAGE: _page_file, FEED: _feed_file, WARC: _warc_file}
