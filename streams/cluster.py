"""Online story clustering: features, candidate retrieval, scoring and the join-or-start decision.

One article at a time, in arrival order:
1. `features` turns an article into three sparse TF-IDF vectors kept apart —
   body tokens (t:), named entities (e:) and headline tokens (h:) — because
   the streaming news clustering literature found them to work best as
   separate similarities rather than one bag of words.
2. `StoryIndex.candidates` retrieves stories through an inverted index on
   each story's most salient features: cost depends on the postings touched,
   not on how many stories are live.
3. `score` combines the three cosines with outlet diversity and a time decay
   (a story fades as it goes quiet; the same names years later are another story).
4. `decide` joins the best candidate if its score reaches the threshold, else
   starts a new story.

IDF comes from English word frequencies (wordfreq) so that the first articles
of a fresh stream are weighed as well as the ten-thousandth; nothing here is
fitted to any particular stream.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from wordfreq import word_frequency

TOP_ARTICLE_FEATURES = 60
TOP_STORY_FEATURES = 120
POSTING_FEATURES = 12
MAX_CANDIDATES = 40
WEIGHTS = {"t": 0.45, "e": 0.35, "h": 0.20}

_TOKEN = re.compile(r"[^\W\d_][\w'’-]*[^\W_]|[^\W\d_]", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?]['\"”’]?\s+")
_MIN_FREQUENCY = 1e-8  # frequency given to words wordfreq has never seen


@lru_cache(maxsize=262_144)
def idf(token: str) -> float:
    """-log of the word's frequency in general English: 'the' ~3, 'said' ~7, a rare name ~18."""
    return -math.log(max(word_frequency(token, "en"), _MIN_FREQUENCY))


STOPWORD_IDF = 7.0  # below this a word carries no topic (the, said, and, ...)


def tokens(text: str) -> list[str]:
    return [t.casefold().replace("’", "'") for t in _TOKEN.findall(text)]


def entity_names(text: str) -> list[str]:
    """Cheap named entities: the words and word pairs of capitalised runs.

    A run is a sequence of capitalised words not opening a sentence (all-caps
    acronyms and hyphenated names count anywhere). Words and pairs rather than
    whole runs, so "Secretary-General Jens Stoltenberg" and "Jens Stoltenberg"
    still share features.
    """
    names: list[str] = []
    for run in _capitalised_runs(text):
        words = [w.casefold() for w in run if idf(w.casefold()) >= STOPWORD_IDF or w.isupper()]
        names.extend(words)
        names.extend(f"{a} {b}" for a, b in zip(words, words[1:]))
    return names


def _capitalised_runs(text: str) -> list[list[str]]:
    runs: list[list[str]] = []
    for sentence in _SENTENCE_END.split(text):
        run: list[str] = []
        for index, word in enumerate(_TOKEN.findall(sentence)):
            if word[0].isupper() and (index > 0 or word.isupper() or "-" in word):
                run.append(word)
            elif run:
                runs.append(run)
                run = []
        if run:
            runs.append(run)
    return runs


def _tfidf(counts: Counter[str], weight: float = 1.0) -> dict[str, float]:
    return {term: (1 + math.log(n)) * weight for term, n in counts.items()}


def _weigh(prefix: str, counts: Counter[str], idf_of) -> dict[str, float]:
    vector = {f"{prefix}:{term}": w * idf_of(term) for term, w in _tfidf(counts).items()}
    return _unit(vector)


def features(title: str | None, text: str) -> dict[str, float]:
    """Body, entity and headline TF-IDF vectors of one article, each L2-normalised, in one dict."""
    body_tokens = [t for t in tokens(text or title or "") if idf(t) >= STOPWORD_IDF]
    head_tokens = [t for t in tokens(title or "") if idf(t) >= STOPWORD_IDF]
    entities = entity_names(f"{title or ''}. {text or ''}")
    vector: dict[str, float] = {}
    vector.update(_top(_weigh("t", Counter(body_tokens), idf), TOP_ARTICLE_FEATURES))
    vector.update(_top(_weigh("e", Counter(entities), lambda name: idf(name.split()[-1])), TOP_ARTICLE_FEATURES))
    vector.update(_weigh("h", Counter(head_tokens), idf))
    return {k: round(v, 5) for k, v in vector.items()}


def _unit(vector: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in vector.values()))
    return {k: v / norm for k, v in vector.items()} if norm else {}


def _top(vector: dict[str, float], n: int) -> dict[str, float]:
    if len(vector) <= n:
        return vector
    return dict(heapq.nlargest(n, vector.items(), key=lambda kv: (kv[1], kv[0])))


def _split(vector: dict[str, float]) -> dict[str, dict[str, float]]:
    parts: dict[str, dict[str, float]] = defaultdict(dict)
    for key, value in vector.items():
        parts[key[0]][key] = value
    return parts


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    norm_a = math.sqrt(sum(v * v for v in a.values()))
    norm_b = math.sqrt(sum(v * v for v in b.values()))
    return dot / (norm_a * norm_b) if norm_a and norm_b else 0.0


@dataclass
class StoryProfile:
    """What clustering keeps of a story: summed feature vectors, outlets, size and last known date."""

    story_id: str
    centroid: dict[str, float] = field(default_factory=dict)
    outlets: set[str] = field(default_factory=set)
    size: int = 0
    last_date: date | None = None
    last_seen: float = 0.0  # broker time (epoch seconds) of the last article, for the hot window

    def add(self, vector: dict[str, float], outlet: str | None, when: date | None, seen: float) -> None:
        merged = dict(self.centroid)
        for key, value in vector.items():
            merged[key] = merged.get(key, 0.0) + value
        self.centroid = _top(merged, TOP_STORY_FEATURES)
        if outlet:
            self.outlets.add(outlet)
        self.size += 1
        if when and (self.last_date is None or when > self.last_date):
            self.last_date = when
        self.last_seen = max(self.last_seen, seen)

    def posting_keys(self) -> list[str]:
        """The features under which the story is found: its strongest body, entity and headline terms."""
        keys: list[str] = []
        for part in _split(self.centroid).values():
            keys.extend(k for k, _ in heapq.nlargest(POSTING_FEATURES, part.items(), key=lambda kv: (kv[1], kv[0])))
        return keys


def decay(article_date: date | None, story_date: date | None, half_life_days: float) -> float:
    """A story's pull halves every half-life of silence; unknown dates neither help nor hurt."""
    if article_date is None or story_date is None:
        return 1.0
    gap = abs((article_date - story_date).days)
    return 0.5 ** (max(gap - 1, 0) / half_life_days)


def score(vector: dict[str, float], outlet: str | None, when: date | None, story: StoryProfile, half_life_days: float) -> float:
    """Weighted cosine of body, entities and headline, faded by time since the story's last article."""
    article_parts = _split(vector)
    story_parts = _split(story.centroid)
    present = [p for p in WEIGHTS if article_parts.get(p)]
    if not present:
        return 0.0
    total_weight = sum(WEIGHTS[p] for p in present)
    similarity = sum(WEIGHTS[p] * cosine(article_parts[p], story_parts.get(p, {})) for p in present) / total_weight
    return similarity * decay(when, story.last_date, half_life_days)


@dataclass(frozen=True)
class Decision:
    story_id: str | None  # None: start a new story
    score: float


def decide(scored: list[tuple[str, float]], threshold: float) -> Decision:
    """Join the best-scoring story if it reaches the threshold; ties go to the lower story id."""
    if not scored:
        return Decision(None, 0.0)
    story_id, best = max(scored, key=lambda pair: (pair[1], _negated(pair[0])))
    return Decision(story_id if best >= threshold else None, round(best, 4))


def _negated(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


class StoryIndex:
    """Live stories and an inverted index over their salient features.

    Stories quiet for longer than the window (in broker time: the raw
    messages' timestamps, the only clock every article has) leave the index
    but keep their profile, so they stay queryable and a late article can be
    scored against them only if a retrieval key still points there.
    """

    def __init__(self, half_life_days: float, window_seconds: float) -> None:
        self.half_life_days = half_life_days
        self.window_seconds = window_seconds
        self.stories: dict[str, StoryProfile] = {}
        self._postings: dict[str, set[str]] = defaultdict(set)
        self._keys: dict[str, list[str]] = {}
        self._activity: list[tuple[float, str]] = []  # heap of (last_seen, story_id), may hold stale rows
        self.clock = 0.0

    @property
    def live(self) -> int:
        return len(self._keys)

    def candidates(self, vector: dict[str, float]) -> list[str]:
        hits: Counter[str] = Counter()
        for key, weight in vector.items():
            for story_id in self._postings.get(key, ()):
                hits[story_id] += weight
        return [story_id for story_id, _ in hits.most_common(MAX_CANDIDATES)]

    def scored_candidates(self, vector: dict[str, float], outlet: str | None, when: date | None) -> list[tuple[str, float]]:
        return [
            (story_id, score(vector, outlet, when, self.stories[story_id], self.half_life_days))
            for story_id in self.candidates(vector)
        ]

    def add(self, story_id: str, vector: dict[str, float], outlet: str | None, when: date | None, seen: float) -> None:
        profile = self.stories.setdefault(story_id, StoryProfile(story_id))
        profile.add(vector, outlet, when, seen)
        self._reindex(profile)
        self.clock = max(self.clock, seen)
        heapq.heappush(self._activity, (profile.last_seen, story_id))
        self._expire()

    def _reindex(self, profile: StoryProfile) -> None:
        for key in self._keys.pop(profile.story_id, []):
            self._postings[key].discard(profile.story_id)
        keys = profile.posting_keys()
        for key in keys:
            self._postings[key].add(profile.story_id)
        self._keys[profile.story_id] = keys

    def _expire(self) -> None:
        horizon = self.clock - self.window_seconds
        while self._activity and self._activity[0][0] < horizon:
            seen, story_id = heapq.heappop(self._activity)
            profile = self.stories[story_id]
            if profile.last_seen != seen or story_id not in self._keys:
                continue  # a stale heap row: the story was active again since
            for key in self._keys.pop(story_id):
                postings = self._postings[key]
                postings.discard(story_id)
                if not postings:
                    del self._postings[key]
