"""The web desk's input: the story events and duplicates topics, read from their beginning and then followed."""

from __future__ import annotations

import logging

from schemas import DuplicateVerdict, parse_story_event
from streams.kafka.read import tail
from streams.kafka.topics import DUPLICATES, STORY_EVENTS
from streams.settings import Settings
from streams.story.fold import StoryEventModel
from streams.web.live import Desk

log = logging.getLogger(__name__)


class TimeWithoutZone(ValueError):
    """A story event whose times have no time zone: passed over as a bad message, and counted on the desk."""


async def feed_desk(settings: Settings, desk: Desk) -> None:
    """Fold every story event and duplicate verdict into the desk, for as long as it runs.

    One bad message must not stop the pages of every story, nor, as the topics keep it, every restart: a
    message that is not what its topic carries is logged and passed over, and so is one the desk fails on
    (the desk is left as it was before that message)."""
    async for name, value in tail(settings, STORY_EVENTS, DUPLICATES):
        try:
            message = _story_event(value) if name == STORY_EVENTS else DuplicateVerdict.from_bytes(value)
        except ValueError as error:  # pydantic's ValidationError and orjson's decode error are ValueErrors
            if isinstance(error, TimeWithoutZone):
                desk.without_zone += 1
            log.warning("passed over a bad message on %s: %s", settings.topic(name), error)
            continue
        try:
            if isinstance(message, DuplicateVerdict):
                desk.add_duplicate(message)
            else:
                desk.apply(message)
        except Exception:
            log.exception("passed over %s on %s: the desk failed on it", _named(message), settings.topic(name))


def _story_event(value: bytes) -> StoryEventModel:
    """The story event a message carries; one whose times have no time zone is refused, as the fold compares
    them with the zoned times of every other event."""
    event = parse_story_event(value)
    times = (event.time, getattr(event, "article_time", None))  # a merge has no article time
    if any(when is not None and when.utcoffset() is None for when in times):
        raise TimeWithoutZone(
            f"story {event.story_id} v{event.version} at position {event.position}: a time without a zone"
        )
    return event


def _named(message: StoryEventModel | DuplicateVerdict) -> str:
    if isinstance(message, DuplicateVerdict):
        return f"the verdict on copy {message.article_id} of story {message.story_id}"
    return f"story {message.story_id} v{message.version} at position {message.position}"
