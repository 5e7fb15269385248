"""Questions about a single word that several passes ask: whether it is an acronym or a demonym (how common it
is in English is `english.zipf`); and a word list as a fast regex alternation.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from functools import lru_cache

from streams.pipeline.english import WORD_CACHE_SIZE
from streams.pipeline.facts.words import DEMONYMS

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
