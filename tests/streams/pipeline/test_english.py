from streams.pipeline.english import frequent_singular, plural, singular, words


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
