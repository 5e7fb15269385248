"""The desk's feed (no broker: the topics are a list): one bad message is passed over, never the end of the feed."""

from __future__ import annotations

import logging

import orjson

from streams.kafka.topics import STORY_EVENTS
from streams.settings import Settings
from streams.web import feed, live
from streams.web.live import Desk
from streams.web.view import story_list


async def _fed(monkeypatch, messages: list[bytes]) -> Desk:
    """A desk fed the messages as the story events topic, in order."""

    async def topics(_settings, *_names):
        for value in messages:
            yield STORY_EVENTS, value

    monkeypatch.setattr(feed, "tail", topics)
    desk = Desk(10)
    await feed.feed_desk(Settings(), desk)
    return desk


async def test_an_event_whose_time_has_no_zone_is_passed_over_and_the_feed_goes_on(newsroom, monkeypatch, caplog):
    first, second = newsroom.article("s1", "a1", "Harbour Times"), newsroom.article("s1", "a2", "Coast Daily")
    zoneless = {**orjson.loads(second.to_bytes()), "time": "2023-03-07T10:00:00", "article_time": None}
    other = newsroom.article("s2", "b1", "Bay News", phrases=("Ferry Strike",))
    with caplog.at_level(logging.WARNING, logger=feed.__name__):
        desk = await _fed(monkeypatch, [first.to_bytes(), orjson.dumps(zoneless), other.to_bytes()])
    assert "s1 v2 at position 2: a time without a zone" in caplog.text
    s1 = desk.get("s1").state
    assert (s1.version, s1.articles) == (1, 1) and desk.get("s2") is not None


async def test_events_whose_times_have_no_zone_are_counted_where_the_desk_reports_its_counts(newsroom, monkeypatch):
    first, second, third = (newsroom.article("s1", f"a{n}", "Harbour Times") for n in (1, 2, 3))
    zoneless_time = {**orjson.loads(second.to_bytes()), "time": "2023-03-07T10:00:00", "article_time": None}
    zoneless_article_time = {**orjson.loads(third.to_bytes()), "article_time": "2023-03-07T10:00:00"}
    messages = [first.to_bytes(), orjson.dumps(zoneless_time), b"not a story event", orjson.dumps(zoneless_article_time)]
    desk = await _fed(monkeypatch, messages)
    assert desk.without_zone == 2  # the message that is no story event at all is not one of them
    assert story_list(desk)["without_zone"] == 2


async def test_an_entry_the_desk_fails_on_is_logged_and_leaves_its_story_as_it_was(newsroom, monkeypatch, caplog):
    fold = live.apply

    def fold_then_fail(state, event, absorbed=None):
        fold(state, event, absorbed)
        if event.version == 2:
            raise RuntimeError("a bug the entry brings out")

    events = [newsroom.article("s1", "a1", "Harbour Times"), newsroom.article("s1", "a2", "Coast Daily")]
    events.append(newsroom.article("s2", "b1", "Bay News", phrases=("Ferry Strike",)))
    monkeypatch.setattr(live, "apply", fold_then_fail)
    with caplog.at_level(logging.ERROR, logger=feed.__name__):
        desk = await _fed(monkeypatch, [event.to_bytes() for event in events])
    assert "story s1 v2 at position 2" in caplog.text and "a bug the entry brings out" in caplog.text
    s1 = desk.get("s1")
    assert (s1.state.version, s1.state.articles, s1.entries_total) == (1, 1, 1) and desk.get("s2") is not None
