"""Web pages: main text and the page's own metadata, and what the cleaner then makes of them."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from newsroom import CHROME, STORY, STORY_TITLE, web_page

from schemas import RawArticle
from streams.pipeline.clean import clean_article
from streams.sources.html import page_article
from streams.sources.reading import Unreadable

PAGE = web_page(
    STORY_TITLE,
    STORY,
    site="The Coastal Courier",
    published="2024-03-12T07:30:00+01:00",
    author="Sam Okafor",
    canonical="https://courier.example/local/harbour-bridge-reopens",
)


def _cleaned(html: str, url: str | None = None):
    return clean_article(RawArticle(**page_article(html.encode(), url)), "page-1")


def test_the_page_metadata_lands_in_the_cleaned_article():
    article = _cleaned(PAGE, url="https://courier.example/local/harbour-bridge-reopens?utm_source=newsletter")
    assert article.title == STORY_TITLE
    assert article.outlet == "The Coastal Courier"
    assert article.author == "Sam Okafor"
    assert article.published_at == datetime(2024, 3, 12, 6, 30, tzinfo=timezone.utc)
    assert article.url == "https://courier.example/local/harbour-bridge-reopens"  # canonical, not the fetched URL


def test_page_chrome_does_not_reach_the_text():
    article = _cleaned(PAGE)
    for kind, lines in CHROME.items():
        for line in lines:
            assert line not in article.text, f"{kind} leaked: {line}"
    assert "All rights reserved" not in article.text and "Accept" not in article.text.split()
    for paragraph in STORY:
        assert _straight(paragraph) in _straight(article.text)
    assert article.text.count("\n\n") == len(STORY) - 1  # one paragraph per block, the title not repeated


def test_the_page_metadata_wins_over_what_the_cleaner_would_read_in_the_text():
    text = [
        "Posted on March 3 2021 by the Other Gazette web desk",
        *STORY,
        "Copyright 2021 Other Gazette. All rights reserved.",
    ]
    article = _cleaned(web_page("Bridge open", text, site="The Coastal Courier", published="2024-03-12"))
    assert article.outlet == "The Coastal Courier"
    assert article.published_at == datetime(2024, 3, 12, tzinfo=timezone.utc)
    assert article.title == "Bridge open"


def test_without_metadata_the_cleaner_still_decides_and_no_date_is_guessed_from_the_page_text():
    html = f"<html><body><article>{''.join(f'<p>{p}</p>' for p in STORY)}</article>" "<footer>&copy; 2022</footer></body></html>"
    raw = page_article(html.encode(), url="https://www.coastalcourier.example/bridge")
    assert "published_at" not in raw and "source" not in raw  # no copyright year taken for a date, no host for a name
    article = clean_article(RawArticle(**raw), "page-2")
    assert article.outlet == "Coastal Courier"  # the cleaner's reading of the url
    assert article.published_at is None


def test_the_cleaner_still_removes_furniture_the_extractor_left():
    promo = "Sign up for our newsletter to get the morning headlines in your inbox."
    article = _cleaned(web_page(STORY_TITLE, [*STORY[:3], promo, *STORY[3:]], site="The Coastal Courier"))
    assert promo not in article.text
    assert any(block.text == promo for block in article.removed)


def test_a_page_without_article_text_is_unreadable_with_the_reason():
    only_chrome = "<html><head><title>Index</title></head><body><nav><a href='/'>Home</a></nav></body></html>"
    with pytest.raises(Unreadable, match="no article text"):
        page_article(only_chrome.encode())


def test_binary_data_with_a_page_name_is_unreadable_with_the_reason():
    with pytest.raises(Unreadable, match="not an HTML page"):
        page_article(bytes(range(256)) * 64)


def test_a_page_in_another_encoding_is_read():
    html = web_page("Caf\u00e9 owners protest", STORY, site="Le Courrier").replace("utf-8", "windows-1252")
    article = _cleaned_bytes(html.encode("cp1252"))
    assert article.title == "Caf\u00e9 owners protest" and _straight(STORY[2]) in article.text


def _straight(text: str) -> str:
    """Quotes straightened, as cleaning does."""
    return text.replace("\u201c", '"').replace("\u201d", '"')


def _cleaned_bytes(data: bytes):
    return clean_article(RawArticle(**page_article(data)), "page-3")
