"""Web pages: the main text and the metadata the page states about itself, by trafilatura (with htmldate).

What is taken from where:
- text: the main content trafilatura finds (navigation, banners, footers, related links and comments left
  out), one paragraph per block; the cleaner still removes what the extractor left;
- title: og:title, else the <title> and <h1> the extractor settles on;
- published_at: the page's own date markup only (meta tags, JSON-LD, <time>), by htmldate, publication date
  before modification date; never a date guessed from the text (the cleaner reads the text);
- source: the site name (og:site_name, JSON-LD publisher, application-name), when the page states one;
- author: the author markup (meta author, JSON-LD, rel=author);
- url: the canonical URL (link rel=canonical, og:url), else the URL the page was fetched from.
"""

from __future__ import annotations

import codecs

import trafilatura

from streams.pipeline.clean.repair import UnusableArticle, check_not_binary
from streams.sources.reading import Unreadable

# Dates from the page's markup only: htmldate's extensive search also reads the text and would put a
# copyright year or a "last updated" line above the cleaner's better reading of the text.
_DATE_FROM_MARKUP = {"extensive_search": False, "original_date": True, "outputformat": "%Y-%m-%dT%H:%M:%S%z"}
# Pages are read into memory whole; real news pages are far smaller.
MAX_PAGE_BYTES = 20_000_000
# Main text shorter than this, besides the title, is no article: an index, an error page, a stub behind a
# paywall (the extractor's fallbacks return what little such a page has, such as its menu).
MIN_PAGE_WORDS = 20


def page_article(html: bytes, url: str | None = None) -> dict:
    """The article of one web page, as raw-article fields; raises Unreadable when the page holds none."""
    if len(html) > MAX_PAGE_BYTES:
        raise Unreadable(f"page of {len(html):,} bytes, more than the {MAX_PAGE_BYTES:,} read")
    _check_text(html)
    document = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_images=False,
        date_extraction_params=_DATE_FROM_MARKUP,
    )
    text = "\n\n".join(line.strip() for line in (document.text or "").splitlines() if line.strip()) if document else ""
    words = max(0, len(text.split()) - len((document.title or "").split())) if document else 0
    if words < MIN_PAGE_WORDS:
        raise Unreadable(
            f"no article text in the page: {words} words of main text besides the title "
            f"(fewer than {MIN_PAGE_WORDS}: an index, an error page or a stub)"
        )
    fields = {
        "title": document.title,
        "text": text,
        "source": _stated_site_name(document.sitename, document.hostname),
        "url": document.url or url,
        "published_at": document.date,
        "author": document.author,
    }
    return {name: value for name, value in fields.items() if value}


def _check_text(data: bytes) -> None:
    """Raise for binary data with a page's name (an image or an archive saved as .html)."""
    encoding = "utf-16" if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8"
    try:
        check_not_binary(data[:20_000].decode(encoding, errors="replace"))
    except UnusableArticle as error:
        raise Unreadable(f"not an HTML page: {error}") from None


def _stated_site_name(site_name: str | None, hostname: str | None) -> str | None:
    """The site name the page states; trafilatura falls back to the host name, which is no statement
    (the cleaner derives a readable outlet from the url itself)."""
    if not site_name or site_name == hostname or ("." in site_name and " " not in site_name):
        return None
    return site_name
