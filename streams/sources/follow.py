"""`storywire follow`: RSS/Atom feeds polled over HTTP, their new items published as raw articles.

Each feed is polled in a task of its own, so a slow or broken feed delays no other:
- every poll is a conditional GET (If-None-Match with the feed's last ETag, If-Modified-Since with its last
  Last-Modified): a feed that did not change answers 304 and costs nothing;
- the items not published before (by article id: from the GUID, see `feeds`) are sent; once the broker has
  confirmed them they are remembered, with the feed's validators, in a state file under STORYWIRE_HOME (one per
  topic prefix), so a restarted follower sends nothing twice. A crash between the two sends some again, and
  the worker reports those as redeliveries;
- after a failure (no connection, no complete answer within follow_timeout, an HTTP error, a body that is no
  feed, a broker that does not confirm) the feed waits longer: the interval doubled for each failure in a row,
  at most follow_max_backoff; an answer with Retry-After (429, 503) waits at least that long (up to a day).
  Nothing that happens to one feed stops the follower.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import orjson

from streams.kafka.replay import ArticleTooLarge, article_sender
from streams.settings import Settings
from streams.sources.feeds import MAX_FEED_BYTES, feed_articles
from streams.sources.files import InputError
from streams.sources.reading import Skipped, Unreadable

# Ids remembered per feed: far more than a feed lists at once. An item older than these that reappears is
# sent again, and the worker recognises it as a redelivery.
SEEN_PER_FEED = 5000
RETRY_AFTER_CAP = 86_400.0
_HEADERS = {
    "User-Agent": "storywire (feed follower)",
    "Accept": "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.8, "
    "text/xml;q=0.8, */*;q=0.1",
}

Send = Callable[[dict], Awaitable[asyncio.Future]]


class PollFailed(Exception):
    """A poll that got no feed: why, and how long the server asked us to wait (Retry-After), if it did."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry_after = reason, retry_after


@dataclass
class FeedState:
    """What the follower remembers of a feed across restarts."""

    etag: str | None = None
    last_modified: str | None = None
    seen: list[str] = field(default_factory=list)  # ids published, oldest first


@dataclass(frozen=True)
class Fetched:
    body: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None


def feed_urls(urls: list[str]) -> list[str]:
    """The URLs, each checked to be http(s) with a host; raises InputError naming a bad one."""
    for url in urls:
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - read for its check: a port that is no number, or past 65535, raises
        except ValueError as error:
            raise InputError(f"{url}: not a valid URL ({error})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"{url}: not an http:// or https:// feed URL")
    return list(dict.fromkeys(urls))


def state_file(settings: Settings) -> Path:
    return settings.home / "follow" / f"{settings.topic_prefix}.json"


def load_state(path: Path) -> dict[str, FeedState]:
    """The remembered feeds; raises ValueError or TypeError for a file that is not a state file."""
    if not path.exists():
        return {}
    data = orjson.loads(path.read_bytes())
    if not isinstance(data, dict):
        raise TypeError("not a JSON object")
    return {url: FeedState(**feed) for url, feed in data.items()}


def save_state(path: Path, feeds: dict[str, FeedState]) -> None:
    """Written whole to a temporary file, then renamed over the old one: a crash leaves one or the other."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(orjson.dumps({url: asdict(feed) for url, feed in feeds.items()}))
    os.replace(temporary, path)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """A Retry-After header in seconds from `now`: delay-seconds or an HTTP date; None when absent or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


def next_delay(interval: float, failures: int, max_backoff: float, retry_after: float | None = None) -> float:
    """Seconds until a feed's next poll: the interval, doubled per failure in a row up to max_backoff, and at
    least a Retry-After (capped at a day)."""
    delay = interval if failures == 0 else min(max_backoff, interval * 2 ** (failures - 1))
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP))
    return delay


async def fetch(session: aiohttp.ClientSession, url: str, feed: FeedState, timeout: float) -> Fetched | None:
    """The feed's body, or None when it has not changed since the validators in `feed` (304)."""
    headers = {}
    if feed.etag:
        headers["If-None-Match"] = feed.etag
    if feed.last_modified:
        headers["If-Modified-Since"] = feed.last_modified
    try:
        async with session.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            if response.status == 304:
                return None
            if response.status >= 400:
                wait = retry_after_seconds(response.headers.get("Retry-After"), datetime.now(timezone.utc))
                raise PollFailed(f"HTTP {response.status} {response.reason or ''}".rstrip(), wait)
            body = await _read_capped(response)
            return Fetched(
                body,
                response.headers.get("ETag"),
                response.headers.get("Last-Modified"),
                response.headers.get("Content-Type"),
            )
    except TimeoutError:
        raise PollFailed(f"no complete answer within {timeout:g}s") from None
    except aiohttp.ClientError as error:
        raise PollFailed(f"{error.__class__.__name__}: {error}") from None


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_FEED_BYTES:
            raise PollFailed(f"feed larger than {MAX_FEED_BYTES:,} bytes")
    return bytes(body)


class Follower:
    """Polls feeds and sends their new items; use as an async context manager (it holds the HTTP session)."""

    def __init__(
        self,
        urls: list[str],
        settings: Settings,
        send: Send,
        progress: Callable[[str], None],
        interval: float | None = None,
    ) -> None:
        self.urls, self.send, self.progress = urls, send, progress
        self.interval = interval or settings.follow_interval
        self.timeout, self.max_backoff = settings.follow_timeout, settings.follow_max_backoff
        self.state_path = state_file(settings)
        self.feeds: dict[str, FeedState] = {}
        self.failures: dict[str, int] = {}
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Follower:
        try:
            self.feeds = load_state(self.state_path)
        except (OSError, ValueError, TypeError) as error:
            self.progress(
                f"state file {self.state_path} unreadable ({error}); starting without it: items still in the "
                "feeds are sent again and the worker reports them as redeliveries"
            )
        self._session = aiohttp.ClientSession(headers=_HEADERS)
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self._session.close()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every feed on its own schedule until `stop` is set."""
        tasks = [asyncio.create_task(self._follow(url, stop)) for url in self.urls]
        try:
            await stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow(self, url: str, stop: asyncio.Event) -> None:
        while not stop.is_set():
            delay = await self.poll(url)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def poll(self, url: str) -> float:
        """Poll one feed once and send its new items; returns the seconds to wait before its next poll."""
        feed = self.feeds.setdefault(url, FeedState())
        try:
            fetched = await fetch(self._session, url, feed, self.timeout)
            if fetched is None:
                self.progress(f"{url}: not modified")
            else:
                await self._publish(url, feed, fetched)
        except PollFailed as failure:
            return self._failed(url, failure.reason, failure.retry_after)
        except Exception as error:  # noqa: BLE001 - a broker or a feed that breaks in any way stops only this poll
            return self._failed(url, f"{error.__class__.__name__}: {error}")
        self.failures[url] = 0
        return next_delay(self.interval, 0, self.max_backoff)

    async def _publish(self, url: str, feed: FeedState, fetched: Fetched) -> None:
        """Send the unseen items; remember them and the validators only once the broker confirmed them all."""
        try:
            items = list(feed_articles(fetched.body, url, fetched.content_type, base_url=url))
        except Unreadable as error:
            raise PollFailed(str(error)) from None
        seen = set(feed.seen)
        articles = [item for item in items if isinstance(item, dict)]
        new = list({a["id"]: a for a in articles if a["id"] not in seen}.values())
        confirmations = []
        for article in new:
            try:
                confirmations.append(await self.send(article))
            except ArticleTooLarge as error:  # never sendable: remembered, so it is not tried at every poll
                self.progress(f"{url}: skipped {error}")
        await asyncio.gather(*confirmations)
        feed.seen = (feed.seen + [a["id"] for a in new])[-SEEN_PER_FEED:]
        feed.etag, feed.last_modified = fetched.etag, fetched.last_modified
        save_state(self.state_path, self.feeds)
        self.progress(f"{url}: {len(confirmations)} new items published, {len(articles) - len(new)} seen before")
        for problem in items:
            if isinstance(problem, Skipped):
                self.progress(f"skipped {problem}")

    def _failed(self, url: str, reason: str, retry_after: float | None = None) -> float:
        failures = self.failures[url] = self.failures.get(url, 0) + 1
        delay = next_delay(self.interval, failures, self.max_backoff, retry_after)
        asked = " as the server asked (Retry-After)" if retry_after is not None and delay >= retry_after else ""
        self.progress(f"{url}: {reason}; next poll in {delay:g}s{asked} ({failures} failed in a row)")
        return delay


async def follow(
    urls: list[str],
    settings: Settings,
    interval: float | None,
    progress: Callable[[str], None],
    stop: asyncio.Event,
) -> None:
    """Follow the feeds, publishing their new items to the raw topic, until `stop` is set."""
    async with article_sender(settings, progress) as send, Follower(urls, settings, send, progress, interval) as follower:
        progress(f"following {len(urls)} feeds every {follower.interval:g}s (state: {follower.state_path})")
        await follower.run(stop)
