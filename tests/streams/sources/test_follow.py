"""The feed follower against a local HTTP server (127.0.0.1): conditional requests, only unseen items, memory
across restarts, backoff on errors, Retry-After, slow answers. The items go to a collecting send function;
tests/integration/test_sources.py follows a feed into a real broker."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from aiohttp import web
from newsroom import STORY, FeedServer, rss_feed

from streams.kafka.replay import ArticleTooLarge
from streams.settings import Settings
from streams.sources.files import InputError
from streams.sources.follow import (
    RETRY_AFTER_CAP,
    Follower,
    feed_urls,
    next_delay,
    retry_after_seconds,
    state_file,
)

NOW = datetime(2024, 3, 12, 12, 0, tzinfo=timezone.utc)


def _feed(*numbers: int) -> str:
    items = [{"title": f"Story {n}", "guid": f"https://courier.example/?p={n}", "paragraphs": STORY[:2]} for n in numbers]
    return rss_feed("The Coastal Courier", "https://courier.example", items)


class Collected:
    """The send function the follower is given: keeps what it sends; `broken` refuses to confirm."""

    def __init__(self) -> None:
        self.titles: list[str] = []
        self.broken = False

    async def __call__(self, article: dict) -> asyncio.Future:
        confirmation = asyncio.get_running_loop().create_future()
        if self.broken:
            confirmation.set_exception(ConnectionError("broker unreachable"))
        else:
            self.titles.append(article["title"])
            confirmation.set_result(None)
        return confirmation


def _settings(home: Path, **overrides) -> Settings:
    return Settings(**{"broker": "127.0.0.1:1", "home": home, "topic_prefix": "follow-test", "follow_timeout": 2.0, **overrides})


def test_retry_after_is_read_as_seconds_or_as_a_date():
    assert retry_after_seconds("120", NOW) == 120
    assert retry_after_seconds(format_datetime(NOW + timedelta(minutes=5), usegmt=True), NOW) == 300
    assert retry_after_seconds(format_datetime(NOW - timedelta(minutes=5), usegmt=True), NOW) == 0
    assert retry_after_seconds("soon", NOW) is None and retry_after_seconds(None, NOW) is None


def test_the_wait_doubles_per_failure_up_to_the_cap_and_is_at_least_a_retry_after():
    assert [next_delay(10, failures, 60) for failures in range(5)] == [10, 10, 20, 40, 60]
    assert next_delay(10, 1, 60, retry_after=120) == 120
    assert next_delay(10, 3, 60, retry_after=5) == 40
    assert next_delay(10, 1, 60, retry_after=30 * 86_400) == RETRY_AFTER_CAP


def test_feed_urls_must_be_http():
    assert feed_urls(["https://a.example/rss", "https://a.example/rss", "http://b.example/"]) == [
        "https://a.example/rss",
        "http://b.example/",
    ]
    with pytest.raises(InputError, match="file:///etc/passwd"):
        feed_urls(["file:///etc/passwd"])
    for malformed in ("http://[::1", "http://example.com:99999/rss", "https://a.example:x/rss"):
        with pytest.raises(InputError, match=f"^{re.escape(malformed)}: not a valid URL"):
            feed_urls([malformed])


async def test_only_unseen_items_are_published_with_conditional_requests_and_remembered_across_restarts(tmp_path):
    settings, sent = _settings(tmp_path), Collected()
    async with FeedServer() as server:
        url = server.url("/feed.xml")
        server.serve_feed("/feed.xml", _feed(1, 2), etag='"v1"', last_modified="Tue, 12 Mar 2024 07:00:00 GMT")
        async with Follower([url], settings, sent, lambda _: None, interval=10) as follower:
            assert await follower.poll(url) == 10
            assert sent.titles == ["Story 1", "Story 2"]
            await follower.poll(url)  # unchanged: answered 304
            assert sent.titles == ["Story 1", "Story 2"]
            assert server.requests[1] == ("/feed.xml", '"v1"', "Tue, 12 Mar 2024 07:00:00 GMT")
            assert server.requests[0] == ("/feed.xml", None, None)

            server.serve_feed("/feed.xml", _feed(3, 1, 2), etag='"v2"')
            await follower.poll(url)
            assert sent.titles == ["Story 1", "Story 2", "Story 3"]

        assert state_file(settings).exists()
        async with Follower([url], settings, sent, lambda _: None, interval=10) as restarted:
            await restarted.poll(url)  # validators remembered: 304
            assert server.requests[-1][1] == '"v2"'
            server.serve_feed("/feed.xml", _feed(4, 3, 1, 2))  # a server without validators: every poll a full answer
            await restarted.poll(url)
            await restarted.poll(url)
    assert sent.titles == ["Story 1", "Story 2", "Story 3", "Story 4"]


async def test_server_errors_back_off_doubling_and_the_feed_is_read_once_it_recovers(tmp_path):
    sent, answers = Collected(), iter([500, 502, 500, 500])

    async with FeedServer() as server:
        url = server.url("/feed.xml")

        async def flaky(request: web.Request) -> web.Response:
            status = next(answers, 200)
            return web.Response(status=status) if status != 200 else web.Response(text=_feed(1), content_type="application/rss+xml")

        server.handlers["/feed.xml"] = flaky
        async with Follower([url], _settings(tmp_path, follow_max_backoff=60), sent, lambda _: None, interval=10) as follower:
            delays = [await follower.poll(url) for _ in range(6)]
    assert delays == [10, 20, 40, 60, 10, 10]
    assert sent.titles == ["Story 1"]


async def test_429_and_503_wait_as_long_as_retry_after_says(tmp_path):
    lines: list[str] = []
    async with FeedServer() as server:
        later = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=600), usegmt=True)

        async def busy(request: web.Request) -> web.Response:
            return web.Response(status=429, headers={"Retry-After": "120"})

        async def down(request: web.Request) -> web.Response:
            return web.Response(status=503, headers={"Retry-After": later})

        async def vague(request: web.Request) -> web.Response:
            return web.Response(status=503, headers={"Retry-After": "when we feel like it"})

        server.handlers.update({"/busy": busy, "/down": down, "/vague": vague})
        async with Follower([], _settings(tmp_path), Collected(), lines.append, interval=10) as follower:
            assert await follower.poll(server.url("/busy")) == 120
            assert 500 < await follower.poll(server.url("/down")) <= 600
            assert await follower.poll(server.url("/vague")) == 10  # unreadable: the ordinary backoff
    assert "HTTP 429 Too Many Requests" in lines[0] and "Retry-After" in lines[0]
    assert "HTTP 503 Service Unavailable" in lines[1]


async def test_a_slow_feed_times_out_without_holding_up_the_others(tmp_path):
    sent, lines = Collected(), []
    async with FeedServer() as server:

        async def slow(request: web.Request) -> web.Response:
            await server.hold(30)  # far beyond the follower's timeout
            return web.Response(text=_feed(9), content_type="application/rss+xml")

        async def sluggish(request: web.Request) -> web.Response:
            await server.hold(0.2)  # within it
            return web.Response(text=_feed(2), content_type="application/rss+xml")

        server.handlers.update({"/slow": slow, "/sluggish": sluggish})
        server.serve_feed("/fast", _feed(1), etag='"f1"')
        urls = [server.url("/slow"), server.url("/sluggish"), server.url("/fast")]
        stop = asyncio.Event()
        async with Follower(urls, _settings(tmp_path, follow_timeout=1.0), sent, lines.append, interval=0.05) as follower:
            running = asyncio.create_task(follower.run(stop))
            for _ in range(400):  # bounded: until each feed has had its turn
                if server.hits("/fast") >= 3 and follower.failures.get(urls[0]) and "Story 2" in sent.titles:
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await running
    assert sent.titles.count("Story 1") == 1 and sent.titles.count("Story 2") == 1 and "Story 9" not in sent.titles
    assert any(f"{urls[0]}: no complete answer within 1s" in line for line in lines)


async def test_a_body_that_is_no_feed_a_refused_connection_and_an_unconfirmed_send_stop_nothing(tmp_path):
    sent, lines = Collected(), []
    async with FeedServer() as server:
        server.handlers["/page"] = lambda request: _html_page()
        server.serve_feed("/feed.xml", _feed(1, 2), etag='"v1"')
        settings = _settings(tmp_path)
        async with Follower([], settings, sent, lines.append, interval=10) as follower:
            assert await follower.poll(server.url("/page")) == 10
            assert await follower.poll("http://127.0.0.1:9/feed.xml") == 10  # nothing listens on port 9
            sent.broken = True
            assert await follower.poll(server.url("/feed.xml")) == 10  # sent, never confirmed: a failure
            sent.broken = False
            await follower.poll(server.url("/feed.xml"))  # not confirmed before, so fetched in full again
    assert sent.titles == ["Story 1", "Story 2"]
    assert "a web page, not a feed" in lines[0]
    assert "127.0.0.1:9" in lines[1] and "ClientConnectorError" in lines[1]
    assert "broker unreachable" in lines[2]


async def _html_page() -> web.Response:
    return web.Response(text="<html><body><p>Welcome to our site.</p></body></html>", content_type="text/html")


async def test_an_unreadable_state_file_is_reported_and_the_follower_starts_afresh(tmp_path):
    settings, lines = _settings(tmp_path), []
    state_file(settings).parent.mkdir(parents=True)
    state_file(settings).write_text("{not json")
    async with FeedServer() as server:
        server.serve_feed("/feed.xml", _feed(1))
        sent = Collected()
        async with Follower([], settings, sent, lines.append, interval=10) as follower:
            await follower.poll(server.url("/feed.xml"))
    assert "unreadable" in lines[0] and sent.titles == ["Story 1"]


async def test_an_item_too_large_for_the_topic_is_reported_once_and_the_others_published(tmp_path):
    lines: list[str] = []

    class RefusesStory2(Collected):
        async def __call__(self, article: dict) -> asyncio.Future:
            if article["title"] == "Story 2":
                raise ArticleTooLarge(f"article {article['id']}: too large for the raw topic")
            return await super().__call__(article)

    sent = RefusesStory2()
    async with FeedServer() as server:
        server.serve_feed("/feed.xml", _feed(1, 2, 3))
        async with Follower([], _settings(tmp_path), sent, lines.append, interval=10) as follower:
            await follower.poll(server.url("/feed.xml"))
            await follower.poll(server.url("/feed.xml"))
    assert sent.titles == ["Story 1", "Story 3"]
    assert sum("too large" in line for line in lines) == 1
    assert any("2 new items published" in line for line in lines)
