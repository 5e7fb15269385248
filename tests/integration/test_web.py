"""The story desk in a real headless browser: Debian's chromium driven by Playwright, over a real broker and
worker, with the seeds replayed. `.ci/run` installs chromium (see the README); without it these tests skip."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import orjson
import pytest

from streams.kafka.replay import replay
from streams.settings import Settings
from streams.tools.broker import free_port
from streams.tools.demo import SEEDS
from streams.tools.harness import wait_for_outcomes

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "story-page.png"
HOSTILE_TITLE = "<script>alert(1)</script>"
WAIT_MS = 90_000  # waits for the pipeline and the page, not timings under test
OUTCOME_WAIT_S = 420  # a worker's outcomes, as the other integration tests wait for them on a loaded host

# Outcome waits of up to OUTCOME_WAIT_S and page waits of up to 90 s each, on a loaded host: longer than the default.
pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(1200)]

# One more report of the seeds' story (its talks, people and figures in other words), titled as an attack.
HOSTILE_ARTICLE = {
    "id": "hostile-script-title",
    "title": HOSTILE_TITLE,
    "source": "Harbour Ledger",
    "published_at": "2022-01-13T09:30:00Z",
    "text": "BRUSSELS - The NATO-Russia Council met in Brussels on Wednesday for the first time in more than two years, "
    "and the talks between the alliance and Russian Deputy Foreign Minister Alexander Grushko ended without a "
    "breakthrough.\n\nNATO Secretary General Jens Stoltenberg told reporters after the meeting that allies and Russia "
    "had a serious and direct exchange, and that there are significant differences between NATO allies and Russia on "
    "this issue.\n\nRussia has massed about 100,000 troops near the border with Ukraine, Western officials said, and "
    "Moscow has demanded that the alliance rule out any further enlargement to the east.\n\nUS Deputy Secretary of "
    "State Wendy Sherman, who led the American delegation in Brussels, said Washington would not accept a veto on who "
    "joins NATO. The Organization for Security and Cooperation in Europe meets in Vienna on Thursday.",
}


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed: apt-get install -y chromium (as .ci/run does)")
    pytest.importorskip("playwright.async_api", reason="pip install -e '.[test]' installs Playwright")
    return CHROMIUM


def _storywire(settings: Settings, log_path: Path, *args: str) -> subprocess.Popen:
    """A storywire command as a user runs it, on the test's broker, topics and home, its output in a log."""
    env = {**os.environ, "STORYWIRE_TOPIC_PREFIX": settings.topic_prefix, "STORYWIRE_HOME": str(settings.home)}
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "--broker", settings.bootstrap, *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


@pytest.fixture
def web(settings: Settings, tmp_path: Path):
    """`storywire web` on a free port; stopped with SIGTERM, which it must take cleanly."""
    port = free_port()
    process = _storywire(settings, tmp_path / "web.log", "web", "--port", str(port))
    yield f"http://127.0.0.1:{port}"
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0, (tmp_path / "web.log").read_text()


async def _desk_shows(base: str, articles: int, seconds: float = WAIT_MS / 1000, serving: subprocess.Popen | None = None) -> None:
    """Wait until the server has folded a story of `articles` articles (it reads the topics from their start); if
    the process that serves it exits first, fail at once."""
    async with aiohttp.ClientSession() as session:
        for _ in range(round(seconds / 0.25)):
            assert serving is None or serving.poll() is None, f"the server exited (status {serving.returncode})"
            try:
                async with session.get(f"{base}/api/stories") as response:
                    if any(s["articles"] == articles for s in (await response.json())["stories"]):
                        return
            except aiohttp.ClientConnectionError:
                pass  # not listening yet
            await asyncio.sleep(0.25)
    raise AssertionError(f"{base} never showed a story of {articles} articles")


async def test_demo_web_leaves_the_story_desk_up_until_ctrl_c(settings, tmp_path):
    port = free_port()
    log_path = tmp_path / "demo.log"
    demo = _storywire(settings, log_path, "demo", "--web", "--port", str(port), "--timeout", str(OUTCOME_WAIT_S))
    try:
        # The page comes up once the demo's worker has started and placed the seeds: wait as long as it may.
        await _desk_shows(f"http://127.0.0.1:{port}", 5, OUTCOME_WAIT_S + WAIT_MS / 1000, demo)
        assert demo.poll() is None  # the demo is over, the page stays up
        demo.send_signal(signal.SIGINT)
        assert demo.wait(60) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
    output = log_path.read_text()
    assert "NATO-Russia Council" in output and f"story desk on http://127.0.0.1:{port}/" in output
    assert "add articles: STORYWIRE_TOPIC_PREFIX=" in output
    worker_dirs = settings.home / "worker"
    assert not worker_dirs.exists() or not any(worker_dirs.iterdir())  # the demo's worker stopped, its state gone


@pytest.fixture
def expect():
    """Playwright's expect, waiting up to WAIT_MS (chromium beside a broker and a worker on two cores, not its 5 s);
    its options are global, so they are put back after the test."""
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    yield expect
    expect.set_options(timeout=None)


async def test_the_story_desk_in_a_browser(settings, worker, web, chromium, expect, tmp_path):
    from playwright.async_api import async_playwright

    sent = (await replay([SEEDS], settings, progress=lambda _: None)).sent
    state = await wait_for_outcomes(settings, sent, worker, timeout=OUTCOME_WAIT_S, progress=lambda _: None)
    (story,) = state["stories"]
    assert "NATO-Russia Council" in story["label"]
    await _desk_shows(web, 5)

    alerts: list[str] = []

    async def record(dialog) -> None:
        alerts.append(dialog.message)
        await dialog.dismiss()

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            listing = await browser.new_page(viewport={"width": 1280, "height": 900})
            listing.on("dialog", record)
            await listing.goto(web + "/")
            await expect(listing.locator(".story-label")).to_have_text([story["label"]])

            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("dialog", record)
            await page.goto(web + "/")
            await page.locator(".story-label", has_text=story["label"]).click()
            await expect(page.locator("#story-label")).to_have_text(story["label"])
            shown_outlets = await page.locator("#outlets .legend-name").all_text_contents()
            assert sorted(shown_outlets) == sorted(story["outlets"]) and len(shown_outlets) == 5
            conflicts = page.locator("#conflicts .conflict")
            await expect(conflicts).to_have_count(3)
            for i, conflict in enumerate(story["conflicts"]):
                shown = conflicts.nth(i)
                await expect(shown.locator("h3")).to_have_text(conflict["about"])
                sides = shown.locator(".side")
                await expect(sides.locator(".side-value")).to_have_text([side["value"] for side in conflict["sides"]])
                for j, side in enumerate(conflict["sides"]):
                    await expect(sides.nth(j).locator(".outlets li")).to_have_text(side["outlets"])
            height = await page.evaluate("document.documentElement.scrollHeight")
            SCREENSHOT.parent.mkdir(exist_ok=True)
            await page.screenshot(
                path=str(SCREENSHOT), full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": min(height, 1500)}
            )

            phone = await browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
            await phone.goto(page.url)
            await expect(phone.locator("#story-label")).to_have_text(story["label"])
            assert await phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            await phone.close()

            for open_page in (listing, page):
                await expect(open_page.locator("#status")).to_have_attribute("data-state", "live")
                await open_page.evaluate("window.sameDocument = true")  # gone if the page reloads
            feed = tmp_path / "hostile.jsonl"
            feed.write_bytes(orjson.dumps(HOSTILE_ARTICLE) + b"\n")
            await replay([feed], settings, progress=lambda _: None)
            await wait_for_outcomes(settings, sent + 1, worker, timeout=OUTCOME_WAIT_S, progress=lambda _: None)

            hostile_row = page.locator(".entry", has=page.locator(".entry-title", has_text=HOSTILE_TITLE))
            await expect(hostile_row).to_be_visible()
            await expect(hostile_row.locator(".entry-title")).to_have_text(HOSTILE_TITLE)
            await expect(hostile_row.locator(".outlet")).to_have_text("Harbour Ledger")
            story_row = listing.locator(f'.story[data-key="{story["story_id"]}"]')
            await expect(story_row.locator(".story-counts")).to_contain_text("6 articles")
            for open_page in (listing, page):
                assert await open_page.evaluate("window.sameDocument === true"), "the page reloaded"
                scripts = await open_page.evaluate("[...document.scripts].map(s => s.src || s.textContent)")
                assert scripts == [web + "/static/desk.js"]
            assert alerts == []
        finally:
            await browser.close()
