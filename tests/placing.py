"""The two placing stages in one process for tests: the desk, and one shelf that folds all it sends."""

from dataclasses import dataclass

from schemas import PreparedArticle
from schemas.placing import parse_to_story
from streams.settings import Settings
from streams.story.desk import DeskStores, StoryDesk
from streams.story.fold import StoryEventModel
from streams.story.shelf import StoryShelf

SETTINGS = Settings(broker="127.0.0.1:1")


@dataclass
class Placed:
    """A desk's outcome for an article, with the entries a story stage folds its messages into."""

    outcome: object
    events: tuple[StoryEventModel, ...]

    @property
    def event(self) -> StoryEventModel:
        return self.events[0]

    @property
    def verdict(self):
        return self.outcome.verdict


class Placing:
    """A desk and one shelf that folds every message it sends (the handovers taken in turn)."""

    def __init__(self, settings: Settings = SETTINGS, stores: DeskStores | None = None) -> None:
        self.desk = StoryDesk(settings, stores)
        self.shelf = StoryShelf()

    def place(self, prepared: PreparedArticle) -> Placed:
        outcome = self.desk.place(prepared)
        pending = [value for kind, _, value in self.desk.messages(outcome) if kind == "story"]
        events = []
        while pending:
            for done in self.shelf.receive(parse_to_story(pending.pop(0))):
                events += done.entries
                pending += [handover.to_bytes() for handover in done.handovers]
        return Placed(outcome, tuple(events))
