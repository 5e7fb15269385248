import random
import string

from wordfreq import get_frequency_dict, word_frequency, zipf_frequency

from streams.pipeline.english import (
    ComputedTable,
    frequency,
    frequent_singular,
    plural,
    singular,
    words,
    zipf,
)


def test_singular_is_one_rule():
    assert [singular(w) for w in ("troops", "countries", "hours", "people", "member-countries", "crises")] == [
        "troop",
        "country",
        "hour",
        "person",
        "country",
        "crisis",
    ]


def test_counted_nouns_are_shown_in_the_plural():
    assert [plural(n) for n in ("troop", "country", "day", "bus", "match")] == ["troops", "countries", "days", "bus", "matches"]
    assert [plural(n) for n in ("person", "child", "police")] == ["people", "children", "police"]


def test_plural_and_singular_are_inverse_for_counted_nouns():
    for noun in ("troop", "country", "hour", "person", "match", "crisis"):
        assert singular(plural(noun)) == noun


def test_frequent_singular_makes_up_no_word():
    assert [frequent_singular(w) for w in ("prices", "launches", "companies", "stocks")] == ["price", "launch", "company", "stock"]
    assert [frequent_singular(w) for w in ("crisis", "this", "series", "gas")] == ["crisis", "this", "series", "gas"]


def test_words_are_case_folded_runs_of_letters_and_digits():
    assert words("Russia's 100,000 troops_near") == ["russia", "s", "100", "000", "troops", "near"]


def test_a_words_frequency_is_wordfreqs_read_directly_or_through_it():
    """Read from wordfreq's list for a word of lowercase ASCII letters, through wordfreq for any other: the same
    values as wordfreq's `word_frequency` and `zipf_frequency`, on a word of every frequency the list has, a sample
    of the rest, words it lacks, and words its tokeniser splits or changes."""
    listed = get_frequency_dict("en", "best")  # as wordfreq asks for it
    rng = random.Random(3)
    plain = [word for word in listed if word.isascii() and word.isalpha() and word.islower()]
    one_per_frequency = {listed[word]: word for word in plain}
    made_up = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randrange(1, 12))) for _ in range(500)]
    others = ["Brussels", "NATO", "don't", "e-mail", "3d", "2022", "café", "naïve", "o'brien", "’s", "", " ", "x y", "ﬁre"]
    for word in [*one_per_frequency.values(), *rng.sample(plain, 2_000), *made_up, *others]:
        assert frequency(word) == word_frequency(word, "en"), word
        assert zipf(word) == zipf_frequency(word, "en"), word
    assert len(one_per_frequency) > 500 and sum(word not in listed for word in made_up) > 100
    assert get_frequency_dict.cache_info().currsize == 1  # wordfreq's list, loaded once: no copy of it (30 MB)


def test_a_computed_table_computes_a_key_once_and_holds_two_generations_at_most():
    computed = []
    table = ComputedTable(lambda key: computed.append(key) or key.upper(), 3)
    assert [table[key] for key in "abcab"] == ["A", "B", "C", "A", "B"] and computed == ["a", "b", "c"]
    assert table["d"] == "D" and len(table) == 1 and set(table.older) == {"a", "b", "c"}  # a new generation
    assert table["a"] == "A" and computed == ["a", "b", "c", "d"]  # back from the older one, not computed again
    for key in "efghij":
        assert table[key] == key.upper() and len(table) <= 3 and len(table.older) <= 3
