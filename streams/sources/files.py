"""Paths to raw articles: files and directories mixing every input format, each read by its reader.

The format comes from the content where the first bytes tell (a WARC header, an <rss>, <feed> or <html>
element, a JSON object or array), else from the name: `.txt` (one article as scraped) and `.jsonl`/`.ndjson`
(one article per line) by their name only, as they always were; `.json` (an article, or an array of them),
`.html`/`.htm`/`.xhtml` pages, `.xml`/`.rss`/`.atom` feeds, `.warc` and `.warc.gz` archives. Any of them may be
gzipped (`feed.jsonl.gz`): the name without `.gz` and the content once decompressed tell. A file named on its
own whose format neither tells is read as text, as `.txt`; in a directory, such files are passed over and
counted by kind, and hidden files and directories (".git", "._page.html") are not read. Text is decoded as the
worker decodes a payload (`decode_text`).
"""

from __future__ import annotations

import gzip
import os
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import BinaryIO

import orjson

from streams.pipeline.prepare import Rejected, decode_text
from streams.sources.feeds import MAX_FEED_BYTES, feed_articles
from streams.sources.html import MAX_PAGE_BYTES, page_article
from streams.sources.reading import (
    FEED,
    JSON,
    JSONL,
    PAGE,
    TEXT,
    WARC,
    PassedOver,
    Skipped,
    Unreadable,
    sniffed_format,
    with_id,
)
from streams.sources.warc import warc_articles

_BY_SUFFIX = {
    ".txt": TEXT, ".jsonl": JSONL, ".ndjson": JSONL, ".json": JSON, ".html": PAGE, ".htm": PAGE, ".xhtml": PAGE,
    ".xml": FEED, ".rss": FEED, ".atom": FEED, ".warc": WARC, ".warc.gz": WARC,
}  # fmt: skip
# A JSON document is read whole: a larger one is better written as JSON Lines, which is read line by line.
MAX_JSON_BYTES = 100_000_000
_SNIFF_BYTES = 4096


class InputError(Exception):
    """A path that cannot be read at all (missing, or a directory without any input), with the path."""


def input_files(paths: list[Path]) -> list[Path | Skipped | PassedOver]:
    """The files the paths name, directories expanded (in name order) to their files of a known format; as
    `Skipped` the directories in them that cannot be listed, and as `PassedOver` their files of no known format.
    A missing path, or a directory with no file to read, is an error, found before anything is sent."""
    files: list[Path | Skipped | PassedOver] = []
    for path in paths:
        if path.is_dir():
            found = _directory_inputs(path)
            readable = [item for item in found if isinstance(item, Path)]
            if not readable:
                listed = [item for item in found if isinstance(item, Skipped)]
                if listed:
                    raise InputError(str(listed[0]))
                others = Counter(item.kind for item in found).most_common()
                held = f"; it holds only files of no known format ({', '.join(f'{k}: {n:,}' for k, n in others)})" if others else ""
                raise InputError(f"{path}: no article files in this directory ({', '.join(_BY_SUFFIX)}, or those gzipped{held})")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise InputError(f"{path}: {_not_a_file(path)}")
    return files


def _not_a_file(path: Path) -> str:
    """Why a path that is neither a file nor a directory cannot be read."""
    try:
        path.stat()
    except FileNotFoundError:
        return "no such file or directory"
    except OSError as error:  # a symbolic link loop, a directory without search permission
        return f"cannot be read ({error.strerror or error})"
    return "not a file or directory (a pipe or a device: save what it gives to a file first)"


def read_inputs(
    files: list[Path | Skipped | PassedOver], max_article_bytes: int = MAX_PAGE_BYTES
) -> Iterator[dict | Skipped | PassedOver]:
    """Every article in the files, with an id, in order; what could not be read as `Skipped`, with the reason.

    A reader failing in a way nobody foresaw stops only its own file: the replay goes on with the next. A `.txt`
    file is one article's text, so it is read up to the setting `max_article_bytes` where that is larger than
    the MAX_PAGE_BYTES a page is read up to. A file that gives nothing at all (empty, or a feed without items)
    is skipped, saying so.
    """
    readers = {**_READERS, TEXT: partial(_text_file, max_bytes=max(MAX_PAGE_BYTES, max_article_bytes))}
    for path in files:
        if not isinstance(path, Path):  # a directory input_files could not list, a file of no known format
            yield path
            continue
        articles = others = 0
        try:
            for item in readers[input_format(path) or TEXT](path):
                articles += isinstance(item, dict)
                others += not isinstance(item, dict)
                yield item
            if not articles and not others:
                yield Skipped(str(path), "no article in it (an empty file, or a feed without items)")
        except Unreadable as error:
            yield Skipped(str(path), str(error))
        except OSError as error:
            yield Skipped(str(path), f"cannot be read ({error.strerror or error})")
        except EOFError as error:  # a gzipped file cut short
            yield Skipped(str(path), f"cut short: {error} ({_read_before(articles)})")
        except Exception as error:  # noqa: BLE001 - bad input never stops a replay
            yield Skipped(str(path), f"reading stopped at {error.__class__.__name__}: {error} ({_read_before(articles)})")


def _read_before(articles: int) -> str:
    return f"{articles:,} article{'s' * (articles != 1)} read before it" if articles else "nothing read"


def _directory_inputs(directory: Path) -> list[Path | Skipped | PassedOver]:
    """The files of a known format under a directory, symbolic links followed (each directory once); as
    `Skipped` the directories in it that cannot be listed (which Path.rglob passes over in silence), and as
    `PassedOver` its files of no known format; in name order. Hidden files and directories are not read."""
    found: list[tuple[Path, Path | Skipped | PassedOver]] = []
    walked: set[tuple[int, int]] = set()

    def unlisted(error: OSError) -> None:
        where = Path(error.filename) if error.filename else directory
        reason = f"directory cannot be read ({error.strerror or error}); the files in it are not read"
        found.append((where, Skipped(str(where), reason)))

    for folder, folders, names in os.walk(directory, onerror=unlisted, followlinks=True):
        identity = _identity(folder)
        if identity in walked:  # reached again through a symbolic link
            folders.clear()
            continue
        walked.add(identity)
        folders[:] = [name for name in folders if not name.startswith(".")]
        for path in (Path(folder, name) for name in names if not name.startswith(".")):
            if _is_file(path):
                found.append((path, path if input_format(path) else PassedOver(_unknown_kind(path))))
    return [item for _, item in sorted(found, key=lambda pair: pair[0])]


def _identity(folder: str) -> tuple[int, int]:
    try:
        status = os.stat(folder)
    except OSError:
        return (-1, hash(folder))
    return (status.st_dev, status.st_ino)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # cannot even be looked at (a directory without search permission): its reader says why
        return True


def _unknown_kind(path: Path) -> str:
    suffix = _suffix(path)
    return f"{suffix} file" if suffix else "file without a name suffix"


def input_format(path: Path) -> str | None:
    """The reader for a file: `.txt` and `.jsonl` by name; others by content where it tells, else by name."""
    by_name = _BY_SUFFIX.get(_suffix(path))
    if by_name in (TEXT, JSONL):
        return by_name
    return sniffed_format(_head(path)) or by_name


def _head(path: Path) -> bytes:
    """The first bytes of a file (of its content, for a gzipped one); none for a file that cannot be read (its
    reader then says why)."""
    try:
        with _opened(path) as file:
            return file.read(_SNIFF_BYTES)
    except (OSError, EOFError):
        return b""


def _gzipped(path: Path) -> bool:
    """A gzipped file, read decompressed; but not a WARC, which warcio reads as it is (record by record)."""
    name = path.name.lower()
    return name.endswith(".gz") and not name.endswith(".warc.gz")


def _opened(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if _gzipped(path) else path.open("rb")


def _suffix(path: Path) -> str:
    """The suffix that names the format: of the name without `.gz` for a gzipped file."""
    name = path.name.lower()
    if name.endswith(".warc.gz"):
        return ".warc.gz"
    return Path(name.removesuffix(".gz")).suffix if _gzipped(path) else path.suffix.lower()


def _capped_bytes(path: Path, limit: int, kind: str, raised_by: str = "", instead: str = "") -> bytes:
    """The whole file (decompressed, if gzipped), unless it is larger than its reader takes: the size is asked
    before anything is read (a gzipped file's is counted as it is decompressed), and the refusal names the
    setting that raises the limit, where one does, or what to do instead."""
    hint = f"; raise {raised_by} to read it" if raised_by else f"; {instead}" if instead else ""
    if not _gzipped(path):
        size = path.stat().st_size
        if size > limit:
            raise Unreadable(f"{kind} of {size:,} bytes, more than the {limit:,} read{hint}")
        return path.read_bytes()
    with _opened(path) as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise Unreadable(f"{kind} of more than {limit:,} bytes once decompressed, more than the {limit:,} read{hint}")
    return data


def _text_file(path: Path, max_bytes: int) -> Iterator[dict]:
    """One article's text; a file of blank space holds none."""
    try:
        text = decode_text(_capped_bytes(path, max_bytes, "text file", "STORYWIRE_MAX_ARTICLE_BYTES"))
    except Rejected as error:
        raise Unreadable(error.reason) from None
    if text.strip():
        yield with_id({"text": text})


def _jsonl_file(path: Path) -> Iterator[dict | Skipped]:
    """One article per line (`_json_line`)."""
    with _opened(path) as feed:
        for number, line in enumerate(feed, start=1):
            if not line.strip():
                continue
            try:
                data = _json_document(line)
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


def _json_file(path: Path) -> Iterator[dict | Skipped]:
    """One article (a JSON object), or an array of them."""
    try:
        data = _json_document(_capped_bytes(path, MAX_JSON_BYTES, "JSON file", instead="write it as JSON Lines (.jsonl), one article per line"))
    except Rejected as error:
        raise Unreadable(error.reason) from None
    except orjson.JSONDecodeError as error:
        raise Unreadable(f"malformed JSON ({error})") from None
    if isinstance(data, dict):
        yield with_id(data)
        return
    if not isinstance(data, list):
        raise Unreadable("a JSON file must hold an article (a JSON object) or an array of them")
    for number, item in enumerate(data):
        yield with_id(item) if isinstance(item, dict) else Skipped(f"{path}[{number}]", "an article must be a JSON object")


def _json_document(line: bytes) -> object:
    """A line's (or a file's) JSON, read as UTF-8 bytes, or where orjson refuses them, decoded as the worker
    decodes a payload (`decode_text`) first: editors on Windows save UTF-8 with a byte order mark, or
    Windows-1252. Decoding every line took four times orjson's own time on the bench's stream; a line orjson
    reads as bytes is valid UTF-8 without control characters, so decoding it first would read it the same."""
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
_READERS = {JSONL: _jsonl_file, JSON: _json_file, PAGE: _page_file, FEED: _feed_file, WARC: _warc_file}
