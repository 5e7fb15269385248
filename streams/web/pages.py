"""The HTML pages, rendered on the server from the view's dicts by Jinja2 templates with autoescaping on.

Every string from an article is hostile: autoescaping turns `<script>` into text in element content and in
quoted attributes alike, so no template marks anything safe. The charts' layout is numbers from
`charts.py`; their labels are escaped like everything else.
"""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from streams.web import charts
from streams.web.formats import count_of, format_day, format_time

_templates = Environment(
    loader=PackageLoader("streams.web", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters.update(when=format_time, day=format_day)
_templates.globals.update(count_of=count_of, sparkline=charts.sparkline)


def stories_page(listing: dict) -> str:
    return _templates.get_template("stories.html").render(page="stories", query=listing["query"], listing=listing)


def story_page(detail: dict) -> str:
    colours = {outlet["outlet"]: outlet["colour"] for outlet in detail["outlet_articles"]}
    chart = charts.stacked_bars(detail["articles_per_day"], colours)
    return _templates.get_template("story.html").render(page="story", query="", story=detail, chart=chart)


def missing_page(story_id: str) -> str:
    return _templates.get_template("missing.html").render(page="missing", query="", story_id=story_id)


def entry_changes(row: dict) -> Markup:
    """What a timeline row added, as the HTML list the story page shows (escaped), for other renderers too."""
    return _templates.get_template("macros.html").module.changes(row)
