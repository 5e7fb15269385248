"""Questions about a single word that several passes ask: how common it is in English, whether it is an
acronym or a demonym; and a word list as a fast regex alternation.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache

from wordfreq import freq_to_zipf, zipf_to_freq

from streams.pipeline.english import WORD_CACHE_SIZE, frequency
from streams.pipeline.facts.words import DEMONYMS


@lru_cache(maxsize=WORD_CACHE_SIZE)
def zipf(word: str) -> float:
    """English frequency of a word on wordfreq's Zipf scale (0 = unknown, 7 = "the"); cached per word. wordfreq's
    `zipf_frequency(word, "en")`, computed as it computes it, from the word's `frequency`: at least once per billion
    words (Zipf 0), rounded to hundredths."""
    return round(freq_to_zipf(max(frequency(word), _ZIPF_FLOOR)), 2)


_ZIPF_FLOOR = zipf_to_freq(0.0)


_DEMONYM_RE = re.compile(r"^[A-Z][a-z]+(?:ian|ean|ese|ish)$")


@lru_cache(maxsize=WORD_CACHE_SIZE)
def is_demonym(word: str) -> bool:
    return word in DEMONYMS or bool(_DEMONYM_RE.match(word))


def is_acronym(word: str) -> bool:
    if not word.isupper():  # also rules out words with lowercase letters, cheaply
        return False
    letters = word.replace(".", "").replace("-", "").replace("&", "")
    return len(letters) >= 2 and letters.isalpha()


def trie_pattern(words: Collection[str]) -> str:
    """A regex alternation of words shaped as a trie ("sa(?:id|ys?)", longer words first), for word lists
    followed by a word boundary. It matches what the flat alternation would, but Python's regex engine
    tries alternatives one by one, so a shared prefix is now tried once instead of once per word."""
    by_first: dict[str, list[str]] = {}
    for word in words:
        if word:
            by_first.setdefault(word[0], []).append(word[1:])
    branches = [re.escape(first) + trie_pattern(rests) for first, rests in sorted(by_first.items())]
    if "" in words:
        branches.append("")
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
