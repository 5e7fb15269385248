"""A synthetic news stream, generated from a seed, for crash tests and benchmarks.

Stories get invented names (people, an organisation, a place) and topic words;
their articles mix those with common English, with article lengths, story sizes,
syndicated copies and near duplicates drawn from fixed distributions. The same
seed always gives the same stream, so two runs can be compared entry for entry.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from wordfreq import top_n_list

_COMMON = [w for w in top_n_list("en", 3000) if w.isalpha() and len(w) > 2]
_SYLLABLES = ["ka", "lo", "mi", "ren", "ta", "vo", "sel", "dar", "ni", "bu", "gor", "el", "an", "tis", "ru", "pen", "zo", "mar"]
_OUTLETS = [f"{name} {kind}" for name in ("Northern", "Coastal", "Metro", "Capital", "Valley", "Harbour", "Union", "Evening")
            for kind in ("Herald", "Times", "Post", "Courier", "Ledger")]
_CHROME_TOP = ["Home | News | World", "Sign in to your account", "Menu\nSearch\nSubscribe"]
_CHROME_BOTTOM = [
    "Subscribe to our newsletter for the latest headlines.",
    "Copyright 2024 {outlet}. All rights reserved.",
    "Please read our comment policy before commenting.",
]


@dataclass(frozen=True)
class Stream:
    articles: list[dict]  # JSONL-ready articles
    gold: dict[str, str]  # article id -> story id


def _name(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(syllables)).capitalize()


# A broker time after every synthetic article's date (2027), as when an archive is replayed: an article
# dated after its broker time is not taken at its date (streams/story/desk.py).
REPLAYED_AT = 1_800_000_000


def _story(rng: random.Random, index: int | str, start: datetime) -> dict:
    return {
        "id": f"s{index}",
        "people": [f"{_name(rng, 2)} {_name(rng, 3)}" for _ in range(rng.randint(2, 4))],
        "organisation": f"{_name(rng, 3)} {rng.choice(['Council', 'Ministry', 'Authority', 'Union', 'Commission'])}",
        "place": _name(rng, 3),
        "topic": rng.sample(_COMMON[800:], 12),
        "start": start,
    }


def _sentence(rng: random.Random, story: dict) -> str:
    words = rng.sample(_COMMON[:1500], rng.randint(8, 16))
    for _ in range(rng.randint(1, 3)):
        words.insert(rng.randrange(len(words)), rng.choice(story["topic"]))
    words.insert(rng.randrange(len(words)), rng.choice(story["people"] + [story["organisation"], story["place"]]))
    words.append(rng.choice(["said", "reported", "added"]))
    sentence = " ".join(words)
    return sentence[0].upper() + sentence[1:] + "."


def _article(rng: random.Random, story: dict, number: int, when: datetime, max_paragraphs: int) -> dict:
    paragraphs = min(max_paragraphs, rng.choices([1, 2, 3, 4, 6, 9, 12], weights=[2, 3, 4, 4, 3, 2, 1])[0])
    body = "\n\n".join(" ".join(_sentence(rng, story) for _ in range(rng.randint(2, 4))) for _ in range(paragraphs))
    title_words = rng.sample(story["topic"], 3) + [story["place"]]
    return {
        "id": f"{story['id']}-a{number}",
        "title": " ".join(title_words)[0].upper() + " ".join(title_words)[1:],
        "text": body,
        "source": rng.choice(_OUTLETS),
        "published_at": when.isoformat(),
    }


def _copy(rng: random.Random, original: dict, number: int, changed_words: int) -> dict:
    """A syndicated copy: other outlet and chrome, the same body with a few words changed."""
    words = original["text"].split(" ")
    for _ in range(changed_words):
        words[rng.randrange(len(words))] = rng.choice(_COMMON[:500])
    outlet = rng.choice(_OUTLETS)
    text = "\n\n".join([rng.choice(_CHROME_TOP), " ".join(words), rng.choice(_CHROME_BOTTOM).format(outlet=outlet)])
    return {**original, "id": f"{original['id']}-copy{number}", "source": outlet, "text": text}


def generate(
    articles: int, seed: int = 7, duplicate_rate: float = 0.1, mean_story_size: float = 6.0, max_paragraphs: int = 12
) -> Stream:
    """`articles` articles over as many stories as the mean story size implies, in publication order.

    Paragraphs per article follow a long-tailed distribution (median 3-4, up to 12), capped at `max_paragraphs`.
    """
    rng = random.Random(seed)
    start = datetime(2024, 3, 1, tzinfo=timezone.utc)
    stories = [_story(rng, i, start + timedelta(hours=rng.uniform(0, 24 * 30))) for i in range(max(1, int(articles / mean_story_size)))]
    out: list[tuple[datetime, dict, str]] = []
    counts = {s["id"]: 0 for s in stories}
    while len(out) < articles:
        story = rng.choice(stories)
        when = story["start"] + timedelta(hours=rng.expovariate(1 / 18))
        counts[story["id"]] += 1
        article = _article(rng, story, counts[story["id"]], when, max_paragraphs)
        out.append((when, article, story["id"]))
        if rng.random() < duplicate_rate and len(out) < articles:
            copied_at = when + timedelta(minutes=rng.randint(5, 120))
            copy = _copy(rng, article, counts[story["id"]], changed_words=rng.randint(0, 4))
            out.append((copied_at, {**copy, "published_at": copied_at.isoformat()}, story["id"]))
    out.sort(key=lambda row: (row[0], row[1]["id"]))
    return Stream(articles=[a for _, a, _ in out], gold={a["id"]: s for _, a, s in out})


def stream_over_days(
    articles: int,
    days: float,
    seed: int = 7,
    long_running: int = 3,
    long_share: float = 0.06,
    duplicate_rate: float = 0.1,
    max_paragraphs: int = 6,
) -> Iterator[dict]:
    """`articles` articles over `days` days of publication time, made one day at a time (nothing is held).

    Each day brings new short stories (about six articles each, over a day or two), and `long_running`
    stories take `long_share` of every day's articles from the first day to the last: a war, an election,
    thousands of articles each. A share of `duplicate_rate` are syndicated copies.
    """
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    per_day = articles / days
    long_stories = [_story(rng, f"long{i}", start) for i in range(long_running)]
    counts: dict[str, int] = {}
    made, day = 0, 0
    while made < articles:
        day_start = start + timedelta(days=day)
        today = min(articles - made, max(1, round(per_day * (day + 1)) - made))
        stories = [_story(rng, f"d{day}n{i}", day_start + timedelta(hours=rng.uniform(0, 24))) for i in range(max(1, today // 6))]
        batch: list[tuple[datetime, dict]] = []
        while len(batch) < today:
            if long_stories and rng.random() < long_share:
                story, when = rng.choice(long_stories), day_start + timedelta(hours=rng.uniform(0, 24))
            else:
                story = rng.choice(stories)
                when = story["start"] + timedelta(hours=rng.expovariate(1 / 18))
            counts[story["id"]] = counts.get(story["id"], 0) + 1
            article = {**_article(rng, story, counts[story["id"]], when, max_paragraphs), "published_at": when.isoformat()}
            batch.append((when, article))
            if rng.random() < duplicate_rate and len(batch) < today:
                copied_at = when + timedelta(minutes=rng.randint(5, 120))
                copy = _copy(rng, article, counts[story["id"]], changed_words=rng.randint(0, 4))
                batch.append((copied_at, {**copy, "published_at": copied_at.isoformat()}))
        batch.sort(key=lambda row: (row[0], row[1]["id"]))
        for _, article in batch:
            yield article
        made += len(batch)
        day += 1
