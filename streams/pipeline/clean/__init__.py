"""Cleaning of scraped news articles: keep the reporting, drop the site furniture, find the metadata.

A scraped article is a few paragraphs of reporting wrapped in whatever the page
had around them: menus, cookie and donation banners, newsletter sign-ups,
related links, photo captions, author contact lines, comment sections. The
rules here are general rules about web pages and news writing (position,
length, sentence punctuation, function-word density, call-to-action wording,
repetition), never knowledge of particular outlets.

Every removed paragraph is kept in `CleanArticle.removed` with the reason, so
a person can audit (and argue with) each decision: `storywire clean` shows them.

Pure functions: no I/O, no Kafka, no clock.

One module a concern: `article` (the entry point), `repair`, `html`, `paragraphs`, `rules`, `title`,
`outlet`, `dates`, `language`, and `wording` for the word lists the rules read.
"""

from streams.pipeline.clean.article import MAX_CLEAN_CHARS, clean_article
from streams.pipeline.clean.dates import days_in_reporting
from streams.pipeline.clean.outlet import outlet_from_domain
from streams.pipeline.clean.paragraphs import split_paragraphs
from streams.pipeline.clean.repair import UnusableArticle

__all__ = [
    "MAX_CLEAN_CHARS",
    "UnusableArticle",
    "clean_article",
    "days_in_reporting",
    "outlet_from_domain",
    "split_paragraphs",
]
