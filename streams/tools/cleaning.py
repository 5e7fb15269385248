"""`storywire clean`: how the cleaner reads articles, without a broker.

For auditing the cleaner on a feed, page or archive before replaying it, or when a story surprises: each
article's kept text and metadata, and every block removed with its reason. The worker keeps these to its
preparing stage (a prepared article carries its article's metadata, not its text), so here is where they show.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson

from schemas import CleanArticle, DeadLetter
from streams.kafka.replay import raw_key
from streams.pipeline.prepare import (
    Rejected,
    cleaned,
    internal_error,
)
from streams.sources import PassedOver, Skipped, input_files, read_inputs
from streams.web.formats import count_of

REMOVED_PREVIEW_CHARS = 100  # of a removed block, in the text output


def cleaned_inputs(paths: list[Path], max_bytes: int) -> Iterator[CleanArticle | DeadLetter | Skipped]:
    """Every article under the paths as a worker cleans it once replayed (the same bytes and key), or the dead
    letter it would become (a bug in the cleaner too, as the worker's is); an input that should have given an
    article and did not, `Skipped` with the reason, as the replay lists it. Inputs that are no article by nature
    (a WARC request record) are passed over, as the replay passes them over."""
    for item in read_inputs(input_files(paths), max_bytes):
        if isinstance(item, PassedOver):
            continue
        if isinstance(item, Skipped):
            yield item
            continue
        payload, key = orjson.dumps(item), raw_key(item)
        try:
            yield cleaned(payload, key, max_bytes)
        except Rejected as rejected:
            yield rejected.as_dead_letter(payload, key)
        except Exception as error:  # noqa: BLE001 - as the worker's preparing turns a bug into a dead letter
            yield internal_error(payload, key, error)


def describe(outcome: CleanArticle | DeadLetter | Skipped) -> str:
    """An outcome as `storywire clean` prints it: what was kept, then each removed block with its reason."""
    if isinstance(outcome, Skipped):
        return f"skipped {outcome}"
    if isinstance(outcome, DeadLetter):
        return f"{outcome.article_id}: a dead letter at {outcome.stage}: {outcome.reason}"
    found = [
        f"outlet {outcome.outlet}" if outcome.outlet else None,
        f"published {outcome.published_at.isoformat()}" if outcome.published_at else None,
        f"event date {outcome.event_date.isoformat()}" if outcome.event_date else None,
        f"language {outcome.language}" if outcome.language else None,
    ]
    paragraphs = sum(1 for p in outcome.text.split("\n\n") if p.strip())
    lines = [
        f"{outcome.article_id}: {outcome.title or '(no title)'}",
        f"  kept {count_of(paragraphs, 'paragraph')}, {count_of(len(outcome.text.split()), 'word')}"
        + "".join(f"; {fact}" for fact in found if fact),
        f"  removed {len(outcome.removed)}" + (":" if outcome.removed else ""),
    ]
    lines += [f"    - {block.reason}: {_preview(block.text)}" for block in outcome.removed]
    return "\n".join(lines)


def as_json(outcome: CleanArticle | DeadLetter | Skipped) -> bytes:
    """An outcome as one line of `storywire clean --json`: {"cleaned": clean-article}, {"dead_letter": dead-letter}
    or {"skipped": {"where", "reason"}}."""
    if isinstance(outcome, Skipped):
        return orjson.dumps({"skipped": {"where": outcome.where, "reason": outcome.reason}})
    kind = "dead_letter" if isinstance(outcome, DeadLetter) else "cleaned"
    return b'{"%s":%s}' % (kind.encode(), outcome.to_bytes())


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= REMOVED_PREVIEW_CHARS else flat[: REMOVED_PREVIEW_CHARS - 1] + "…")
