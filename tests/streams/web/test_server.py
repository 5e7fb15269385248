"""The web server over a desk (no broker): pages escape what articles say, GET only, loopback only, live events."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.web.live import Desk
from streams.web.server import build_app

HOSTILE = "<script>alert(1)</script>"

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the loop the `served` fixture runs its server on


@pytest.fixture
async def served(newsroom):
    desk = Desk(100)
    desk.apply(newsroom.article("s1", "a1", "Harbour Times", title="Cranes down", people=("Elena Vargas",)))
    desk.apply(
        newsroom.article("s1", "a2", "<b>Wire</b>", title=HOSTILE, quotes=(("<img src=x onerror=alert(2)>", "Eve"),))
    )
    async with TestClient(TestServer(build_app(desk))) as client:
        yield client, desk


async def test_pages_show_article_strings_as_text(served):
    client, _ = served
    for path in ("/", "/stories/s1"):
        response = await client.get(path)
        assert response.status == 200 and response.content_type == "text/html"
        html = await response.text()
        assert "Port Authority Board Mar 2023" in html
        assert "<script>alert" not in html and "<b>Wire" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;b&gt;Wire&lt;/b&gt;" in html


async def test_every_response_forbids_inline_scripts_and_framing(served):
    client, _ = served
    for path in ("/", "/stories/s1", "/stories/nope", "/api/stories", "/static/desk.css"):
        response = await client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_nothing_can_be_written(served):
    client, _ = served
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path in ("/", "/api/stories", "/api/stories/s1"):
            assert (await client.request(method, path)).status == 405


async def test_only_requests_addressed_to_a_loopback_name_are_answered(served):
    client, _ = served
    assert (await client.get("/", headers={"Host": "rebound.example:8080"})).status == 421
    assert (await client.get("/", headers={"Host": "localhost:8080"})).status == 200


async def test_the_json_api_behind_the_pages(served):
    client, _ = served
    listing = await (await client.get("/api/stories", params={"q": "vargas"})).json()
    assert [s["story_id"] for s in listing["stories"]] == ["s1"] and listing["stories"][0]["articles"] == 2
    assert (await (await client.get("/api/stories", params={"q": "ferry"})).json())["stories"] == []
    assert (await client.get("/api/stories", params={"limit": "many"})).status == 400
    story = await (await client.get("/api/stories/s1")).json()
    assert [row["title"] for row in story["entries"]] == [HOSTILE, "Cranes down"]  # data as it came; pages escape
    timeline = await (await client.get("/api/stories/s1/timeline.json")).json()
    assert timeline["events"][-1]["text"]["headline"] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    for path in ("/api/stories/nope", "/api/stories/nope/timeline.json"):
        assert (await client.get(path)).status == 404
    assert (await client.get("/stories/nope")).status == 404


async def test_a_change_reaches_an_open_page_as_a_server_sent_event(served, newsroom):
    client, desk = served
    response = await client.get("/events")
    assert response.headers["Content-Type"] == "text/event-stream"
    assert await response.content.readline() == b"retry: 3000\n"
    assert await response.content.readline() == b"\n"
    while not desk._listeners:  # the handler subscribes once the response has started
        await asyncio.sleep(0.01)
    desk.apply(newsroom.article("s2", "b1", "Coast Daily", phrases=("Ferry Strike",)))
    line = await asyncio.wait_for(response.content.readline(), 10)
    assert line.startswith(b"data: ")
    notice = orjson.loads(line[len(b"data: ") :])
    assert (notice["story_id"], notice["kind"], notice["version"]) == ("s2", "started", 1)
    response.close()
