"""HTML pages to text: block elements become paragraphs, page furniture elements (nav, footer, aside,
"related"/"share" boxes) are removed with their reasons, and the metadata the page states about itself
(title, site name, publication date) is kept as `PageHints`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from schemas.articles import RemovedBlock
from streams.pipeline.clean.repair import repair_line

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
# Elements without content or end tag (HTML's void elements): one never opens anything to skip or drop.
_VOID_TAGS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "source", "track", "wbr"}
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
# How html.parser finds the end of a comment, and of a marked section (its "]]>" and "]>" both end in this).
_COMMENT_CLOSE = re.compile(r"--\s*>")
_SECTION_CLOSE = re.compile(r"]\s*>")
# html.parser reads a start tag that never closes to the end of the page twice (feeding, then closing), and a real
# page has one such tag at most (after a stray quote, or cut at the page's end). Such tags may read the page this
# many times over, two of them; past that the page is not one a browser shows, and its other start tags are text.
_UNCLOSED_TAG_READS = 4
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
    parser.read(html)
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


def _escape_tail(markup: str) -> str:
    """Each "<" after the last ">" as "&lt;": nothing opened there can close (every tag, comment and declaration
    ends in a ">"), so html.parser gives it as text either way, but only after looking for a ">" from each "<" to
    the end of the page ("<a<a<a..." took quadratic time)."""
    last = markup.rfind(">")
    if "<" not in markup[last + 1 :]:
        return markup
    return markup[: last + 1] + markup[last + 1 :].replace("<", "&lt;")


def _last_start(pattern: re.Pattern[str], text: str) -> int:
    return max((m.start() for m in pattern.finditer(text)), default=-1)


class _HtmlText(HTMLParser):
    """Collects block-separated text, removed furniture elements and page metadata.

    html.parser (Python 3.11's) reads a comment, a marked section or a start tag that does not close to the end of
    the page, then takes it as text up to the next ">" and goes on from there: a page of many such openings took
    quadratic time. `read` and the parse_ methods below keep it linear; real pages parse the same.
    """

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
        self._page_chars = 0
        self._comment_close = self._section_close = -1  # where the page's last "-->", "]>" starts
        self._unclosed_reads = 0  # characters read by start tags that did not close

    def read(self, markup: str) -> None:
        """Parse a whole page, fed at once: what html.parser has left to parse is then always the page's end, where
        the parse_ methods below look the page's last closes up."""
        markup = _escape_tail(markup)
        self._page_chars = len(markup)
        self._comment_close = _last_start(_COMMENT_CLOSE, markup)
        self._section_close = _last_start(_SECTION_CLOSE, markup)
        self.feed(markup)
        self.close()
        self.flush_open()

    def _closes_after(self, close: int, pos: int) -> bool:
        """Whether the page's close starting at `close` (-1: none) lies at or after `pos` of the buffer html.parser
        has left to parse, which is the page less what it has parsed."""
        return close >= self._page_chars - len(self.rawdata) + pos

    def parse_comment(self, i: int, report: int = 1) -> int:
        """A comment opening after the page's last "-->" cannot close: no search to the end of the page."""
        if not self._closes_after(self._comment_close, i + 4):
            return -1
        return super().parse_comment(i, report)

    def parse_marked_section(self, i: int, report: int = 1) -> int:
        """A marked section ("<![CDATA[") opening after the page's last "]>" cannot close: no search to the end
        (nor the check of its keyword, on which html.parser raises)."""
        if not self._closes_after(self._section_close, i + 3):
            return -1
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:  # a keyword HTML has not ("<![x]>"): a bogus comment to browsers, skipped to its ">"
            end = self.rawdata.find(">", i + 3)
            return end + 1 if end >= 0 else -1

    def parse_starttag(self, i: int) -> int:
        """A start tag that does not close has read to the end of the page; once such tags have read it
        _UNCLOSED_TAG_READS times over, the page is not one a browser would show and its start tags are text."""
        if self._unclosed_reads > _UNCLOSED_TAG_READS * self._page_chars:
            return -1
        end = super().parse_starttag(i)
        if end < 0:
            self._unclosed_reads += len(self.rawdata) - i
        return end

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags += 1
        attr = {k.lower(): (v or "") for k, v in attrs}
        if tag == "meta":
            self._meta(attr)
            return
        if self._nest(self._skip, tag) or self._nest(self._drop, tag, "\n"):
            return
        if tag in _VOID_TAGS:  # `<img class="social-icon">` has no end tag that would end a drop
            self._block(tag)
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
