"""Web pages, feeds and web archives through the whole pipeline on a real Kafka, and feeds followed over HTTP
(from a local server on 127.0.0.1) into the raw topic."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from newsroom import FeedServer, rss_feed, warc_archive, web_page

from streams.kafka.read import read_topic
from streams.kafka.replay import replay
from streams.kafka.topics import ARTICLES
from streams.settings import Settings
from streams.sources.follow import follow
from streams.tools.demo import SEEDS
from streams.tools.harness import wait_for_outcomes

# Each test waits for outcomes twice at most, up to 420 s each on a loaded host: longer than the default.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]


def _paragraphs(seed: str) -> list[str]:
    """A seed's paragraphs as a page would hold them (its blank-line blocks, or its lines where it has none)."""
    text = (SEEDS / seed).read_text(encoding="utf-8")
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]
    return blocks if len(blocks) > 2 else [line.strip() for line in text.splitlines() if line.strip()]


# Each seed as its newsroom would publish it, with the metadata its page or item states (invented dates of
# publication, none of them the dates the seeds' own text carries).
PAGES = {
    "000_ff9f29b363eea3de.txt": ("NATO-Russia talks end in Brussels without breakthrough", "Radio Free Ledger", "2022-01-12T16:40:00+00:00"),
    "001_9197fc1b9ddf8e30.txt": ("NATO, Russia fail to bridge differences as talks end", "World News24", "2022-01-13T01:03:00+01:00"),
    "004_bf805d41d855623e.txt": ("NATO, Russia hold 'serious and direct exchange' on Ukraine", "The Washington Ledger", "2022-01-12T20:15:00+00:00"),
}
FEED_ITEMS = {
    "002_3cef8473ff9001a9.txt": ("NATO and Russia agreed to talk more at Brussels talks", "Euromaidan Press", "Wed, 12 Jan 2022 19:00:00 GMT"),
    "003_98216a91c8ae22c9.txt": ("NATO ready for more talks despite differences with Russia", "Tribune News Service", "Thu, 13 Jan 2022 06:30:00 GMT"),
}
PUBLISHED = sorted(
    [datetime.fromisoformat(date) for _, _, date in PAGES.values()]
    + [datetime.fromisoformat("2022-01-12T19:00:00+00:00"), datetime.fromisoformat("2022-01-13T06:30:00+00:00")]
)
OUTLETS = sorted([site for _, site, _ in PAGES.values()] + [site for _, site, _ in FEED_ITEMS.values()])


def _page(seed: str) -> str:
    title, site, published = PAGES[seed]
    return web_page(title, _paragraphs(seed), site=site, published=published, author="Staff reporter")


def _write_newsroom(directory: Path) -> None:
    """Seeds 0 and 1 as saved web pages, 2 and 3 as items of an aggregator's RSS feed, 4 in a crawler's WARC."""
    directory.mkdir()
    first, second, in_archive = PAGES
    (directory / "000.html").write_text(_page(first))
    (directory / "001.htm").write_text(_page(second))
    items = [
        {"title": title, "link": f"https://digest.example/{seed[:3]}", "guid": f"digest-{seed[:3]}", "published": date,
         "source": site, "paragraphs": _paragraphs(seed)}
        for seed, (title, site, date) in FEED_ITEMS.items()
    ]  # fmt: skip
    (directory / "digest.rss").write_text(rss_feed("Press Digest - Europe", "https://digest.example", items))
    crawl = [("https://wtimes.example/news/2022/jan/12/nato-russia", "2022-01-14T09:00:00Z", _page(in_archive))]
    (directory / "crawl.warc.gz").write_bytes(warc_archive(crawl, compress=True))


async def test_the_seeds_as_pages_a_feed_and_an_archive_make_one_story_of_five_dated_by_their_pages(settings, worker, tmp_path):
    _write_newsroom(tmp_path / "newsroom")
    summary = await replay([tmp_path / "newsroom"], settings, progress=lambda _: None)
    assert summary.sent == 5 and summary.skipped == []
    assert summary.passed_over == {
        "warcinfo record": 1, "request record": 4, "image/jpeg response": 1, "HTTP 301 response": 1, "application/json response": 1,
    }  # fmt: skip
    state = await wait_for_outcomes(settings, 5, worker, timeout=420, progress=lambda _: None)

    (story,) = state["stories"]
    entries = [e for e in story["changelog"] if "article_id" in e]
    assert len(story["article_ids"]) == 5 and len(entries) == 5
    assert sorted(datetime.fromisoformat(e["article_time"]) for e in entries) == PUBLISHED
    assert sorted(e["outlet"] for e in entries) == OUTLETS
    assert story["event_date"] == "2022-01-12"
    assert state["duplicates"] == [] and state["dead_letters"] == []

    # The wire's copy of the first page, in a feed: the page's text with a few words changed.
    copy = [p.replace("Brussels", "the Belgian capital") for p in _paragraphs("000_ff9f29b363eea3de.txt")]
    item = {"title": "Security talks end", "guid": "wire-1", "published": "Wed, 12 Jan 2022 18:00:00 GMT", "paragraphs": copy}
    (tmp_path / "wire.rss").write_text(rss_feed("Wire Service", "https://wire.example", [item]))
    again = await replay([tmp_path / "wire.rss"], settings, progress=lambda _: None)
    state = await wait_for_outcomes(settings, 6, worker, timeout=420, progress=lambda _: None)
    (duplicate,) = state["duplicates"]
    assert duplicate["article_id"] == again.ids[0] and duplicate["kind"] == "near"
    outlet_of = {e["article_id"]: e["outlet"] for e in state["stories"][0]["changelog"] if "article_id" in e}
    assert outlet_of[duplicate["duplicate_of"]] == "Radio Free Ledger"


def test_replay_lists_what_it_could_not_read_and_sends_the_rest(settings, tmp_path):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "a-photo.html").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    (inputs / "b-broken.xml").write_text("<?xml version='1.0'?><rss version='2.0'><channel><title>Digest</ti")
    (inputs / "c-page.html").write_text(_page("000_ff9f29b363eea3de.txt"))
    env = {**os.environ, "STORYWIRE_HOME": str(settings.home), "STORYWIRE_TOPIC_PREFIX": settings.topic_prefix}
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "--broker", settings.bootstrap, "replay", str(inputs)],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert f"skipped {inputs / 'a-photo.html'}: not an HTML page: text looks like binary data" in result.stderr
    assert f"skipped {inputs / 'b-broken.xml'}: malformed feed" in result.stderr
    assert "replayed 1 articles" in result.stderr and "skipped 2 (listed above)" in result.stderr


async def _follow_until(settings: Settings, url: str, done, lines: list[str]) -> None:
    """Run a follower (polling every 50 ms) until `done()` holds; bounded, it never waits forever."""
    stop = asyncio.Event()
    running = asyncio.create_task(follow([url], settings, 0.05, lines.append, stop))
    for _ in range(600):
        if done() or running.done():
            break
        await asyncio.sleep(0.05)
    stop.set()
    await running


async def test_a_followed_feed_reaches_the_raw_topic_each_item_once_across_restarts(settings):
    def feed(*numbers: int) -> str:
        items = [{"title": f"Story {n}", "guid": f"https://courier.example/?p={n}", "summary": f"Report number {n}."} for n in numbers]
        return rss_feed("The Coastal Courier", "https://courier.example", items)

    lines: list[str] = []
    async with FeedServer() as server:
        url = server.url("/feed.xml")
        server.serve_feed("/feed.xml", feed(1, 2), etag='"v1"')
        await _follow_until(settings, url, lambda: server.hits("/feed.xml") >= 3, lines)
        server.serve_feed("/feed.xml", feed(3, 1, 2), etag='"v2"')
        await _follow_until(settings, url, lambda: server.hits("/feed.xml") >= 6, lines)  # a restarted follower

    published = [orjson.loads(value) for value in await read_topic(settings, ARTICLES)]
    assert sorted(article["title"] for article in published) == ["Story 1", "Story 2", "Story 3"]
    assert all(article["id"].startswith("g-") and article["source"] == "The Coastal Courier" for article in published)
    assert server.requests[1][1] == '"v1"' and server.requests[3][1] == '"v1"'  # conditional, after the restart too
    assert any("2 new items published" in line for line in lines) and any("1 new items published" in line for line in lines)
