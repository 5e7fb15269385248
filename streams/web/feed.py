"""The web desk's input: the story events and duplicates topics, read from their beginning and then followed."""

from __future__ import annotations

import logging

from schemas import DuplicateVerdict, parse_story_event
from streams.kafka.read import tail
from streams.kafka.topics import DUPLICATES, STORY_EVENTS
from streams.settings import Settings
from streams.web.live import Desk

log = logging.getLogger(__name__)


async def feed_desk(settings: Settings, desk: Desk) -> None:
    """Fold every story event and duplicate verdict into the desk, for as long as it runs.

    A message that is not what its topic carries is logged and passed over: one bad message must not stop
    the pages of every story."""
    async for name, value in tail(settings, STORY_EVENTS, DUPLICATES):
        try:
            if name == STORY_EVENTS:
                desk.apply(parse_story_event(value))
            else:
                desk.add_duplicate(DuplicateVerdict.from_bytes(value))
        except ValueError as error:  # pydantic's ValidationError and orjson's decode error are ValueErrors
            log.warning("passed over a message on %s that does not parse: %s", settings.topic(name), error)
