"""RSS and Atom feeds: one article per item, with the item's own metadata; a feed item and the web page of
the same story are recognised as one article by the pipeline."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import orjson
import pytest
from newsroom import STORY, STORY_TITLE, atom_feed, rss_feed, web_page

from schemas import PreparedArticle, RawArticle
from streams.pipeline.clean import clean_article
from streams.pipeline.prepare import prepare
from streams.settings import Settings
from streams.sources.feeds import feed_articles
from streams.sources.html import page_article
from streams.sources.reading import Skipped, Unreadable, with_id
from streams.story.desk import Decided, Duplicate, StoryDesk

HOME = "https://courier.example/local"
ITEM = {
    "title": STORY_TITLE,
    "link": f"{HOME}/harbour-bridge-reopens",
    "guid": "https://courier.example/?p=4812",
    "published": "Tue, 12 Mar 2024 07:30:00 +0100",
    "author": "Sam Okafor",
    "summary": "The bridge is open again.",
    "paragraphs": STORY,
}


def _items(feed: str) -> list:
    return list(feed_articles(feed.encode(), "feed.xml"))


def test_an_rss_item_carries_its_full_content_link_guid_date_and_author():
    (item,) = _items(rss_feed("The Coastal Courier - Local", HOME, [ITEM]))
    assert item["title"] == STORY_TITLE
    assert item["text"].split("\n\n") == STORY  # content:encoded, not the one-line summary
    assert item["url"] == ITEM["link"] and item["guid"] == ITEM["guid"]
    assert item["published_at"] == "2024-03-12T06:30:00Z"
    assert item["author"] == "Sam Okafor"
    assert item["source"] == "The Coastal Courier"  # the feed's title without its section

    article = clean_article(RawArticle(**item), item["id"])
    assert article.title == STORY_TITLE and article.outlet == "The Coastal Courier" and article.author == "Sam Okafor"
    assert article.published_at == datetime(2024, 3, 12, 6, 30, tzinfo=timezone.utc)
    assert article.url == ITEM["link"] and article.extra["guid"] == ITEM["guid"]


def test_an_item_without_content_gives_its_summary_as_text_and_names_its_own_source():
    item = {**ITEM, "paragraphs": None, "summary": "<p>The bridge is open again.</p><p>Traffic flows.</p>"}
    (read,) = _items(rss_feed("Aggregated news", HOME, [{**item, "source": "Island Radio"}]))
    assert read["text"] == "The bridge is open again.\n\nTraffic flows."
    assert read["source"] == "Island Radio"


def test_an_atom_entry_carries_its_content_id_dates_and_author():
    entry = {
        "title": STORY_TITLE,
        "link": "https://radio.example/news/bridge",
        "id": "tag:radio.example,2024:news/1203",
        "published": "2024-03-12T08:05:00+00:00",
        "updated": "2024-03-13T10:00:00+00:00",
        "author": "Lena Park",
        "summary": "Short.",
        "paragraphs": STORY[:2],
    }
    (item,) = _items(atom_feed("Island Radio News", "https://radio.example/news", [entry]))
    assert item["text"].split("\n\n") == STORY[:2]
    assert item["published_at"] == "2024-03-12T08:05:00Z"  # published, not updated
    assert item["author"] == "Lena Park" and item["guid"] == entry["id"] and item["source"] == "Island Radio News"


def test_ids_come_from_the_guid_so_an_item_read_again_keeps_its_id():
    first = _items(rss_feed("Courier", HOME, [ITEM]))[0]
    edited = _items(rss_feed("Courier", HOME, [{**ITEM, "title": "Bridge reopens (updated)"}]))[0]
    assert first["id"] == edited["id"]
    no_guid = _items(rss_feed("Courier", HOME, [{**ITEM, "guid": None}]))[0]
    assert no_guid["id"] != first["id"] and no_guid["id"] == _items(rss_feed("Courier", HOME, [{**ITEM, "guid": None}]))[0]["id"]


def test_a_bare_guid_is_scoped_by_its_feed_and_a_url_guid_is_not():
    bare = {**ITEM, "guid": "4812"}
    assert _items(rss_feed("A", "https://a.example", [bare]))[0]["id"] != _items(rss_feed("B", "https://b.example", [bare]))[0]["id"]
    assert _items(rss_feed("A", "https://a.example", [ITEM]))[0]["id"] == _items(rss_feed("B", "https://b.example", [ITEM]))[0]["id"]


def test_a_feed_cut_short_gives_the_items_before_the_break_and_says_what_was_lost():
    feed = rss_feed("Courier", HOME, [ITEM, {**ITEM, "guid": "https://courier.example/?p=2", "title": "Second"}])
    cut = feed[: feed.index("<title>Second") + 20]
    read = _items(cut)
    assert isinstance(read[0], Skipped) and read[0].reason.startswith("malformed feed: unclosed token at line")
    assert read[1]["title"] == STORY_TITLE and read[1]["text"].split("\n\n") == STORY


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("<rss><channel><title>Courier</title><link>https://courier.exa", "malformed feed: no element found"),
        ("<?xml version='1.0'?><rss version='2.0'><channel><title>&bogus;</title></channel></rss>", "malformed feed"),
        ("<html><body><p>Just a page.</p></body></html>", "a web page, not a feed .it names none"),
        ("", "not an RSS or Atom feed"),  # an empty file or HTTP body
    ],
)
def test_what_is_no_feed_is_unreadable_with_the_reason(data, reason):
    with pytest.raises(Unreadable, match=reason):
        _items(data)


def test_a_web_page_given_as_a_feed_says_which_feeds_it_names():
    page = web_page(STORY_TITLE, STORY).replace(
        "</head>",
        '<link rel="alternate" type="application/rss+xml" href="/local/rss"><link rel="stylesheet" href="/s.css">'
        '<link rel="alternate" type="application/atom+xml" href="https://radio.example/news.atom"></head>',
    )
    assert "</head>" in web_page(STORY_TITLE, STORY)
    with pytest.raises(Unreadable) as raised:
        list(feed_articles(page.encode(), "https://courier.example/local/", base_url="https://courier.example/local/"))
    assert str(raised.value) == "a web page, not a feed; it names these feeds: https://courier.example/local/rss https://radio.example/news.atom"


def test_an_item_with_neither_title_nor_text_is_skipped_and_the_others_read():
    read = _items(rss_feed("Courier", HOME, [{"link": f"{HOME}/empty"}, ITEM]))
    assert isinstance(read[0], Skipped) and "item 1" in read[0].where and "no title" in read[0].reason
    assert read[1]["title"] == STORY_TITLE


def test_a_feed_item_and_the_web_page_of_the_same_story_are_one_article_to_the_pipeline():
    """The page has its site chrome, the feed item only the text: a near duplicate once both are cleaned."""
    page = with_id(page_article(web_page(STORY_TITLE, STORY, site="The Coastal Courier", published="2024-03-12").encode()))
    syndicated = {**ITEM, "paragraphs": [p.replace("Tuesday morning", "Tuesday") for p in STORY]}
    (item,) = _items(rss_feed("Wire Digest", "https://wire.example", [syndicated]))
    assert item["id"] != page["id"]

    desk = StoryDesk(Settings(broker="127.0.0.1:1"))
    outcomes = []
    for article in (page, item):
        prepared = prepare(orjson.dumps(article), article["id"].encode(), time.time(), 2_000_000)
        assert isinstance(prepared, PreparedArticle), prepared
        outcomes.append(desk.place(prepared))
    assert isinstance(outcomes[0], Decided)
    verdict = outcomes[1]
    assert isinstance(verdict, Duplicate) and verdict.verdict.kind == "near"
    assert verdict.verdict.duplicate_of == page["id"]


def test_relative_links_of_a_fetched_feed_are_made_absolute_against_its_url():
    feed = rss_feed("Courier", HOME, [{**ITEM, "link": "/local/ferry", "guid": None}]).encode()
    (fetched,) = feed_articles(feed, "https://courier.example/feeds/local.xml", "application/rss+xml", "https://courier.example/feeds/local.xml")
    assert fetched["url"] == "https://courier.example/local/ferry"


def test_relative_links_of_a_feed_file_are_made_absolute_against_its_channel_link():
    """The same item read from a file and over HTTP gets the same url, so the same id."""
    feed = rss_feed("Courier", HOME, [{**ITEM, "link": "/local/ferry", "guid": None}]).encode()
    (from_file,) = feed_articles(feed, "local.xml")
    (fetched,) = feed_articles(feed, "https://courier.example/feeds/local.xml", "application/rss+xml", "https://courier.example/feeds/local.xml")
    assert from_file["url"] == "https://courier.example/local/ferry"
    assert from_file["id"] == fetched["id"]
