"""Article features for clustering: three sparse TF-IDF vectors kept apart in one dict.

Body tokens (t:), named entities in the body (e:) and headline tokens (h:),
because the streaming news clustering literature found them to work best as
separate similarities rather than one bag of words. A part the article lacks
(a headline-only feed has no body) is simply absent. IDF comes from English
word frequencies (wordfreq), so the first articles of a fresh stream are
weighed as well as the ten-thousandth.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from functools import lru_cache
from itertools import chain

from streams.pipeline import _kernels
from streams.pipeline.english import (
    WORD_CACHE_SIZE,
    frequency,
    frequent_singular,
    term_tokens,
)

TOP_ARTICLE_FEATURES = 60  # per part, for an article
_MIN_FREQUENCY = 1e-8  # frequency given to words wordfreq has never seen


@lru_cache(maxsize=WORD_CACHE_SIZE)
def idf(token: str) -> float:
    """-log of the word's frequency in general English: 'the' ~3, 'said' ~7, a rare name ~18."""
    return -math.log(max(frequency(token), _MIN_FREQUENCY))


STOPWORD_IDF = 7.0  # below this a word carries no topic (the, said, and, ...)


@lru_cache(maxsize=WORD_CACHE_SIZE)
def word(token: str) -> str:
    """Case-folded, curly apostrophes straightened, possessive dropped: "Russia's" -> "russia"."""
    text = token.casefold().replace("’", "'")
    if text.endswith("'s"):
        return text[:-2]
    return text.rstrip("'")


@lru_cache(maxsize=WORD_CACHE_SIZE)
def _topical(token: str) -> str | None:
    """The token as a term (normalised, singular), or None for a common word of English."""
    term = frequent_singular(word(token))
    return term if idf(term) >= STOPWORD_IDF else None


def terms(text: str) -> list[str]:
    """The topical words of a text, singular: tokens minus the common words of English."""
    return topical(term_tokens(text))


def topical(tokens: Iterable[str]) -> list[str]:
    """The topical words among a text's `term_tokens`, singular."""
    return list(filter(None, map(_topical, tokens)))  # a term is never ""


def sentence_tokens(text: str) -> list[list[str]]:
    """The `term_tokens` of each sentence of a text (a sentence ends at a stop, perhaps a closing quote, and spaces):
    all of its `term_tokens`, as a sentence end never falls inside one (a token has no spaces and ends in a letter
    or digit), so the body is scanned once for both its terms and its names. One pass in C."""
    return _kernels.sentence_terms(text)


def entity_names(sentences: list[list[str]]) -> list[str]:
    """Cheap named entities of a text, from its `sentence_tokens`: the words and word pairs of capitalised runs.

    A run is a sequence of capitalised words not opening a sentence (all-caps
    acronyms and hyphenated names count anywhere). Words and pairs rather than
    whole runs, so "Secretary-General Jens Stoltenberg" and "Jens Stoltenberg"
    still share features.
    """
    names: list[str] = []
    for run in _capitalised_runs(sentences):
        words = [w for w, upper in zip(map(word, run), map(str.isupper, run)) if upper or idf(w) >= STOPWORD_IDF]
        names.extend(words)
        names.extend(f"{a} {b}" for a, b in zip(words, words[1:]))
    return names


def _capitalised_runs(sentences: list[list[str]]) -> list[list[str]]:
    runs: list[list[str]] = []
    for tokens in sentences:
        run: list[str] = []
        for index, token in enumerate(tokens):
            if token[0].isupper() and (index > 0 or token.isupper() or "-" in token):
                run.append(token)
            elif run:
                runs.append(run)
                run = []
        if run:
            runs.append(run)
    return runs


def feature_idf(key: str) -> float:
    """IDF of a feature key (its part's letter, ":", its term). Not cached: the story index reads it from
    packed.FEATURE_NUMBERS, which keeps it, and `idf` caches each word's."""
    return _part_idf(key[0])(key[2:])


def _part_idf(part: str) -> Callable[[str], float]:
    """How a part's terms get their IDF: a term its own, a name its last word's (the surname carries it)."""
    return _name_idf if part == "e" else idf


def _name_idf(name: str) -> float:
    return idf(name.rsplit(" ", 1)[-1])


def _weigh(prefix: str, counts: Counter[str], most: int | None = None) -> dict[str, float]:
    """A part's TF-IDF vector, unit length: each f"{prefix}:{term}" weighs (1 + ln n) for its count n times its
    part's IDF of the term (`feature_idf`, from the term without making the key twice); with `most`, only the `most`
    strongest, largest first, ties to the greater key (a vector of at most `most` as it is). In C
    (`_kernels.weigh`), which adds the squares for the norm one by one in the counts' order, as Python 3.11's `sum`
    did, and makes the keys of the terms it keeps alone."""
    return _kernels.weigh(f"{prefix}:", counts, _part_idf(prefix), most)


def features(title: str | None, text: str) -> dict[str, float]:
    """Body, entity and headline TF-IDF vectors of one article, each L2-normalised, in one dict.

    Entities come from the body only: headlines are often set in title case,
    where capitals say nothing about names. A headline-only article has only h:.
    """
    vector: dict[str, float] = {}
    sentences = sentence_tokens(text or "")
    vector.update(_weigh("t", Counter(topical(chain.from_iterable(sentences))), TOP_ARTICLE_FEATURES))
    vector.update(_weigh("e", Counter(entity_names(sentences)), TOP_ARTICLE_FEATURES))
    vector.update(_weigh("h", Counter(terms(title or ""))))
    return _kernels.rounded(vector, 5)  # {k: round(v, 5)}, in C
