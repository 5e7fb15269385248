"""Cleaning of scraped news articles: keep the reporting, drop the site furniture, find the metadata.

A scraped article is a few paragraphs of reporting wrapped in whatever the page
had around them: menus, cookie and donation banners, newsletter sign-ups,
related links, photo captions, author contact lines, comment sections. The
rules here are general rules about web pages and news writing (position,
length, sentence punctuation, function-word density, call-to-action wording,
repetition), never knowledge of particular outlets.

Every removed paragraph is kept in `CleanArticle.removed` with the reason, so
a person can audit (and argue with) each decision.

Pure functions: no I/O, no Kafka, no clock.
"""

from __future__ import annotations

import calendar
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from itertools import groupby, islice
from html.parser import HTMLParser
from urllib.parse import urlsplit

import ftfy
from wordfreq import top_n_list, zipf_frequency

from schemas.articles import CleanArticle, RawArticle, RemovedBlock
from streams.pipeline.english import WORD

# Only this many characters of an article are read: news articles are far
# shorter, and every step below stays linear in it (the caller dead-letters
# payloads above settings.max_article_bytes before they get here).
MAX_CLEAN_CHARS = 200_000

# Share of control / undecodable characters above which a text is binary data.
_BINARY_SHARE = 0.10
# Paragraphs with at least this many words are never "short lines".
_SHORT_LINE_WORDS = 20
# A weekday mention is resolved only against a publication date at most this far from the text's dates.
_FRESH_DAYS = 7
# A year-less date up to this many days after the reference is an upcoming event, not last year's.
_UPCOMING_DAYS = 7


class UnusableArticle(ValueError):
    """Nothing in the article can be kept; `reason` tells a person what to look at."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------- entry point


def clean_article(raw: RawArticle, article_id: str, *, max_chars: int = MAX_CLEAN_CHARS) -> CleanArticle:
    """The reporting text of `raw`, its metadata, and every removed block with its reason.

    Raises UnusableArticle when nothing can be kept (no text and no title,
    binary data, text that is all site furniture and no title).
    """
    removed: list[RemovedBlock] = []
    raw_title = repair_line(raw.title) if raw.title else None
    text = raw.text or ""
    if not text.strip() and not raw_title:
        raise UnusableArticle("empty article: no text and no title (check the feed or scraper for this source)")
    text, cut = cap_text(text, max_chars)
    removed.extend(cut)
    check_not_binary(text)
    text = repair_text(text)
    hints = PageHints()
    if looks_like_html(text):
        page = html_to_text(text)
        text, hints = repair_text(page.text), page.hints
        removed.extend(page.removed)
    check_readable(text, raw_title or hints.title)

    blocks = [Block.of(p) for p in split_paragraphs(text)]
    title = classify(blocks, raw_title or hints.title)
    removed.extend(RemovedBlock(text=b.text, reason=b.reason) for b in blocks if b.reason)
    kept = [b.text for b in blocks if not b.reason]
    if not kept and not title:
        first = next((b.reason for b in blocks if b.reason), "no paragraphs")
        raise UnusableArticle(
            f"nothing left after cleaning: all {len(blocks)} paragraphs are site furniture (first: {first}); "
            "check that the scraper picks the article body"
        )

    published = parse_datetime_text(raw.published_at) if raw.published_at else None
    published = published or (parse_datetime_text(hints.published) if hints.published else None)
    published = published or published_from_text(blocks)
    dates, weekdays = days_in_reporting(([title] if title else []) + kept, published.date() if published else None)
    published = published.astimezone(timezone.utc) if published else None
    body = "\n\n".join(kept)
    return CleanArticle(
        article_id=article_id,
        title=title,
        text=body,
        outlet=find_outlet(raw, hints, blocks),
        url=raw.url,
        language=detect_language(body or title or ""),
        published_at=published,
        event_date=dates[0] if dates else None,
        dates_seen=dates,
        weekdays=weekdays,
        removed=removed,
        extra=dict(raw.model_extra or {}),
    )


# --------------------------------------------------------------------------- repair


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_UNUSUAL_SPACE = re.compile(r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_SPACES_AROUND_NEWLINE = re.compile(r" *\n *")
_EXTRA_BLANK_LINES = re.compile(r"\n{3,}")


def cap_text(text: str, max_chars: int) -> tuple[str, list[RemovedBlock]]:
    """The first `max_chars` characters (cut at a paragraph end when one is near), so work stays bounded."""
    if len(text) <= max_chars:
        return text, []
    cut = text.rfind("\n\n", max_chars // 2, max_chars)
    cut = cut if cut > 0 else max_chars
    tail = text[cut:]
    block = RemovedBlock(
        text=tail[:200].strip() + " …",
        reason=f"beyond the first {max_chars:,} characters: not read ({len(tail):,} chars)",
    )
    return text[:cut], [block]


def check_not_binary(text: str) -> None:
    """Raise for binary data: control and undecodable characters are rare in any real text."""
    sample = text[:20_000]
    if not sample:
        return
    # Control characters by regex; the per-character category check only for the (few) non-ASCII ones.
    bad = len(_ASCII_CONTROL.findall(sample)) + sum(
        1 for ch in _NON_ASCII.findall(sample) if ch == "\ufffd" or _is_binary_char(ch)
    )
    if bad / len(sample) > _BINARY_SHARE:
        raise UnusableArticle(
            f"text looks like binary data: {bad / len(sample):.0%} of its first {len(sample):,} characters "
            "are control or undecodable characters (check the feed's encoding and content type)"
        )


_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_LETTER = re.compile(r"[^\W\d_]")
_SPACE = re.compile(r"\s")
_ASCII_LETTERS = string.ascii_letters.encode()
# A text with fewer letters than this share of its visible characters is symbol soup.
_MIN_LETTER_SHARE = 0.4


def _is_binary_char(ch: str) -> bool:
    return ch not in "\n\r\t\f" and unicodedata.category(ch) in ("Cc", "Co", "Cs", "Cn")


def check_readable(text: str, title: str | None) -> None:
    """Raise when the text has no words and there is no title: symbol soup is not an article."""
    if title:
        return
    sample = text[:20_000]
    if _plainly_readable(sample):
        return
    visible = len(sample) - len(_SPACE.findall(sample))
    letters = len(_LETTER.findall(sample))
    if visible == 0:
        raise UnusableArticle("empty article: the text is only whitespace or markup, and there is no title")
    if letters / visible < _MIN_LETTER_SHARE or not _has_two_words(sample):
        raise UnusableArticle(
            f"text has no readable words ({letters / visible:.0%} letters): binary or encoded data, not an article"
        )


def _plainly_readable(sample: str) -> bool:
    """ASCII letters alone make up the share of letters `check_readable` asks for, and there are words:
    a cheap test that passes nearly every article (counting all letters by regex is slow)."""
    data = sample.encode("utf-8", "replace")
    ascii_letters = len(data) - len(data.translate(None, _ASCII_LETTERS))
    return ascii_letters >= _MIN_LETTER_SHARE * len(sample) and _has_two_words(sample)


def _has_two_words(text: str) -> bool:
    """At least two words (stops looking after the second)."""
    return next(islice(_WORD.finditer(text), 1, None), None) is not None


def repair_text(text: str) -> str:
    """Mojibake repaired, control characters removed, line endings and spaces normalised.

    Plain ASCII without entities has nothing for ftfy to fix (it is slow on many short lines).
    """
    if not text.isascii() or "&" in text:
        text = _fix_mojibake(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = text.replace("\f", "\n\n").replace("\u0085", "\n")
    text = _CONTROL.sub("", text)
    # Each substitution only where it changes something: most texts are single-spaced already.
    if "  " in text or _UNUSUAL_SPACE.search(text):
        text = _SPACES.sub(" ", text)
    if " \n" in text or "\n " in text:
        text = _SPACES_AROUND_NEWLINE.sub("\n", text)
    if "\n\n\n" in text:
        text = _EXTRA_BLANK_LINES.sub("\n\n", text)
    return text.strip()


# ftfy fixes text line by line, each line with its "\n".
_FTFY_LINE = re.compile(r"[^\n]*\n|[^\n]+")


def _fix_mojibake(text: str) -> str:
    """ftfy.fix_text, run only on the lines that can need it: a plain ASCII line has nothing to fix.

    Like ftfy, it stops unescaping HTML entities after the first line with a "<" in it.
    """
    out = []
    markup_seen = False
    for needs_fix, lines in groupby(_FTFY_LINE.findall(text), key=_needs_ftfy):
        chunk = "".join(lines)
        out.append(ftfy.fix_text(chunk, unescape_html=False if markup_seen else "auto") if needs_fix else chunk)
        markup_seen = markup_seen or "<" in chunk
    return "".join(out)


def _needs_ftfy(line: str) -> bool:
    """Non-ASCII text, an HTML entity, or a terminal escape sequence: what ftfy fixes beyond control characters
    and line breaks (which `repair_text` normalises the same way)."""
    return not line.isascii() or "&" in line or "\x1b" in line


def repair_line(text: str) -> str | None:
    """A one-line field (title, source) repaired and on one line; None when empty."""
    line = " ".join(repair_text(text).split())
    return line or None


# --------------------------------------------------------------------------- HTML


_HTML_TAG = re.compile(
    r"<(?:!doctype\b|/?(?:html|head|body|p|div|br|span|a|h[1-6]|article|section|ul|ol|li|table|tr|td|script|style"
    r"|meta|img|strong|em|figure|figcaption|nav|footer|header|aside|main|time|blockquote)\b)[^>]*>",
    re.I,
)
_BLOCK_TAGS = {
    "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "article", "section", "header",
    "footer", "blockquote", "figure", "figcaption", "pre", "table", "tr", "dd", "dt", "dl", "main", "hr", "address",
}  # fmt: skip
_SKIP_TAGS = {"script", "style", "noscript", "template", "svg", "iframe", "button", "select", "canvas"}
_FURNITURE_TAGS = {"nav": "navigation", "footer": "footer", "aside": "sidebar", "form": "form"}
_FURNITURE_CLASS = {
    "nav", "navbar", "navigation", "menu", "footer", "sidebar", "comments", "comment", "related", "share", "sharing",
    "social", "newsletter", "subscribe", "subscription", "cookie", "cookies", "consent", "advert", "advertisement",
    "ad", "ads", "promo", "breadcrumb", "breadcrumbs", "popup", "modal", "signup", "paywall", "recirculation",
}  # fmt: skip
_PUBLISHED_META = {
    "article:published_time", "datepublished", "pubdate", "publishdate", "publish-date", "publish_date", "date",
    "dc.date.issued", "dc.date", "parsely-pub-date", "sailthru.date", "og:published_time", "article.published",
}  # fmt: skip
_CLASS_NAME_PARTS = re.compile(r"[-_]")
_JSONLD_PUBLISHED = re.compile(r'"datePublished"\s*:\s*"([^"]{6,40})"')


@dataclass
class PageHints:
    """Metadata an HTML page states about itself (meta tags, h1, <title>)."""

    title: str | None = None
    site_name: str | None = None
    published: str | None = None


@dataclass
class HtmlPage:
    text: str
    hints: PageHints
    removed: list[RemovedBlock]


def looks_like_html(text: str) -> bool:
    """Several real HTML tags: a stray "<b>" in plain text is not a page."""
    count = 0
    for _ in _HTML_TAG.finditer(text, 0, min(len(text), 50_000)):
        count += 1
        if count >= 3:
            return True
    return False


def html_to_text(html: str) -> HtmlPage:
    """Text of the page, blocks on their own paragraphs; nav/footer/aside/related boxes removed with reasons.

    Removal by class names ("related", "share", ...) is undone when it would remove most of
    the page, since a class name is only a hint.
    """
    page = _parse_html(html, use_classes=True)
    kept = len(page.text.split())
    dropped = sum(len(b.text.split()) for b in page.removed if "class" in b.reason)
    if dropped > kept:
        page = _parse_html(html, use_classes=False)
    return page


def _parse_html(html: str, *, use_classes: bool) -> HtmlPage:
    parser = _HtmlText(use_classes)
    parser.feed(html)
    parser.close()
    parser.flush_open()
    hints = parser.hints
    if hints.published is None and (m := _JSONLD_PUBLISHED.search(html)):
        hints.published = m.group(1)
    title = parser.h1 or parser.og_title or _title_without_site(parser.title_tag)
    hints.title = repair_line(title) if title else None
    removed = parser.removed + [RemovedBlock(text=f"{parser.tags} HTML tags", reason="html markup stripped to text")]
    return HtmlPage(text="".join(parser.parts), hints=hints, removed=removed)


_TITLE_SEPARATOR = re.compile(r"\s+[|–—-]\s+")


def _title_without_site(title: str | None) -> str | None:
    """'Headline | Site' -> 'Headline': page titles carry the site name after a separator."""
    if not title:
        return None
    parts = _TITLE_SEPARATOR.split(title)
    return parts[0] if len(parts[0].split()) >= 3 else title


class _HtmlText(HTMLParser):
    """Collects block-separated text, removed furniture elements and page metadata."""

    def __init__(self, use_classes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.use_classes = use_classes
        self.parts: list[str] = []
        self.removed: list[RemovedBlock] = []
        self.hints = PageHints()
        self.tags = 0
        self.title_tag: str | None = None
        self.h1: str | None = None
        self.og_title: str | None = None
        self._skip: list[list] = []  # [tag, depth]
        self._drop: list[list] = []  # [tag, depth, reason, text parts]
        self._capture: dict[str, list[str]] = {}
        self._article_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags += 1
        attr = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            self._meta(attr)
            return
        if self._nest(self._skip, tag) or self._nest(self._drop, tag, "\n"):
            return
        if tag in _SKIP_TAGS:
            self._skip.append([tag, 1])
            return
        reason = self._furniture(tag, attr)
        if reason:
            self._drop.append([tag, 1, reason, []])
            return
        if tag in ("article", "main"):
            self._article_depth += 1
        if tag in ("title", "h1") and tag not in self._capture:
            self._capture[tag] = []
        self._block(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._unnest(self._skip, tag):
            return
        if self._drop:
            top = self._drop[-1]
            if self._unnest(self._drop, tag):
                if not self._drop or top is not self._drop[-1]:
                    self._emit_removed(top)
            elif tag in _BLOCK_TAGS:
                top[3].append("\n")
            return
        if tag in self._capture:
            text = " ".join("".join(self._capture.pop(tag)).split())
            if tag == "title" and self.title_tag is None:
                self.title_tag = text or None
            if tag == "h1" and self.h1 is None:
                self.h1 = text or None
        if tag in ("article", "main") and self._article_depth:
            self._article_depth -= 1
        self._block(tag)

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._drop:
            self._drop[-1][3].append(data)
            return
        for buf in self._capture.values():
            buf.append(data)
        if "title" not in self._capture:
            self.parts.append(data)

    def flush_open(self) -> None:
        """Furniture elements left open at the end of the page are still removed."""
        while self._drop:
            self._emit_removed(self._drop.pop())

    def _nest(self, stack: list[list], tag: str, sep: str | None = None) -> bool:
        """Inside a skipped/dropped element: count nested same-name tags, swallow the rest."""
        if not stack:
            return False
        if tag == stack[-1][0]:
            stack[-1][1] += 1
        if sep and tag in _BLOCK_TAGS:
            stack[-1][3].append(sep)
        return True

    def _unnest(self, stack: list[list], tag: str) -> bool:
        if not stack:
            return False
        if tag == stack[-1][0]:
            stack[-1][1] -= 1
            if stack[-1][1] == 0:
                stack.pop()
        return True

    def _emit_removed(self, entry: list) -> None:
        text = " ".join("".join(entry[3]).split())
        if text:
            self.removed.append(RemovedBlock(text=text, reason=entry[2]))

    def _block(self, tag: str) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n\n")

    def _furniture(self, tag: str, attr: dict[str, str]) -> str | None:
        if tag == "figcaption":
            return "photo caption (html figcaption)"
        if tag in _FURNITURE_TAGS:
            return f"site chrome: html <{tag}> {_FURNITURE_TAGS[tag]}"
        if tag == "header" and not self._article_depth:
            return "site chrome: html page <header>"
        if self.use_classes:
            for token in f"{attr.get('class', '')} {attr.get('id', '')}".lower().split():
                if set(_CLASS_NAME_PARTS.split(token)) & _FURNITURE_CLASS:
                    return f"site chrome: html element class {token!r}"
        return None

    def _meta(self, attr: dict[str, str]) -> None:
        name = (attr.get("property") or attr.get("name") or attr.get("itemprop") or "").lower()
        content = " ".join(attr.get("content", "").split())
        if not content:
            return
        if name in ("og:site_name", "application-name") and not self.hints.site_name:
            self.hints.site_name = content
        elif name in ("og:title", "twitter:title") and not self.og_title:
            self.og_title = content
        elif name in _PUBLISHED_META and not self.hints.published:
            self.hints.published = content


# --------------------------------------------------------------------------- paragraphs


_TERMINAL = re.compile(r"[.!?…][\"'”’»)\]]*$")
_OPEN_LOWER = re.compile(r"^[\"'“‘«(\[]*[a-z]")
_BULLET = re.compile(r"^[•·▪●◦‣*\-–—]\s+")
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs: blank-line blocks, and each line of a block unless the block is hard-wrapped prose.

    Some scrapes put every paragraph on one line with single newlines; others wrap
    prose at a fixed width. A paragraph broken mid-sentence (no end punctuation,
    next one starting in lower case) is joined again.
    """
    paragraphs: list[str] = []
    for block in _PARAGRAPH_BREAK.split(text):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        pieces = [" ".join(lines)] if _hard_wrapped(lines) else lines
        for piece in pieces:
            if paragraphs and _continues(paragraphs[-1], piece):
                paragraphs[-1] = f"{paragraphs[-1]} {piece}"
            else:
                paragraphs.append(piece)
    return paragraphs


def _hard_wrapped(lines: list[str]) -> bool:
    """Prose wrapped at a fixed width: similar line lengths, most lines ending mid-sentence."""
    if len(lines) < 3:
        return False
    body = lines[:-1]
    width = max(len(line) for line in body)
    if not 40 <= width <= 100:
        return False
    even = sum(1 for line in body if len(line) >= 0.6 * width) >= 0.8 * len(body)
    open_ended = sum(1 for line in body if not _TERMINAL.search(line)) >= 0.6 * len(body)
    return even and open_ended


def _continues(previous: str, piece: str) -> bool:
    """`piece` is the rest of a sentence that `previous` left unfinished."""
    return (
        len(previous.split()) >= 8
        and not _TERMINAL.search(previous)
        and not previous.endswith((":", ";"))
        and bool(_OPEN_LOWER.match(piece))
    )


# --------------------------------------------------------------------------- paragraph features


_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers him his how i if in into is it its itself just me more most my no nor not now of off on once only or other
    our ours out over own same she should so some such than that the their theirs them then there these they this
    those through to too under until up very was we were what when where which while who whom why will with would
    you your yours also said says after before since though although however may might must shall""".split()
)
_REPORTING_VERBS = frozenset(
    """said says say told tells added adds stated stressed noted warned announced tweeted wrote explained insisted
    argued claimed confirmed denied reported asked replied urged reiterated accused""".split()
)
_ACCORDING_TO = re.compile(r"\baccording to\b", re.I)
_QUOTED = re.compile(r"[\"“][^\"“”]{20,}[\"”]|(?:^|\s)['‘][^'‘’]{20,}['’](?=[\s.,;:!?]|$)")
_SINGLE_QUOTE_OPENING = re.compile(r"\s['‘]")  # where `_QUOTED`'s single-quoted form can start
# Words addressing the reader ("you're", "you'll" count once, as "you").
_READER_WORDS = frozenset({"you", "your", "yours", "yourself", "please"})
# Tokens of folded text: runs of word characters (a case-insensitive "\bword\b" matches exactly when
# "word" is among them) and single symbols.
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass
class Block:
    """One paragraph and the features the rules read; `reason` is set when it is removed."""

    text: str
    core: str
    words: int
    stop_ratio: float
    sentence: bool
    reporting: bool
    reader: float
    cta: list[str]
    key: str
    folded: str  # `core` in lower case as re.IGNORECASE compares it (see `_fold`)
    reason: str | None = None
    notes: dict[str, object] = field(default_factory=dict)

    @classmethod
    def of(cls, text: str) -> Block:
        core = _BULLET.sub("", text).strip()
        words = _WORD.findall(core)
        n = len(words)
        folded = _fold(core)
        tokens = _TOKEN.findall(folded)
        token_set = set(tokens)
        stop = sum(map(_STOPWORDS.__contains__, map(str.lower, words))) / n if n else 0.0
        # The key's words are the word tokens, unless folding did more than lower-casing or "_" joins words.
        key = _key_from_tokens(tokens) if "_" not in core and folded == core.lower() else _key(core)
        return cls(
            text=text,
            core=core,
            words=n,
            stop_ratio=stop,
            sentence=bool(_TERMINAL.search(core)),
            reporting=n >= 8 and _reads_as_reporting(core, token_set),
            reader=sum(map(_READER_WORDS.__contains__, tokens)) / n if n else 0.0,
            cta=cta_labels(core, token_set),
            key=key,
            folded=folded,
        )

    @property
    def short(self) -> bool:
        return self.words < _SHORT_LINE_WORDS


def _reads_as_reporting(core: str, tokens: set[str]) -> bool:
    """A reporting verb ("said", "according to") or a quotation of some length."""
    if not _REPORTING_VERBS.isdisjoint(tokens) or ("according" in tokens and _ACCORDING_TO.search(core)):
        return True
    opens_quote = '"' in core or "“" in core or core.startswith(("'", "‘")) or _SINGLE_QUOTE_OPENING.search(core)
    return bool(opens_quote and _QUOTED.search(core))


_IGNORECASE_ALIAS = re.compile("[İıſ]")
_IGNORECASE_ALIASES = str.maketrans({"İ": "i", "ı": "i", "ſ": "s"})


def _fold(text: str) -> str:
    """`text` in lower case as re.IGNORECASE compares letters (it also takes "ı" and "İ" for "i", "ſ" for "s"),
    so that a word or fragment test on it finds what a case-insensitive pattern would."""
    if _IGNORECASE_ALIAS.search(text):
        text = text.translate(_IGNORECASE_ALIASES)
    return text.lower()


def _key(text: str) -> str:
    """Comparison key: lower case letters and digits only, so punctuation and quotes don't matter."""
    return " ".join(WORD.findall(text.lower()))


def _key_from_tokens(tokens: list[str]) -> str:
    """`_key` of a text from its `_TOKEN`s (without the cost of finding its words again)."""
    return " ".join(filter(str.isalnum, tokens))


# --------------------------------------------------------------------------- web furniture wording


# Each wording: its label, its hints (lower-case tokens, one of which every match contains) and its pattern.
# Most paragraphs contain no hint, and a set test is far cheaper than a regex scan.
_CTA: list[tuple[str, frozenset[str], re.Pattern[str]]] = [
    (label, frozenset(hints.split()), re.compile(pattern, re.I))
    for label, hints, pattern in [
        (
            "site chrome: blog controls",
            "edit blog",
            r"\bedit post\b|\bfollow this blog\b|\bcreate (?:my|your|a) blog\b",
        ),
        ("call-to-action: subscribe", "subscribe subscription subscriptions", r"\bsubscribe\b|\bsubscriptions?\b"),
        (
            "call-to-action: sign up",
            "sign signup log login account",
            r"\bsign(?:\s|-)?up\b|\bsign in\b|\blog(?:\s|-)?in\b|\bcreate an account\b",
        ),
        ("call-to-action: newsletter", "newsletter newsletters mailing", r"\bnewsletters?\b|\bmailing list\b"),
        ("call-to-action: follow", "follow like", r"\bfollow (?:us|me|our)\b|\blike us on\b"),
        ("call-to-action: share", "share tweet", r"\bshare (?:this|on|via|with us|your)\b|\btweet this\b"),
        (
            "call-to-action: comment",
            "comment comments commenting leave join",
            r"\bcomment on this\b|\bleave a (?:comment|reply)\b|\bcomments?\s*\(\d+\)|\(\d+\)\s*comments?\b"
            r"|\bjoin the (?:discussion|conversation)\b|\bcommenting\b",
        ),
        (
            "call-to-action: donate",
            "donate donation donations support readers patreon become join",
            r"\bdonat(?:e|ion|ions)\b|\bsupport (?:us|our (?:work|journalism|reporting|newsroom|mission))\b"
            r"|\bsupport of (?:our )?readers\b|\breaders like you\b|\bpatreon\b"
            r"|\bbecome an? (?:patron|member|supporter|subscriber)\b|\bjoin our community\b",
        ),
        (
            "cookie/privacy notice",
            "cookie cookies privacy terms",
            r"\bcookies?\b|\bprivacy (?:policy|policies|notice|statement|settings)\b"
            r"|\bterms (?:of (?:use|service)|and conditions)\b",
        ),
        ("copyright line", "copyright © rights", r"\bcopyright\b|©|\ball rights reserved\b"),
        (
            "advertisement",
            "advertisement advertisements ad adblocker adblockers advertising sponsored",
            r"\badvertisements?\b|\bad ?blockers?\b|\badvertising revenue\b|\bsponsored\b",
        ),
        (
            "related links",
            "read click related see further recommended like",
            r"\bread more\b|\bclick here\b|\brelated (?:posts|articles|stories|content)\b|\bsee also\b"
            r"|\bfurther reading\b|\brecommended for you\b|\byou (?:may|might) also like\b",
        ),
        (
            "reuse terms",
            "reprint hyperlink permission reproduce reproduction",
            r"\breprint\b|\bhyperlink\b|\bwritten permission\b|\breproduc(?:e|tion) of\b",
        ),
        (
            "corrections notice",
            "correction corrections report",
            r"\bsuggest(?:ions)? (?:a |or )?corrections?\b|\bcorrections? (?:or|and) clarifications?\b"
            r"|\breport (?:a|an) (?:error|typo|mistake)\b",
        ),
        (
            "contact line",
            "reached contacted write contact know email",
            r"\bcan be (?:reached|contacted)\b|\bwrite to us\b|\bcontact us\b|\blet us know\b"
            r"|\bemail (?:us|protected)\b",
        ),
        ("site chrome: keyboard hint", "ctrl press", r"\bctrl\s*\+|\bpress (?:ctrl|enter)\b"),
        (
            "affiliate disclosure",
            "amazon purchases affiliate earn",
            r"\bamazon associate\b|\bqualifying purchases\b|\baffiliate (?:links?|commissions?)\b|\bwe may earn\b",
        ),
        ("call-to-action: app", "app", r"\bdownload (?:our|the) app\b|\bget the app\b"),
    ]
]


def cta_labels(text: str, tokens: set[str]) -> list[str]:
    """Labels of the web-furniture wordings found in `text` (calls to action, notices, links),
    given the `_TOKEN`s of `_fold(text)`."""
    return [label for label, hints, pattern in _CTA if not hints.isdisjoint(tokens) and pattern.search(text)]


# --------------------------------------------------------------------------- strong rules (structure)


def _rule(
    reason: str, max_words: int, *alternatives: str, hints: tuple[str, ...] = (), overrides: bool = False
) -> tuple:
    """A structural rule: `reason`, one pattern of `alternatives`, a word cap, and whether it
    also removes paragraphs that read as reporting (only for forms reporting never takes).

    `hints` (lower-case fragments, one of which every match contains) spare most paragraphs the
    scan of a pattern that is not anchored at the start.
    """
    return reason, re.compile("|".join(alternatives), re.I), max_words, overrides, hints


_STRONG: list[tuple[str, re.Pattern[str], int, bool, tuple[str, ...]]] = [
    _rule("copyright line", 60, r"^(?:copyright\b|©|\(c\)\s*(?:19|20)\d\d)"),
    _rule(
        "copyright line",
        60,
        r"\ball rights reserved\b",
        r"©\s*(?:19|20)\d\d",
        r"\bcopyright\s*(?:©|\(c\))?\s*(?:19|20)\d\d",
        hints=("all rights reserved", "©", "copyright"),
    ),
    _rule(
        "republication notice",
        60,
        r"\b(?:republished|reprinted|reproduced) with (?:the )?permission\b",
        r"^(?:this (?:article|story) )?(?:was )?(?:originally|first) (?:published|appeared) (?:on|in|at|by)\b",
        hints=("permission", "published", "appeared"),
    ),
    _rule("funding credit", 40, r"^the work of .{2,80}? is (?:supported|funded|made possible) by\b"),
    _rule(
        "credit line",
        25,
        r"^\(?(?:with )?(?:additional )?(?:reporting|writing|editing|research) by\b",
        r"\bcontributed (?:reporting )?to (?:this|the) (?:report|story|article)\b",
        r"^(?:this|the) (?:article|story|report) (?:was|is|has been)"
        r" (?:based|compiled|produced|written|updated|corrected)\b",
        r"^(?:written|edited|compiled|produced) by\b",
        hints=(" by", "contributed", "article", "story", "report"),
    ),
    _rule(
        "author contact line",
        40,
        r"\bcan be (?:reached|contacted|emailed)\b",
        r"^(?:e-?mail|contact|reach|follow|write to) (?:him|her|them|the (?:author|writer|reporter))\b",
        hints=("can be ", "mail", "contact", "reach", "follow", "write to"),
    ),
    _rule(
        "affiliate disclosure",
        60,
        r"\bamazon associate\b",
        r"\bqualifying purchases\b",
        r"\baffiliate (?:links?|commissions?)\b",
        r"\bwe may (?:earn|receive) (?:a )?(?:small )?(?:commission|compensation)\b",
        hints=("amazon associate", "qualifying purchases", "affiliate ", "we may "),
    ),
    _rule(
        "photo caption",
        100,
        r"^\(?(?:from )?(?:left to right|right to left|l\s*(?:-|to)\s*r)\)?\s*[:,]",
        r"^(?:pictured|photo|photograph|image|caption|file photo|above|top|main image|in the photo)\s*:",
        overrides=True,
    ),
    _rule(
        "comment policy",
        40,
        r"\bcomment(?:ing)? polic(?:y|ies)\b",
        r"\bcommunity (?:guidelines|standards)\b",
        hints=("polic", "community "),
    ),
    _rule(
        "comment section",
        10,
        r"^\(?\d+\)?\s+comments?$",
        r"^comments?(?:\s*\(\d+\))?$",
        r"^comment on this (?:post|article|story)$",
        r"^(?:leave|post|add|write|show|view|load|see|read) (?:a |the |all )?(?:\d+ )?(?:comments?|reply|replies)\b",
        r"^(?:welcome to|join) the (?:discussion|conversation)\b",
        overrides=True,
    ),
    _rule(
        "related links",
        40,
        r"^(?:see also|read more|read also|also read|related|more on this|read next|watch|listen|recommended"
        r"|more from [\w .&'-]{2,40})\s*:",
        overrides=True,
    ),
    _rule(
        "related links heading",
        8,
        r"^(?:related|more|similar|popular|latest|top) (?:posts|articles|stories|news|coverage|content|reading|reads)$",
        r"^(?:further reading|recommended(?: for you| reading| stories)?|you (?:may|might) also (?:like|enjoy)"
        r"|most (?:popular|read|viewed|shared)|trending(?: now| stories)?|don't miss|editor'?s picks?|read next"
        r"|up next)\s*:?$",
        overrides=True,
    ),
    _rule(
        "cookie/privacy notice",
        40,
        r"\b(?:privacy|cookies?)(?: (?:and|&) (?:privacy|cookies?))? (?:polic(?:y|ies)|notice|statement|settings"
        r"|preferences)\b",
        r"\bwe use cookies\b",
        r"\baccept (?:all )?cookies\b",
        hints=("privacy", "cookie"),
    ),
    _rule(
        "site chrome: tags/categories",
        30,
        r"^(?:tags?|tagged(?: with)?|categories|category|filed under|topics)\s*:",
    ),
    _rule(
        "advertisement",
        5,
        r"^(?:advertisement|advertising|sponsored(?: content)?|ad|story continues below(?: advertisement)?"
        r"|continue reading below)$",
        overrides=True,
    ),
]

_NAV_FIRST = {
    "more", "menu", "home", "share", "print", "email", "next", "previous", "back", "skip", "search", "login",
    "load", "show", "view", "tweet", "pin", "top",
}  # fmt: skip
_WIRE_LINE = re.compile(r"^(?:[A-Z][\w&.'’-]*\s+){0,4}(?:Wire|Newswire|News Service|Wire Service|News Agency)$")
_EMAIL = re.compile(r"\b[\w.+-]+@((?:[\w-]+\.)+[a-z]{2,})\b", re.I)
_BYLINE = re.compile(r"^by\s+\S", re.I)


def strong_reason(b: Block) -> str | None:
    """Reason for removing a paragraph by its form alone: date lines, notices, captions, credits, link labels."""
    for rule in (_date_line_reason, _pattern_reason, _caption_credit_reason, _line_reason):
        reason = rule(b)
        if reason:
            return reason
    return None


def _date_line_reason(b: Block) -> str | None:
    """A paragraph that is only a date (with an optional "Posted on"/time) is page furniture, not reporting."""
    if b.words > 15:
        return None
    found = parse_date_line(b.core)
    if found is None:
        return None
    b.notes["date_line"] = found
    return "date line"


def _pattern_reason(b: Block) -> str | None:
    for reason, pattern, max_words, overrides, hints in _STRONG:
        if (
            b.words <= max_words
            and (overrides or not b.reporting)
            and (not hints or any(map(b.folded.__contains__, hints)))
            and pattern.search(b.core)
        ):
            return reason
    return None


_AGENCY_CREDIT = re.compile(
    r"(?:\bvia (?:Getty Images|AP|Reuters|AFP|Shutterstock|Alamy|EPA)\b|\b(?:Getty Images|AFP|AP Photo|EPA|Reuters"
    r"|Shutterstock|Alamy|Pool|Bloomberg)\b)"
)
_LABELLED_CREDIT = re.compile(
    r"\b(?:photo|photograph|image|picture|screenshot|screengrab|illustration|graphic|video|credit|courtesy|source)s?"
    r"(?: by| of| credit)?\s*:\s*[^.!?:]{1,60}$",
    re.I,
)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _caption_credit_reason(b: Block) -> str | None:
    """A paragraph ending in an image credit ("Photo: X", "X/Pool/AFP via Getty Images") is a caption."""
    if b.sentence:
        return None
    tail = _SENTENCE_END.split(b.core)[-1]
    if len(tail.split()) > 14 or "://" in tail or "www." in tail:
        return None
    if _LABELLED_CREDIT.search(tail) or ("/" in tail and _AGENCY_CREDIT.search(tail)) or tail.count("/") >= 2:
        return "photo caption"
    return None


def _line_reason(b: Block) -> str | None:
    """Short lines without a sentence: bylines, wire credits, navigation labels, calls to action."""
    if b.sentence or b.words > 12:
        return None
    if _BYLINE.match(b.core) and b.words <= 10:
        return "byline"
    if _WIRE_LINE.match(b.core):
        return "wire credit line"
    first = b.core.split()[0].lower() if b.core.split() else ""
    last = b.core.split()[-1].lower() if b.core.split() else ""
    if b.words <= 5 and (first in _NAV_FIRST or last == "more"):
        return "navigation link"
    if b.cta and not b.reporting:
        return b.cta[0]
    if _EMAIL.search(b.core):
        return "author contact line"
    return None


# --------------------------------------------------------------------------- classification


def classify(blocks: list[Block], given_title: str | None) -> str | None:
    """Set `reason` on every furniture block; return the title (given, or the headline found at the top)."""
    for b in blocks:
        b.reason = strong_reason(b)
    tail = tail_start(blocks)
    first, last = body_span(blocks, tail)
    title = given_title or pick_headline(blocks, first)
    if title:
        mark_title(blocks, title, found=given_title is None)
    mark_repeats(blocks)
    after_tail = tail_kinds(blocks, tail)
    for i, b in enumerate(blocks):
        if b.reason is not None:
            continue
        kind = after_tail.get(i)
        if kind == "comment policy":
            b.reason = "comment policy (below the comments marker)"
            continue
        edge = first is None or i < first or i > last
        b.reason = weak_reason(b, edge) or (f"{kind} (below the end-of-article marker)" if kind else None)
    return title


_TAIL_MARKERS = ("comment section", "comment policy", "related links heading")


def tail_start(blocks: list[Block]) -> int | None:
    """Index of the end-of-article marker (comments, related links) after which no reporting follows."""
    candidate = None
    for i in range(len(blocks) - 1, -1, -1):
        b = blocks[i]
        if b.reason is None and b.reporting:
            break
        if b.reason in _TAIL_MARKERS:
            candidate = i
    if candidate is None or not any(b.reason is None and b.reporting for b in blocks[:candidate]):
        return None
    below = sum(len(b.text) for b in blocks[candidate:])
    above = sum(len(b.text) for b in blocks[:candidate])
    return candidate if below < above else None


def tail_kinds(blocks: list[Block], tail: int | None) -> dict[int, str]:
    """For each unmarked block below the end-of-article marker: comment policy or related links,
    by the nearest marker above it."""
    if tail is None:
        return {}
    kinds, kind = {}, "related links"
    for i in range(tail, len(blocks)):
        reason = blocks[i].reason
        if reason in _TAIL_MARKERS:
            kind = "comment policy" if reason.startswith("comment") else "related links"
        elif reason is None:
            kinds[i] = kind
    return kinds


def body_like(b: Block) -> bool:
    """A paragraph that is plainly reporting: anchors the body, so what lies outside it is the page edge."""
    if b.reason is not None:
        return False
    if b.reporting and not b.cta:
        return True
    return b.sentence and b.words >= 10 and b.stop_ratio >= 0.25 and not b.cta and b.reader < 0.03


def body_span(blocks: list[Block], tail: int | None) -> tuple[int | None, int | None]:
    """First and last body paragraph (before the tail marker); (None, None) when none is clear."""
    end = len(blocks) if tail is None else tail
    idx = [i for i in range(end) if body_like(blocks[i])]
    if not idx:
        idx = [i for i in range(end) if blocks[i].reason is None and blocks[i].sentence and not blocks[i].cta]
    return (idx[0], idx[-1]) if idx else (None, None)


def weak_reason(b: Block, edge: bool) -> str | None:
    """Reason for removing a paragraph by its wording; stricter at the page edges than inside the body.

    Reporting paragraphs (a reporting verb or a quotation) are never removed here.
    """
    if b.reporting:
        return None
    addressed = b.reader >= 0.05 or b.core.lower().startswith("please ")
    if edge:
        if b.cta:
            return b.cta[0]
        if addressed:
            return "site notice addressing the reader"
        if not b.sentence and b.words <= 40:
            return "site chrome: short line without sentence"
        if b.words >= 4 and b.stop_ratio < 0.12 and not b.sentence:
            return "site chrome: few function words (names or links)"
        if b.words <= 15 and _capitalised_share(b.core) >= 0.8:
            return "site chrome: title-case label"
        return None
    if b.cta and (len(b.cta) >= 2 or addressed or not b.sentence or b.words <= 12):
        return b.cta[0]
    if addressed and b.core.lower().startswith(("please ", "click ", "tap ", "subscribe ", "sign up")):
        return "site notice addressing the reader"
    if not b.sentence and b.words < _SHORT_LINE_WORDS and not b.core.endswith(":") and not _BULLET.match(b.text):
        return "headline-like line inside the text (link or subheading)"
    return None


def _capitalised_share(text: str) -> float:
    """Share of words starting with a capital: labels and link lists are Title Case, sentences are not."""
    words = _WORD.findall(text)
    return sum(1 for w in words if w[0].isupper()) / len(words) if words else 0.0


def mark_repeats(blocks: list[Block]) -> None:
    """Lines printed more than once: short ones are site chrome (all copies), long ones keep the first copy."""
    counts = Counter(b.key for b in blocks if b.key)
    seen: set[str] = set()
    for b in blocks:
        if not b.key or counts[b.key] < 2:
            continue
        if b.reason is None:
            if not b.sentence and b.short:
                b.reason = "repeated line (site chrome)"
            elif b.key in seen:
                b.reason = "repeated paragraph"
        seen.add(b.key)


# --------------------------------------------------------------------------- title


_HEADLINE_SEARCH = 30  # the headline is among the first paragraphs of a page, never deeper


def pick_headline(blocks: list[Block], first_body: int | None) -> str | None:
    """The headline: a short line above the body without sentence punctuation, preferably repeated,
    else the one nearest the body (site names and taglines sit higher up).

    A line repeated right after itself, or named inside a copyright/credit line, is the
    site's name, not a headline.
    """
    top = range(min(first_body if first_body is not None else 3, _HEADLINE_SEARCH, len(blocks)))
    candidates = [i for i in top if _headline_like(blocks[i])]
    if not candidates:
        return None
    furniture = " \n ".join(b.core.lower() for b in blocks if b.reason and b.reason != "date line")
    candidates = [i for i in candidates if blocks[i].core.lower() not in furniture]
    if not candidates:
        return None
    where: dict[str, list[int]] = {}
    for j, b in enumerate(blocks):
        where.setdefault(b.key, []).append(j)

    def score(i: int) -> tuple[bool, int, int]:
        same = where[blocks[i].key]
        adjacent = any(b - a == 1 for a, b in zip(same, same[1:]))
        return (len(same) > 1 and not adjacent, -int(adjacent), i)

    best = max(candidates, key=score)
    return blocks[best].core


def _headline_like(b: Block) -> bool:
    if b.reason is not None or b.words < 3 or b.words > 30 or len(b.core) < 12:
        return False
    return not b.core.endswith((".", ":", ";", ",")) and not b.cta


def mark_title(blocks: list[Block], title: str, *, found: bool) -> None:
    """Copies of the title in the text: the first is the headline (moved to `title`), the rest are repeats."""
    key = _key(title)
    first = True
    for b in blocks:
        if b.key and b.key == key:
            b.reason = "headline (kept as title)" if found and first else "repeated headline"
            first = False


# --------------------------------------------------------------------------- outlet


_COPYRIGHT_NAME = re.compile(
    r"(?:copyright|©|\(c\))(?:\s*(?:©|\(c\)))?\s*(?:(?:19|20)\d\d(?:\s*[-–]\s*(?:19|20)\d\d)?)?"
    r"\s*[.,]?\s*(?:by\s+)?"
    r"(?P<name>[A-Z][^\n.,;|©]{1,60}?)\s*(?:,?\s*(?:Inc|LLC|Ltd|Limited|Corp|Co|GmbH|plc|S\.A|AG)\b\.?)?\s*"
    r"(?:[.,;|]|\ball rights reserved|$)",
    re.I,
)
_REPUBLISHED_NAME = re.compile(
    r"\b(?:republished|reprinted|reproduced) with (?:the )?permission (?:of|from) (?P<name>[^.,;\n]{2,80}?)"
    r"(?:,|\.(?:\s|$)|;|$| in \b| from \b)",
    re.I,
)
_WORK_OF_NAME = re.compile(r"^the work of (?P<name>.{2,80}?) is (?:supported|funded|made possible) by\b", re.I)
_DATELINE_CREDIT = re.compile(
    r"^[A-Z]{2,}[A-Z .'-]{0,30}(?:,\s*[A-Z][a-z]{2,8}\.?\s+\d{1,2})?\s*\((?P<name>[A-Z][\w .&'-]{1,30})\)\s*[-–—:]"
)
_WEBMAIL = {"gmail", "googlemail", "yahoo", "hotmail", "outlook", "live", "msn", "aol", "icloud", "me", "mac",
            "protonmail", "proton", "gmx", "yandex", "mail", "zoho", "fastmail"}  # fmt: skip


def find_outlet(raw: RawArticle, hints: PageHints, blocks: list[Block]) -> str | None:
    """The outlet: the feed's source, else what the page says about itself, else the url's domain; never a guess."""
    if raw.source and (source := repair_line(raw.source)):
        return source
    for finder in (
        lambda: repair_line(hints.site_name) if hints.site_name else None,
        lambda: _outlet_by_pattern(blocks, _COPYRIGHT_NAME, ("copyright line",)),
        lambda: _outlet_by_pattern(blocks, _REPUBLISHED_NAME, ("republication notice", "copyright line")),
        lambda: _outlet_by_pattern(blocks, _WORK_OF_NAME, ("funding credit",)),
        lambda: _outlet_from_wire_credit(blocks),
        lambda: _outlet_from_contact(blocks),
        lambda: _outlet_from_name_line(blocks),
        lambda: _outlet_from_banner(blocks),
        lambda: _outlet_from_dateline(blocks),
        lambda: outlet_from_domain(_url_host(raw.url)) if raw.url else None,
    ):
        name = finder()
        if name:
            return _tidy_name(name)
    return None


def _url_host(url: str) -> str:
    """The host of a url, "" for a malformed one (a feed's url field is free text)."""
    try:
        return urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""


def _tidy_name(name: str) -> str:
    return " ".join(name.split()).strip(" .,;:-–—|")


def _outlet_by_pattern(blocks: list[Block], pattern: re.Pattern[str], reasons: tuple[str, ...]) -> str | None:
    """The name captured by `pattern` in a block removed for one of `reasons`."""
    for b in blocks:
        if b.reason in reasons:
            for m in pattern.finditer(b.core):
                name = _tidy_name(m.group("name"))
                if _plausible_name(name):
                    return name
    return None


def _plausible_name(name: str) -> bool:
    low = name.lower()
    return (
        1 <= len(name.split()) <= 8
        and any(ch.isalpha() for ch in name)
        and not low.startswith(("all rights", "the author", "the authors", "copyright"))
    )


def _outlet_from_wire_credit(blocks: list[Block]) -> str | None:
    """A wire service credit line ("X Wire", "X News Service") standing alone."""
    for b in reversed(blocks):
        if b.reason == "wire credit line":
            return b.core
    return None


def _outlet_from_contact(blocks: list[Block]) -> str | None:
    """The domain of an author's contact address ("can be reached at x@example.com")."""
    for b in blocks:
        if b.reason == "author contact line" or (b.reason and "contact" in b.reason):
            for m in _EMAIL.finditer(b.core):
                name = outlet_from_domain(m.group(1))
                if name:
                    return name
    return None


def _outlet_from_name_line(blocks: list[Block]) -> str | None:
    """A standalone Title-Case name line at the bottom that the page also names elsewhere."""
    last_kept = max((i for i, b in enumerate(blocks) if b.reason is None), default=-1)
    for i in range(len(blocks) - 1, max(last_kept, len(blocks) - 16), -1):
        b = blocks[i]
        if b.reason not in ("site chrome: short line without sentence", "repeated line (site chrome)"):
            continue
        if not _name_like(b.core):
            continue
        needle = b.core.lower()
        if any(needle in o.core.lower() for j, o in enumerate(blocks) if j != i and o.key != b.key):
            return b.core
    return None


def _outlet_from_banner(blocks: list[Block]) -> str | None:
    """A site or blog name printed more than once at the top, above the body."""
    first_kept = next((i for i, b in enumerate(blocks) if b.reason is None), len(blocks))
    counts = Counter(b.key for b in blocks[:first_kept])
    for b in blocks[:first_kept]:
        if b.reason == "repeated line (site chrome)" and counts[b.key] >= 2 and _name_like(b.core):
            return b.core
    return None


def _outlet_from_dateline(blocks: list[Block]) -> str | None:
    """A wire dateline credit: "CITY (Agency) - ..." at the start of the first paragraph."""
    for b in blocks:
        if b.reason is None:
            m = _DATELINE_CREDIT.match(b.core)
            return m.group("name") if m else None
    return None


def _name_like(text: str) -> bool:
    """1-5 words, each capitalised (or a short connector), no sentence punctuation."""
    words = text.split()
    if not 1 <= len(words) <= 5 or _TERMINAL.search(text):
        return False
    return all(w[0].isupper() or w[0].isdigit() or w.lower() in ("of", "the", "and", "&", "for", "de") for w in words)


def outlet_from_domain(host: str) -> str | None:
    """A readable outlet from a domain: "washingtontimes.com" -> "Washington Times", else the bare domain.

    Webmail domains name no outlet.
    """
    labels = [p for p in host.lower().strip(".").split(".") if p]
    while len(labels) > 2 and labels[0] in ("www", "m", "amp", "mobile", "mail", "edition", "news"):
        labels = labels[1:]
    if len(labels) < 2:
        return None
    second_level = len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in ("co", "com", "org", "net", "ac", "gov")
    base_labels = labels[-3:] if second_level else labels[-2:]
    base = base_labels[0]
    if base in _WEBMAIL:
        return None
    domain = ".".join(base_labels)
    words = [w for part in base.split("-") for w in (_segment(part) or (part,))]
    if len(words) >= 2 and all(w.isalpha() for w in words):
        return " ".join(w.capitalize() for w in words)
    return domain


@lru_cache(maxsize=4096)
def _segment(label: str) -> tuple[str, ...] | None:
    """Split a run-together domain label into common English words (fewest pieces), or None."""
    if not label.isalpha() or len(label) > 30:
        return None
    n = len(label)
    best: list[tuple[int, float, tuple[str, ...]] | None] = [None] * (n + 1)
    best[0] = (0, 0.0, ())
    for i in range(n):
        if best[i] is None:
            continue
        pieces, cost, words = best[i]
        for j in range(i + 3, min(n, i + 20) + 1):
            freq = zipf_frequency(label[i:j], "en")
            if freq < 3.0:
                continue
            candidate = (pieces + 1, cost - freq, words + (label[i:j],))
            if best[j] is None or candidate[:2] < best[j][:2]:
                best[j] = candidate
    return best[n][2] if best[n] else None


# --------------------------------------------------------------------------- dates


_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_name) if m}
_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_abbr) if m})
_MONTHS["sept"] = 9
_MONTH_WORDS = sorted(_MONTHS, key=len, reverse=True)
_M = "(?:" + "|".join([w.capitalize() for w in _MONTH_WORDS] + [w.upper() for w in _MONTH_WORDS]) + ")"
_Y = r"(?:19|20)\d\d"
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
_WEEKDAY_NAME = re.compile("|".join(_WEEKDAYS))
# Where a date can start: a digit or a month's initial, not preceded by a word character.
_DATE_START = re.compile(r"[\dJFMASOND](?<!\w.)")
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
    for start in _DATE_START.finditer(text):
        if start.start() >= pos and (m := _DATE.match(text, start.start())):
            yield m
            pos = m.end()


def _weekday_matches(text: str) -> Iterator[re.Match[str]]:
    """`_WEEKDAY.finditer(text)`, with the pattern tried only at each weekday name (a fast literal search),
    or at the "last"/"next"/"this"/"coming" before it: the same matches, found much faster."""
    pos = 0
    for name in _WEEKDAY_NAME.finditer(text):
        day = name.start()
        if day < pos:
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
    """A feed's date: ISO 8601, RFC 2822, or free text like "January 13, 2022 1:03am"; UTC when no zone is given."""
    if not value or not value.strip():
        return None
    s = " ".join(value.split())
    for parse in (_parse_iso, _parse_rfc2822, _parse_free):
        found = parse(s)
        if found is not None:
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


# --------------------------------------------------------------------------- language


@lru_cache(maxsize=1)
def _language_identifier():
    """py3langid's model with normalised probabilities (loaded once: it takes most of a second)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of `text`, or None when it is too short or too mixed to tell."""
    sample = text[:600]  # a few sentences identify a language; py3langid's cost grows with the text
    words = _WORD.findall(sample)
    letters = _letter_count(words)
    if len(words) < 4 or letters < 20:
        return None
    if _evidently_english(sample, words, letters):
        return "en"
    language, probability = _language_identifier().classify(sample)
    return language if probability >= 0.5 else None


# py3langid takes most of a millisecond per article, and most articles are plainly English. On tens of
# thousands of English, foreign and mixed-language samples it said "en" for every one that passes
# `_evidently_english`; it disagreed on some mixed samples with fewer words or fewer common ones.
_ENGLISH_MIN_WORDS = 40
_ENGLISH_COMMON_SHARE = 0.8
_ENGLISH_LETTER_SHARE = 0.9


@lru_cache(maxsize=1)
def _common_english_words() -> frozenset[str]:
    """The 5,000 commonest English words (wordfreq's list)."""
    return frozenset(top_n_list("en", 5000))


def _evidently_english(sample: str, words: list[str], letters: int) -> bool:
    """Enough words, all in ASCII letters, nearly all among the commonest English words, and few digits or
    symbols (tables of figures are left to py3langid)."""
    if len(words) < _ENGLISH_MIN_WORDS or not "".join(words).isascii():
        return False
    visible = sum(map(len, sample.split()))
    common = sum(map(_common_english_words().__contains__, map(str.lower, words)))
    return letters >= _ENGLISH_LETTER_SHARE * visible and common >= _ENGLISH_COMMON_SHARE * len(words)


def _letter_count(words: list[str]) -> int:
    """Letters in the `_WORD`s of a text, which hold all its letters: their characters but the apostrophes."""
    joined = "".join(words)
    return len(joined) - joined.count("'") - joined.count("’")
