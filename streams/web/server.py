"""`storywire web`: the story desk over HTTP, read-only, from a desk the story topics keep folding into.

Routes are GET only (aiohttp answers anything else with 405) and nothing here writes anywhere. Every
response carries a Content-Security-Policy that allows this server's own script and style only, so even
markup that slipped past escaping could not run. Bound to a loopback address, the server answers only
requests addressed to a loopback name, so a web page elsewhere cannot reach it through DNS rebinding.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

import orjson
from aiohttp import web

from streams.settings import Settings
from streams.web import pages, view
from streams.web.feed import feed_desk
from streams.web.live import Desk, HeldStory
from streams.web.timeline import timeline_json

STATIC = Path(__file__).with_name("static")
DESK = web.AppKey("desk", Desk)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
KEEPALIVE_SECONDS = 15.0
MAX_QUERY_CHARS = 200
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class CannotListen(Exception):
    """The address to serve on is taken, or not this machine's."""


def build_app(desk: Desk, host: str = "127.0.0.1") -> web.Application:
    """The web application over a desk (fed by someone else: `serve`, or a test)."""
    app = web.Application(middlewares=[_loopback_only] if host in LOOPBACK else [])
    app[DESK] = desk
    app.router.add_get("/", _stories_page)
    app.router.add_get("/stories/{story_id}", _story_page)
    app.router.add_get("/api/stories", _api_stories)
    app.router.add_get("/api/stories/{story_id}", _api_story)
    app.router.add_get("/api/stories/{story_id}/timeline.json", _api_timeline)
    app.router.add_get("/events", _events)
    app.router.add_static("/static/", STATIC)
    app.on_response_prepare.append(_add_security_headers)
    app.on_shutdown.append(_close_desk)
    return app


async def serve(settings: Settings, host: str, port: int, progress: Callable[[str], None]) -> None:
    """Follow the story topics into a desk and serve it, until Ctrl-C or SIGTERM (then return) or cancelled."""
    desk = Desk(settings.web_stories)
    runner = web.AppRunner(build_app(desk, host), access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as error:
            raise CannotListen(f"cannot serve on {host}:{port}: {error.strerror or error}") from None
        shown_host = f"[{host}]" if ":" in host else host
        progress(f"story desk on http://{shown_host}:{port}/ (read-only; Ctrl-C stops it)")
        loop = asyncio.get_running_loop()
        stopped = asyncio.Event()
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, stopped.set)
        feed = asyncio.create_task(feed_desk(settings, desk))
        stop = asyncio.create_task(stopped.wait())
        try:
            await asyncio.wait([feed, stop], return_when=asyncio.FIRST_COMPLETED)
            if feed.done():
                feed.result()  # the feed does not end by itself: raise what stopped it
        finally:
            for signum in STOP_SIGNALS:
                loop.remove_signal_handler(signum)
            for task in (feed, stop):
                task.cancel()
            await asyncio.gather(feed, stop, return_exceptions=True)
    finally:
        await runner.cleanup()


def _query(request: web.Request) -> str:
    return request.query.get("q", "")[:MAX_QUERY_CHARS]


def _json(data: dict, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def _held(request: web.Request) -> HeldStory | None:
    return request.app[DESK].get(request.match_info["story_id"])


async def _stories_page(request: web.Request) -> web.Response:
    listing = view.story_list(request.app[DESK], _query(request))
    return web.Response(text=pages.stories_page(listing), content_type="text/html")


async def _story_page(request: web.Request) -> web.Response:
    held = _held(request)
    if held is None:
        return web.Response(
            text=pages.missing_page(request.match_info["story_id"]), status=404, content_type="text/html"
        )
    return web.Response(text=pages.story_page(view.story_detail(request.app[DESK], held)), content_type="text/html")


async def _api_stories(request: web.Request) -> web.Response:
    desk = request.app[DESK]
    try:
        shown = int(request.query.get("limit", view.STORIES_SHOWN))
    except ValueError:
        return _json({"error": "limit: a whole number of stories"}, status=400)
    return _json(view.story_list(desk, _query(request), max(1, min(shown, desk.limit))))


async def _api_story(request: web.Request) -> web.Response:
    held = _held(request)
    if held is None:
        return _json({"error": "no such story on this desk"}, status=404)
    return _json(view.story_detail(request.app[DESK], held))


async def _api_timeline(request: web.Request) -> web.Response:
    held = _held(request)
    if held is None:
        return _json({"error": "no such story on this desk"}, status=404)
    return _json(timeline_json(view.story_detail(request.app[DESK], held)))


async def _events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: one `data:` line of JSON per change of the desk (the pages fetch what changed)."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    await response.prepare(request)
    try:
        await response.write(b"retry: 3000\n\n")
        with request.app[DESK].listening() as notices:
            while True:
                try:
                    notice = await asyncio.wait_for(notices.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    await response.write(b": still here\n\n")
                    continue
                if notice is None:  # the server is stopping
                    break
                await response.write(b"data: " + orjson.dumps(notice) + b"\n\n")
    except ConnectionResetError:  # the page was closed
        pass
    return response


@web.middleware
async def _loopback_only(request: web.Request, handler):
    if request.url.host not in LOOPBACK:
        raise web.HTTPMisdirectedRequest(text="this story desk answers on 127.0.0.1 and localhost only\n")
    return await handler(request)


async def _add_security_headers(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)


async def _close_desk(app: web.Application) -> None:
    app[DESK].close()
