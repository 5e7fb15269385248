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
