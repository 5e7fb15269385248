"""The desk's stories as the JSON API serves them and the pages render them.

Every value is JSON-ready (times as ISO text): `/api/...` returns these dicts as they are, and the templates
render the same dicts, so the pages show nothing the API does not. Strings from articles stay as they came;
escaping is the templates' job (and TimelineJS's export's, which produces HTML).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from schemas import StoryMerged
from streams.story.fold import StoryEventModel
from streams.story.state import claim_text, outlet_key
from streams.web import charts

if TYPE_CHECKING:
    from streams.web.live import Desk, HeldStory

LISTED = 8  # items of each kind a timeline row names; the rest are counted
TITLE_CHARS = 300
QUOTE_CHARS = 400
SUMMARY_NAMES = 5  # outlets, people and places named in a story's row on the stories page
STORIES_SHOWN = 100


def clip(text: str | None, limit: int) -> str | None:
    """The text cut to `limit` characters, an ellipsis last where it was cut."""
    return text if text is None or len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _listed(items: list) -> dict:
    return {"shown": items[:LISTED], "more": max(0, len(items) - LISTED)}


def entry_row(event: StoryEventModel, absorbed_label: str | None = None) -> dict:
    """One changelog entry as a timeline row: when, which outlet, and what it added, each list bounded."""
    row = {
        "story_id": event.story_id,
        "version": event.version,
        "position": event.position,
        "kind": event.kind,
        "time": event.time.isoformat(),
        "label": event.label,
    }
    if isinstance(event, StoryMerged):
        return {
            **row,
            "absorbed_story_id": event.absorbed_story_id,
            "absorbed_label": absorbed_label,
            "absorbed_version": event.absorbed_version,
            "articles": event.articles,
        }
    kinds = {entity.name: entity.kind for entity in event.facts.entities}
    return {
        **row,
        "article_id": event.article_id,
        "article_time": (event.article_time or event.time).isoformat(),
        "outlet": outlet_key(event.outlet, event.article_id),
        "title": clip(event.facts.title, TITLE_CHARS),
        "score": getattr(event, "score", None),
        "new_outlet": event.new_outlet,
        "new_people": _listed([name for name in event.new_entities if kinds.get(name) == "person"]),
        "new_names": _listed([name for name in event.new_entities if kinds.get(name) != "person"]),
        "new_quotes": _listed([{"text": clip(q.text, QUOTE_CHARS), "speaker": q.speaker} for q in event.new_quotes]),
        "new_figures": _listed([claim_text(claim) for claim in event.new_claims]),
        "corroborations": _listed(
            [{"what": c.what, "text": clip(c.text, QUOTE_CHARS), "outlets": c.outlets} for c in event.corroborations]
        ),
        "conflicts": _listed([conflict.model_dump(mode="json") for conflict in event.conflicts]),
    }


def story_summary(held: HeldStory) -> dict:
    """A story's row on the stories page."""
    snap = held.snapshot()
    return {
        "story_id": held.story_id,
        "label": snap.label,
        "version": snap.version,
        "articles": snap.articles,
        "outlet_count": snap.outlet_count,
        "outlets": snap.outlets[:SUMMARY_NAMES],
        "people": [person.name for person in snap.people[:SUMMARY_NAMES]],
        "places": snap.places[:SUMMARY_NAMES],
        "conflicts": len(snap.conflicts),
        "first_seen": snap.first_seen.isoformat(),
        "last_seen": snap.last_seen.isoformat(),
        "last_entry": held.last_time.isoformat() if held.last_time else None,
        "event_date": snap.event_date.isoformat() if snap.event_date else None,
        "articles_over_time": charts.over_time(held.hours, held.days),
    }


def matches(held: HeldStory, terms: list[str]) -> bool:
    """Whether every search term is in the story's label, people, places or organisations (any case)."""
    snap = held.snapshot()
    haystack = " ".join([snap.label, *(p.name for p in snap.people), *snap.places, *snap.organisations]).casefold()
    return all(term in haystack for term in terms)


def story_list(desk: Desk, query: str = "", shown: int = STORIES_SHOWN) -> dict:
    """The stories page: the latest active stories matching the query, most recently active first."""
    terms = query.casefold().split()
    found = [held for held in desk.latest() if matches(held, terms)]
    return {
        "query": query,
        "matched": len(found),
        "held": desk.held,
        "limit": desk.limit,
        "events_read": desk.events_read,
        "unfoldable": desk.unfoldable,
        "without_zone": desk.without_zone,
        "stories": [story_summary(held) for held in found[:shown]],
    }


def story_detail(desk: Desk, held: HeldStory) -> dict:
    """A story's page: its snapshot, timeline (newest first), quotes by outlets, duplicates, merges and chart."""
    snap = held.snapshot()
    colours = charts.outlet_colours(held.state.outlets)
    known_articles = {row["article_id"]: row for row in held.entries if "article_id" in row}
    duplicates, duplicates_total = desk.duplicates_of(held)
    quotes = [
        {
            "text": quote.text,
            "speaker": quote.speaker,
            "outlets": list(reported.outlets),
            "outlet_count": reported.count,
        }
        for quote, reported in held.state.quotes
    ]
    quotes.sort(key=lambda q: -q["outlet_count"])
    return {
        **snap.model_dump(mode="json"),
        "outlet_articles": [
            {"outlet": outlet, "articles": n, "colour": colours.get(outlet, charts.GREY)}
            for outlet, n in sorted(held.state.outlets.items(), key=lambda kv: -kv[1])
        ],
        "corroborated_quotes": [q for q in quotes if q["outlet_count"] > 1],
        "single_source_quotes": [q for q in quotes if q["outlet_count"] == 1],
        "entries": [{**row, "colour": colours.get(row.get("outlet"), charts.GREY)} for row in reversed(held.entries)],
        "entries_total": held.entries_total,
        "duplicates": [
            {**verdict.model_dump(mode="json"), "original_title": _title_of(known_articles.get(verdict.duplicate_of))}
            for verdict in duplicates
        ],
        "duplicates_total": duplicates_total,
        "merged_from": [  # labelled by the survivor: an absorbed story may have left the desk
            {"story_id": story_id, "label": held.absorbed_labels.get(story_id)} for story_id in snap.absorbed
        ],
        "merged_into_story": _story_ref(desk, snap.merged_into) if snap.merged_into else None,
        "articles_per_day": charts.by_day(held.days),
    }


def _title_of(row: dict | None) -> str | None:
    return None if row is None else row["title"] or row["outlet"]


def _story_ref(desk: Desk, story_id: str) -> dict:
    """A link to another story, with its label while the desk holds it."""
    held = desk.get(story_id)
    return {"story_id": story_id, "label": held.snapshot().label if held else None}
