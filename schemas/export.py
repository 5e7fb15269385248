"""Write the JSON Schema of every message model, and of the clean article `storywire clean --json` prints, to
schemas/json/, for consumers in other languages.

Run `python -m schemas.export` after changing a model; a test fails while an export is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

import orjson
from pydantic import TypeAdapter

from schemas import (
    CleanArticle,
    DeadLetter,
    DuplicateVerdict,
    PreparedArticle,
    RawArticle,
    StoryEvent,
    StorySnapshot,
)
from schemas.placing import ToStory

EXPORT_DIR = Path(__file__).parent / "json"

MODELS = {
    "raw-article": TypeAdapter(RawArticle),
    "clean-article": TypeAdapter(CleanArticle),  # `storywire clean --json`
    "prepared-article": TypeAdapter(PreparedArticle),
    "story-placement": TypeAdapter(ToStory),  # the global stage's decisions, and the story stage's handovers
    "duplicate-verdict": TypeAdapter(DuplicateVerdict),
    "dead-letter": TypeAdapter(DeadLetter),
    "story-event": TypeAdapter(StoryEvent),
    "story-snapshot": TypeAdapter(StorySnapshot),
}


def rendered() -> dict[str, bytes]:
    """Each export's file name and exact bytes."""
    return {
        f"{name}.schema.json": orjson.dumps(adapter.json_schema(mode="serialization"), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        + b"\n"
        for name, adapter in MODELS.items()
    }


def main() -> int:
    EXPORT_DIR.mkdir(exist_ok=True)
    for name, content in rendered().items():
        (EXPORT_DIR / name).write_bytes(content)
        print(f"wrote {EXPORT_DIR / name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
