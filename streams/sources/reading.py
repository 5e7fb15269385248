"""What every reader yields besides articles, the id every article gets, and the formats a file's first bytes tell."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import orjson

from schemas import RawArticle
from streams.pipeline.prepare import stable_id

# The formats of input, as the first bytes of a file tell them (`sniffed_format`) or its name does (files.py).
TEXT, JSONL, JSON, PAGE, FEED, WARC = "text", "jsonl", "json", "page", "feed", "warc"
# What may stand before a document's first element: XML declaration, processing instructions, comments and a
# doctype other than HTML's.
_PROLOGUE = re.compile(rb"(?:\s*(?:<\?.*?\?>|<!--.*?-->|<!doctype\s+(?!html\b)[^>]*>))*\s*", re.I | re.S)
_FIRST_ELEMENT = re.compile(rb"<(!doctype\s+html\b|[a-z][\w.:-]*)", re.I)
_FEED_ELEMENTS = (b"rss", b"feed", b"rdf:rdf")
_JSON_OPENING = re.compile(rb"\s*(\{|\[\s*\{)")  # a JSON object, or an array of them


def gunzip():
    """A decompressor of one gzip member (the sniffer's, and the whole-file WARC reader's)."""
    return zlib.decompressobj(zlib.MAX_WBITS | 16)


class Unreadable(Exception):
    """An input (a page, a feed, a record) that holds no article; the message says why."""


@dataclass(frozen=True)
class Skipped:
    """Input that should have given an article and did not: a line of the replay summary."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True)
class PassedOver:
    """Input that is no article by nature (a WARC request record, an image): counted by kind, not listed."""

    kind: str


def with_id(article: dict) -> dict:
    """The article with an id: its own, else a stable one from its content (the same input, the same id).

    A numeric id (JSONL feeds number their lines: 0, 1, ...) becomes a string, as the raw topic's schema wants.
    An empty one is none, as to the worker; one of another kind is kept, for the worker to report.
    """
    given = article.get("id")
    if isinstance(given, int) and not isinstance(given, bool):
        return {**article, "id": str(given)}
    if given is not None and given != "":
        return article
    fields = {k: article.get(k) if isinstance(article.get(k), str) else None for k in ("url", "title", "text")}
    return {**article, "id": stable_id(RawArticle(**fields))}


def sniffed_format(head: bytes) -> str | None:
    """What the first bytes of a file say it is: a WARC archive, a feed, a web page, JSON, or None."""
    if head.startswith(b"\x1f\x8b"):
        try:
            head = gunzip().decompress(head, 64)
        except zlib.error:
            return None
        return WARC if head.startswith(b"WARC/") else None
    if head.startswith(b"WARC/"):
        return WARC
    text = head.removeprefix(b"\xef\xbb\xbf")
    opening = _JSON_OPENING.match(text)
    if opening:  # JSON Lines where the first line is a whole object, else one JSON document
        return JSONL if opening.group(1) == b"{" and _json_object_line(text) else JSON
    first = _FIRST_ELEMENT.match(text, _PROLOGUE.match(text).end())
    if not first:
        return None
    name = first.group(1).lower()
    if name in _FEED_ELEMENTS:
        return FEED
    return PAGE if name == b"html" or name.startswith(b"!doctype") else None


def _json_object_line(text: bytes) -> bool:
    """The first line is a whole JSON object (JSON Lines), not the start of one written over several lines."""
    try:
        return isinstance(orjson.loads(text.split(b"\n", 1)[0]), dict)
    except orjson.JSONDecodeError:
        return False
