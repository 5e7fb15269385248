"""English helpers every stage shares: word tokens, singular and plural forms, word frequency.

One implementation each, so cleaning, deduplication, fact extraction,
clustering and the story fold agree on what a word is and how a plural reads.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import lru_cache

from wordfreq import freq_to_zipf, get_frequency_dict, word_frequency, zipf_to_freq

from streams.pipeline import _kernels

# Entries of each per-word cache: the words of the moment, bounded, whatever the vocabulary a long-lived
# worker has seen (the caches are what memory would otherwise keep growing with).
WORD_CACHE_SIZE = 65_536


class ComputedTable(dict):
    """Key -> a value computed from it the first time it is read, for the C kernels, which read it in place: one
    lookup, where a function cached with lru_cache is a call, a hash and a move in its list on every reading.

    Bounded: once it holds `capacity` keys it starts afresh, keeping the ones it held as `older`, from which the
    keys still in use come back without being computed again. At most two generations are held."""

    def __init__(self, compute: Callable[[str], object], capacity: int) -> None:
        super().__init__()
        self.compute, self.capacity = compute, capacity
        self.older: dict = {}

    def __missing__(self, key: str) -> object:
        value = self.older[key] if key in self.older else self.compute(key)
        if len(self) >= self.capacity:  # the older ones are let go first
            self.older.clear()
            self.older.update(self)
            self.clear()
        self[key] = value
        return value


def frequency(word: str) -> float:
    """wordfreq's `word_frequency(word, "en")`, as every stage reads a word's frequency (through caches of its own).

    A word of lowercase ASCII letters is one token to wordfreq, unchanged, so its frequency is read from wordfreq's
    English list directly and rounded as wordfreq rounds it, to three significant digits (tests check both on the
    list's words). wordfreq's lookup parses the language tag, normalises the text and runs its tokeniser's
    regex first: 19 µs a word on the quick host, and 38 µs a word for its Zipf scale; a fresh worker's caches
    miss a few words an article."""
    if word.isascii() and word.isalpha() and word.islower():
        # The dict wordfreq's own lookups read, asked for with their arguments: its cache holds one per arguments.
        listed = get_frequency_dict("en", "best").get(word)
        return 0.0 if listed is None else round(listed, math.floor(-math.log(listed, 10)) + 3)
    return word_frequency(word, "en")


def zipf_scale(word: str) -> float:
    """English frequency of a word on wordfreq's Zipf scale (0 = unknown, 7 = "the"): wordfreq's
    `zipf_frequency(word, "en")`, computed as it computes it, from the word's `frequency`: at least once per billion
    words (Zipf 0), rounded to hundredths. Uncached, for a pass over one-off strings (the outlet's splitting of a
    domain into words tries every substring), which would crowd the words of the moment out of `zipf`'s cache."""
    return round(freq_to_zipf(max(frequency(word), _ZIPF_FLOOR)), 2)


@lru_cache(maxsize=WORD_CACHE_SIZE)
def zipf(word: str) -> float:
    """`zipf_scale`, cached per word: what fact extraction asks of the words it reads."""
    return zipf_scale(word)


_ZIPF_FLOOR = zipf_to_freq(0.0)


# The words of a text as each stage reads them, left to right. Each is what a regex's findall finds, found in C
# (`_kernels.c`) in one pass: the regex engine tested each character against classes of Unicode categories, on every
# paragraph and sentence. The regexes are in tests/streams/pipeline/test_kernels.py, which checks the two agree.
# Each takes an optional `most`: the first `most` words only.
# - Runs of letters and digits, [^\W_]+: the unit of shingles (deduplication) and of text keys (cleaning).
alnum_words = _kernels.alnum_words
# - Words as clustering reads them, letters first, inner hyphens and apostrophes kept ("al-Assad", "Norway's"):
#   [^\W\d_][\w'’-]*[^\W_]|[^\W\d_].
term_tokens = _kernels.term_tokens
# - Words as cleaning counts them, letters only, inner apostrophes kept ("don't", "Norway’s"):
#   [^\W\d_]+(?:['’][^\W\d_]+)*.
letter_words = _kernels.letter_words
# - Runs of word characters and single symbols, \w+|[^\w\s]: a case-insensitive "\bword\b" matches a text exactly
#   when "word" is among these of the text in lower case.
word_tokens = _kernels.word_tokens
# How many characters of a text are among some characters (`count_chars(text, chars, most=-1)`): one scan in C, where
# a regex of one character class tested each character in the engine's generic loop.
count_chars = _kernels.count_chars
# Where the words opening with one of some characters, or a decimal digit, start (`word_starts(text, chars, digits)`):
# what the regex [<chars>\d](?<!\w.) finds, without its class test on every character.
word_starts = _kernels.word_starts


# Each character outside ASCII: decoding and repair count them, or test only them, where the rest needs no test.
NON_ASCII = re.compile(r"[^\x00-\x7f]")


def chars_between(first: str, last: str) -> str:
    """The characters from `first` to `last`, both included: a range of a class, as `count_chars` takes it."""
    return "".join(map(chr, range(ord(first), ord(last) + 1)))


IRREGULAR_PLURALS = {
    "people": "person", "men": "man", "women": "woman", "children": "child", "police": "police",
    "staff": "staff", "personnel": "personnel", "crises": "crisis", "analyses": "analysis", "feet": "foot",
    "lives": "life", "wives": "wife", "knives": "knife", "thieves": "thief", "series": "series",
    "species": "species", "news": "news", "data": "data", "media": "media",
}  # fmt: skip
_PLURAL_OF = {one: many for many, one in IRREGULAR_PLURALS.items() if one != many}


def words(text: str) -> list[str]:
    """The case-folded words of a text."""
    return alnum_words(text.casefold())


def may_be_plural(word: str) -> bool:
    """Ends like a regular English plural ("ships", "countries"; not "crisis", "bus", "glass")."""
    return len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is"))


def singular(word: str) -> str:
    """One rule for counted nouns: lowercase, plural stripped ("ships" -> "ship", "countries" -> "country")."""
    word = word.lower()
    if "-" in word:
        return singular(word.rpartition("-")[2])  # "member-countries" counts countries
    if word in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes", "zzes")):
        return word[:-2]
    if may_be_plural(word):
        return word[:-1]
    return word


def plural(noun: str) -> str:
    """English plural of a counted noun, for display ("troop" -> "troops", "country" -> "countries")."""
    if noun in _PLURAL_OF:
        return _PLURAL_OF[noun]
    if noun in IRREGULAR_PLURALS:  # already plural, or the same in both ("police", "series")
        return noun
    if noun.endswith(("s", "x", "ch", "sh")):
        return noun if noun.endswith("s") else noun + "es"
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


@lru_cache(maxsize=WORD_CACHE_SIZE)
def frequent_singular(word: str) -> str:
    """Plural to singular where English uses the singular more: "prices" -> "price", "launches" -> "launch".

    A light S-stemmer (after Harman 1991) checked against word frequencies: of
    the word and its candidate singulars, the most frequent English word wins,
    so "crisis", "series" and "this" stay whole and no non-word is made up.
    """
    if not may_be_plural(word):
        return word
    options = [word[:-3] + "y"] if word.endswith("ies") else []
    options.append(word[:-1])
    if word.endswith("es"):
        options.append(word[:-2])
    return max([word, *options], key=frequency)
