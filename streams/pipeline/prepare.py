"""From a raw payload to a prepared article, or to a dead letter saying why not.

Pure: decode the bytes, validate the fields, clean, extract facts, compute
clustering features and fingerprints. This is all the per-article work, done in
the partitioned stage so it spreads over workers; it never raises on bad input.
"""

from __future__ import annotations

import codecs
import hashlib
import time
from collections.abc import Generator, Sequence
from datetime import datetime, timezone

import orjson
from pydantic import ValidationError

from schemas import CleanArticle, DeadLetter, PreparedArticle, RawArticle
from streams.pipeline.clean import UnusableArticle, clean_article
from streams.pipeline.dedup import fingerprint
from streams.pipeline.english import NON_ASCII, chars_between, count_chars
from streams.pipeline.facts import extract_facts
from streams.pipeline.features import features

PREVIEW_CHARS = 200
MAX_EXTRA_DEPTH = 64  # levels of lists and objects an unknown field may nest: far beyond any feed's metadata
_BINARY_CONTROL_SHARE = 0.05
# Control characters but tab, newline and return.
_CONTROL_CHARS = chars_between("\x00", "\x08") + "\x0b\x0c" + chars_between("\x0e", "\x1f")


class Rejected(Exception):
    """A payload that cannot become an article; the message says what to fix."""

    def __init__(self, reason: str, stage: str, article_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.stage, self.article_id = reason, stage, article_id

    def as_dead_letter(self, payload: bytes | None, key: bytes | None) -> DeadLetter:
        """Its dead letter, under the article's id if it got that far, else the message's key."""
        return dead_letter(payload, self.reason, self.stage, self.article_id or key_text(key))


def stable_id(raw: RawArticle) -> str:
    """An id from the article's content, so the same article always gets the same id."""
    basis = "\x1f".join(part or "" for part in (raw.url, raw.title, raw.text))
    return "a-" + hashlib.blake2b(basis.encode(), digest_size=10).hexdigest()


def decode_text(payload: bytes) -> str:
    """UTF-8 (with or without BOM, or damaged: see below), UTF-16 with BOM, else Windows-1252; binary data is
    rejected."""
    if payload.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = payload.decode("utf-16")
        except UnicodeDecodeError as error:  # cut short (an odd byte count) or a lone surrogate
            raise Rejected(f"broken UTF-16 (it opens with a byte order mark): {error.reason}", "decode") from None
    else:
        try:
            text = payload.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = _damaged_utf8_or_cp1252(payload)
    head = text[:4096]
    if "\x00" in head or count_chars(head, _CONTROL_CHARS) > _BINARY_CONTROL_SHARE * len(head):
        raise Rejected("binary payload: not text (send UTF-8 JSON or plain text)", "decode")
    return text


def _damaged_utf8_or_cp1252(payload: bytes) -> str:
    """Bytes that are not all valid UTF-8: UTF-8 still when its valid characters outnumber the broken ones, or
    when only the last character is cut short (a text cut at a byte limit, a stray bad byte in a long text),
    with U+FFFD for what is broken; else Windows-1252, where a broken sequence is the rule (every accented
    letter is one). Read as Windows-1252, a damaged UTF-8 text would lose every accented letter to mojibake."""
    text = payload.decode("utf-8-sig", errors="replace")
    broken = text.count("\ufffd")
    valid = len(NON_ASCII.findall(text)) - broken
    if valid > broken or (broken == 1 and text.endswith("\ufffd")):
        return text
    return payload.decode("cp1252", errors="replace")


def parse_payload(payload: bytes | None, key: bytes | None, max_bytes: int) -> RawArticle:
    """A JSON object is a RawArticle; text that opens like JSON ("{", or "[" and a value) and is not JSON is
    broken JSON; any other text (even "[UPDATED] ...") is taken as the article's text."""
    if not payload or not payload.strip():
        raise Rejected("empty payload: nothing to read", "decode")
    if len(payload) > max_bytes:
        raise Rejected(
            f"payload of {len(payload):,} bytes exceeds the {max_bytes:,}-byte limit (STORYWIRE_MAX_ARTICLE_BYTES)",
            "decode",
        )
    text = decode_text(payload)
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        return RawArticle(id=key_text(key), text=text)
    try:
        data = orjson.loads(stripped)
    except orjson.JSONDecodeError as error:
        if stripped.startswith("[") and stripped[1:].lstrip()[:1].isalpha():  # "[UPDATED] Officials said ...":
            return RawArticle(id=key_text(key), text=text)  # text, where a JSON array (even cut short) is not
        raise Rejected(f"broken JSON: {error}", "decode") from None
    if not isinstance(data, dict):
        raise Rejected("JSON payload is not an object", "decode")
    try:
        raw = RawArticle.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise Rejected(f"invalid fields: {problems}", "validate", _id_in(data)) from None
    deep = next((name for name, value in (raw.model_extra or {}).items() if _nested_deeper(value, MAX_EXTRA_DEPTH)), None)
    if deep is not None:  # kept in the article's `extra`, it could not be sent on: pydantic writes 255 levels at most
        raise Rejected(f"field {deep!r} nests lists or objects deeper than {MAX_EXTRA_DEPTH} levels", "validate", raw.id)
    if raw.id is None and key:
        raw = raw.model_copy(update={"id": key_text(key)})
    return raw


def _nested_deeper(value: object, limit: int) -> bool:
    """Whether lists and objects nest deeper than `limit` levels in `value` (walked level by level, not recursively)."""
    level = [value] if isinstance(value, (dict, list)) else []
    for _ in range(limit):
        if not level:
            return False
        level = [inner for item in level for inner in (item.values() if isinstance(item, dict) else item) if isinstance(inner, (dict, list))]
    return bool(level)


def prepare(payload: bytes | None, key: bytes | None, timestamp: float, max_bytes: int) -> PreparedArticle | DeadLetter:
    """Everything one article needs before it meets the other articles, or the reason it can't."""
    stages = _stages(payload, key, timestamp, max_bytes)
    while True:
        try:
            next(stages)
        except StopIteration as finished:
            return finished.value


def prepare_many(
    work: Sequence[tuple[bytes | None, bytes | None, float]], max_bytes: int
) -> list[tuple[PreparedArticle | DeadLetter | Exception, float]]:
    """`prepare` for each (payload, key, timestamp) of a chunk, taken through the stages together: every article
    cleaned, then every article's facts, features and fingerprints. A stage's code and the word caches it reads
    stay warm from one article to the next, where one article at a time went through them all in turn: about an
    eighth less time per article in chunks of 32 (the performance log, 2026-12-02). Each result comes with
    the seconds its own stages took; an exception (a bug, not bad input) is its article's result alone."""
    results: list[PreparedArticle | DeadLetter | Exception | None] = [None] * len(work)
    seconds = [0.0] * len(work)
    going = {index: _stages(payload, key, timestamp, max_bytes) for index, (payload, key, timestamp) in enumerate(work)}
    while going:
        for index, stages in list(going.items()):
            started = time.perf_counter()
            try:
                next(stages)
            except StopIteration as finished:
                results[index] = finished.value
                del going[index]
            except Exception as error:
                results[index] = error
                del going[index]
            seconds[index] += time.perf_counter() - started
    return list(zip(results, seconds))


def _stages(
    payload: bytes | None, key: bytes | None, timestamp: float, max_bytes: int
) -> Generator[None, None, PreparedArticle | DeadLetter]:
    """`prepare`'s work for one article, pausing after each stage (so that `prepare_many` can take a chunk of
    articles through a stage before the next); it returns what `prepare` does."""
    try:
        article = cleaned(payload, key, max_bytes).model_copy(update={"received_at": _received_at(timestamp)})
        yield
        facts = extract_facts(article)
        yield
        terms = features(article.title, article.text)
        yield
        fp = fingerprint(article.title, article.text)
        return PreparedArticle(article=article.metadata(), facts=facts, terms=terms, exact=fp.exact, signature=fp.in_base64())
    except Rejected as rejected:
        return rejected.as_dead_letter(payload, key)


def cleaned(payload: bytes | None, key: bytes | None, max_bytes: int) -> CleanArticle:
    """The payload decoded, validated and cleaned, as preparing starts from it (and `storywire clean` shows it);
    Rejected, with the reason and the stage, if it cannot be an article."""
    raw = parse_payload(payload, key, max_bytes)
    article_id = raw.id or stable_id(raw)
    try:
        return clean_article(raw, article_id)
    except UnusableArticle as error:
        raise Rejected(str(error), "clean", article_id) from None


def _received_at(timestamp: float) -> datetime | None:
    """The broker's time of the message; None for one no date can hold (a producer may set any CreateTime)."""
    try:
        return datetime.fromtimestamp(timestamp, timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def dead_letter(payload: bytes | None, reason: str, stage: str, article_id: str | None = None) -> DeadLetter:
    payload = payload or b""
    return DeadLetter(
        article_id=article_id,
        reason=reason,
        stage=stage,
        payload_bytes=len(payload),
        payload_preview=payload[:PREVIEW_CHARS].decode("utf-8", errors="replace"),
    )


def internal_error(payload: bytes | None, key: bytes | None, error: Exception) -> DeadLetter:
    """The dead letter of an article whose preparing met a bug (not bad input): the stream goes on without it."""
    return dead_letter(payload, f"internal error while preparing: {error!r}", "process", key_text(key))


def key_text(key: bytes | None) -> str | None:
    return key.decode("utf-8", errors="replace") if key else None


def _id_in(data: dict) -> str | None:
    value = data.get("id")
    return value if isinstance(value, str) else None
