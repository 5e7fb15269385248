"""What every reader yields besides articles, and the id every article gets."""

from __future__ import annotations

from dataclasses import dataclass

from schemas import RawArticle
from streams.pipeline.prepare import stable_id


class Unreadable(Exception):
    """An input (a page, a feed, a record) that holds no article; the message says why."""


@dataclass(frozen=True)
class Skipped:
    """Input that should have given an article and did not: a line of the replay summary."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True)
class PassedOver:
    """Input that is no article by nature (a WARC request record, an image): counted by kind, not listed."""

    kind: str


def with_id(article: dict) -> dict:
    """The article with an id: its own, else a stable one from its content (the same input, the same id).

    A numeric id (JSONL feeds number their lines: 0, 1, ...) becomes a string, as the raw topic's schema wants.
    An empty one is none, as to the worker; one of another kind is kept, for the worker to report.
    """
    given = article.get("id")
    if isinstance(given, int) and not isinstance(given, bool):
        return {**article, "id": str(given)}
    if given is not None and given != "":
        return article
    fields = {k: article.get(k) if isinstance(article.get(k), str) else None for k in ("url", "title", "text")}
    return {**article, "id": stable_id(RawArticle(**fields))}
