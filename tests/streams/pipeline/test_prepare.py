"""From payload bytes to a prepared article or a dead letter, and the seeds through the whole pure path."""

import time
from pathlib import Path

import orjson
import pytest
from placing import Placing

from schemas import DeadLetter, PreparedArticle
from streams.pipeline import prepare as preparing
from streams.pipeline.prepare import decode_text, prepare, prepare_many
from streams.settings import Settings
from streams.story.desk import Decided, Duplicate, StoryDesk

SEEDS = sorted((Path(__file__).parents[3] / "seeds").glob("*.txt"))
LIMIT = 2_000_000


def _prepare(payload: bytes, key: bytes | None = b"k1") -> PreparedArticle | DeadLetter:
    return prepare(payload, key, time.time(), LIMIT)


ARTICLE = {
    "id": "lima-1",
    "title": "Lima water utility rations supply as reservoirs fall",
    "text": "Sedapal, the water utility of Lima, said on Tuesday it would ration supply in 14 districts "
    "after reservoirs fell to their lowest level in a decade. The company's president, Francisco Dumler, "
    "told reporters that cuts of up to eight hours a day would begin next week.",
    "source": "Andes Daily",
    "lang_hint": "en",
}


def test_a_json_article_is_prepared_with_its_unknown_fields_kept():
    result = _prepare(orjson.dumps(ARTICLE))
    assert isinstance(result, PreparedArticle)
    assert result.article.article_id == "lima-1" and result.article.outlet == "Andes Daily"
    assert result.article.extra == {"lang_hint": "en"}
    assert result.terms and len(result.signature) > 0


def test_a_prepared_article_sent_by_an_earlier_worker_reads_as_the_same_article():
    """Earlier workers wrote the signature as a list of its 64-bit values, and the terms within the facts; a
    message of theirs still on the prepared topic after an upgrade reads as the article it was, the same
    fingerprint included."""
    import numpy as np
    from pydantic import ValidationError

    from streams.story.desk import fingerprint_of

    prepared = _prepare(orjson.dumps(ARTICLE))
    message = orjson.loads(prepared.to_bytes())
    values = np.frombuffer(fingerprint_of(prepared).signature, "<u8").tolist()
    assert len(values) == 64 and len(message["signature"]) < len(orjson.dumps(values)) / 1.5
    message["signature"] = values
    message["facts"]["terms"] = message.pop("terms")
    earlier = PreparedArticle.from_bytes(orjson.dumps(message))
    assert earlier == prepared and fingerprint_of(earlier) == fingerprint_of(prepared)
    # A signature that is not 64 values would enter the dedup index and break later comparisons: refused.
    for bad in ([*values[:-1], -1], values[:-1], prepared.signature[:-12], prepared.signature[:-2] + "!="):
        with pytest.raises(ValidationError):
            PreparedArticle.from_bytes(orjson.dumps({**message, "signature": bad}))


def test_plain_text_is_an_article_and_takes_its_id_from_the_key():
    result = _prepare(ARTICLE["text"].encode(), key=b"from-key")
    assert isinstance(result, PreparedArticle) and result.article.article_id == "from-key"


def test_plain_text_opening_with_a_bracket_is_an_article_not_broken_json():
    text = b"[UPDATED] Officials in Lisbon said on Monday that the new bridge over the Tagus would open in May, after years of delays."
    result = _prepare(text)
    assert isinstance(result, PreparedArticle) and "t:tagus" in result.terms


def test_an_article_without_id_or_key_gets_a_stable_id_from_its_content():
    payload = orjson.dumps({k: v for k, v in ARTICLE.items() if k != "id"})
    first, second = _prepare(payload, key=None), _prepare(payload, key=None)
    assert first.article.article_id == second.article.article_id
    assert first.article.article_id.startswith("a-")


@pytest.mark.parametrize(
    ("payload", "stage", "words"),
    [
        (b"", "decode", "empty"),
        (b"   \n\t ", "decode", "empty"),
        (bytes(range(256)) * 8, "decode", "binary"),
        (b'{"title": "Lima water", "text": ', "decode", "broken JSON"),
        (b"[1, 2, 3]", "decode", "not an object"),
        (b'[{"title": "Lima water", "text": ', "decode", "broken JSON"),
        (b'{"title": 42, "text": "x"}', "validate", "title"),
        (b"x" * (LIMIT + 1), "decode", "exceeds"),
        (b"\xff\xfeH\x00i\x00!", "decode", "broken UTF-16"),  # cut short: an odd number of bytes
        (b"\xff\xfe\x00\xd8a\x00", "decode", "broken UTF-16"),  # a lone surrogate
    ],
)
def test_unusable_payloads_become_dead_letters_with_a_reason(payload, stage, words):
    result = _prepare(payload)
    assert isinstance(result, DeadLetter)
    assert result.stage == stage and words in result.reason
    assert result.article_id == "k1" and result.payload_bytes == len(payload)


def test_a_chunk_prepared_together_gives_each_article_what_preparing_it_alone_gives(monkeypatch):
    """Stage by stage over the chunk, in order: articles, dead letters, and a bug that is its article's alone."""
    articles = [orjson.dumps({**ARTICLE, "id": f"lima-{i}", "title": f"{ARTICLE['title']} ({i})"}) for i in range(3)]
    work = [(articles[0], b"k0", 1_700_000_000.0), (b"", b"k1", 1_700_000_001.0), (articles[1], None, 1_700_000_002.0),
            (b'{"title": 42, "text": "x"}', b"k3", 1_700_000_003.0), (articles[2], b"k4", 1_700_000_004.0)]
    together = prepare_many(work, LIMIT)
    assert [result for result, _ in together] == [prepare(*args, LIMIT) for args in work]
    assert all(seconds > 0 for _, seconds in together)

    extract_facts = preparing.extract_facts

    def broken_on_lima_1(article):
        if article.article_id == "lima-1":
            raise ValueError("a bug")
        return extract_facts(article)

    monkeypatch.setattr(preparing, "extract_facts", broken_on_lima_1)
    results = [result for result, _ in prepare_many(work, LIMIT)]
    assert isinstance(results[2], ValueError)
    assert [r.article.article_id for r in (results[0], results[4])] == ["lima-0", "lima-2"]
    assert [r.stage for r in (results[1], results[3])] == ["decode", "validate"]


@pytest.mark.timeout(10)  # each took up to 16 s before: a run of stops was read once from each of its stops
def test_long_runs_of_stops_and_of_unclosed_quotes_are_read_once_not_once_per_mark():
    for filler in ("." * 40_000, "!?" * 20_000, "…" * 40_000, " 'word" * 7_000):
        result = _prepare(orjson.dumps({"title": "Ministers meet", "text": "Officials met in Oslo on Monday. " + filler}))
        assert isinstance(result, PreparedArticle) and result.facts.quotes == []


def test_a_number_too_large_for_a_float_is_no_claim_and_the_article_is_placed():
    text = "Officials said on Monday that {} homes were destroyed by the fire near Alvor, the governor told reporters."
    for number in ("9" * 320, "900" + " trillion" * 26):
        result = _prepare(orjson.dumps({"title": "Fire destroys homes", "text": text.format(number)}))
        assert isinstance(result, PreparedArticle) and not [c for c in result.facts.claims if c.subject == "homes"]
        again = PreparedArticle.from_bytes(result.to_bytes())  # as the place stage reads it
        assert again == result and isinstance(StoryDesk(Settings()).place(again), Decided)


def test_a_publication_date_no_news_has_is_no_date_and_the_article_is_placed():
    """0001-01-01 is a placeholder: read as a date, a time zone or a weekday resolved against it overflowed."""
    text = "Ministers met on Tuesday in Brussels, and again on March 3, to discuss the plan, officials said."
    for published in ("0001-01-01", "0001-01-01T00:00:00+05:00", "9999-12-30", "1850-06-01"):
        result = _prepare(orjson.dumps({"title": "Ministers meet", "text": text, "published_at": published}))
        assert isinstance(result, PreparedArticle) and result.article.published_at is None, published
    dated = _prepare(orjson.dumps({"title": "Ministers meet", "text": text, "published_at": "2022-01-13"}))
    assert dated.article.published_at.date().isoformat() == "2022-01-13"


def test_an_unknown_field_nested_too_deep_to_send_on_is_a_dead_letter_saying_so():
    """orjson reads 1,023 levels; pydantic writes 255: such a field in `extra` made an article that could not be sent."""
    for depth, placed in ((64, True), (65, False), (300, False)):
        nested = b'{"tags": ' + b"[" * (depth - 1) + b"1" + b"]" * (depth - 1) + b"}"  # an object, then lists: `depth` levels
        payload = orjson.dumps(ARTICLE)[:-1] + b', "meta": ' + nested + b"}"
        result = _prepare(payload)
        if placed:
            assert PreparedArticle.from_bytes(result.to_bytes()) == result
        else:
            assert isinstance(result, DeadLetter) and result.stage == "validate" and result.article_id == "lima-1"
            assert result.reason == "field 'meta' nests lists or objects deeper than 64 levels"


@pytest.mark.parametrize("timestamp", [float("nan"), 1e20, -1e12, 253402300800.0])
def test_a_broker_time_no_date_can_hold_leaves_the_article_without_one(timestamp):
    result = prepare(orjson.dumps(ARTICLE), None, timestamp, LIMIT)
    assert isinstance(result, PreparedArticle) and result.article.received_at is None
    assert isinstance(StoryDesk(Settings()).place(PreparedArticle.from_bytes(result.to_bytes())), Decided)


def test_control_characters_make_a_payload_binary_but_tabs_and_line_breaks_do_not():
    text = ARTICLE["text"]
    spaced = "\t\r\n".join(text.split(" "))  # a fifth of its characters are tabs, returns and newlines
    assert isinstance(_prepare(spaced.encode()), PreparedArticle)
    for control in "\x01\x08\x0b\x0c\x0e\x1b\x1f":  # the edges of the ranges counted
        controlled = control.join(text[i : i + 15] for i in range(0, len(text), 15))  # one in 16, no NUL
        result = _prepare(controlled.encode())
        assert isinstance(result, DeadLetter) and result.stage == "decode" and "binary" in result.reason, repr(control)
    assert isinstance(_prepare("\x1b".join(text[i : i + 25] for i in range(0, len(text), 25)).encode()), PreparedArticle)


def test_other_encodings_are_read():
    latin = (
        "Caf\u00e9 owners in S\u00e3o Paulo protested on Monday against a new tax on imported coffee beans. "
        "They said the levy, due to start in March, would force hundreds of small shops across the city to close."
    ).encode("cp1252")
    result = _prepare(latin)
    assert isinstance(result, PreparedArticle) and {"t:caf\u00e9", "e:s\u00e3o paulo"} <= result.terms.keys()
    utf16 = ARTICLE["text"].encode("utf-16")
    assert isinstance(_prepare(utf16), PreparedArticle)


@pytest.mark.parametrize(
    "damage",
    [lambda b: b + "–".encode()[:2], lambda b: b[:9] + b"\xff" + b[9:], lambda b: b[:-3] + b"\xe9" + b[-3:]],
    ids=["cut inside its last character", "a stray byte", "one Windows-1252 letter"],
)
def test_utf8_with_a_little_damage_stays_utf8_not_mojibake_throughout(damage):
    text = "Caf\u00e9 owners in S\u00e3o Paulo and Z\u00fcrich protested \u201cthe levy\u201d \u2013 on Monday."
    decoded = decode_text(damage(text.encode()))
    assert decoded.count("\ufffd") == 1 and "\u00c3" not in decoded  # one U+FFFD, no "Ã©" anywhere
    assert all(word in decoded for word in ("S\u00e3o", "Z\u00fcrich", "\u201cthe levy\u201d"))
    assert decode_text(b"Plain ASCII, cut inside its last character " + "\u2013".encode()[:2]).endswith(" \ufffd")


def _place_all(payloads: list[bytes]) -> list:
    desk = Placing(Settings(broker="127.0.0.1:1"))
    outcomes = []
    for payload in payloads:
        prepared = _prepare(payload, key=None)
        assert isinstance(prepared, PreparedArticle), prepared
        outcomes.append(desk.place(prepared))
    return outcomes


def test_the_seeds_make_one_story_of_five_entries():
    outcomes = _place_all([path.read_bytes() for path in SEEDS])
    assert all(isinstance(o.outcome, Decided) for o in outcomes)
    assert len({o.event.story_id for o in outcomes}) == 1
    assert [o.event.version for o in outcomes] == [1, 2, 3, 4, 5]


def test_the_seeds_make_one_story_whatever_order_they_arrive_in():
    """Seeds 003 and 004 give no date at all; arriving first, before any dated article, they are still dated by
    nothing rather than by the day they were sent (years after the event), and join the others."""
    payloads = [path.read_bytes() for path in SEEDS]
    for order in ([3, 4, 0, 1, 2], [4, 2, 3, 1, 0], [1, 3, 0, 4, 2]):
        outcomes = _place_all([payloads[i] for i in order])
        assert len({o.event.story_id for o in outcomes}) == 1, order


def test_a_syndicated_copy_with_other_chrome_and_a_few_words_changed_is_a_duplicate_of_its_seed():
    seeds = [path.read_bytes() for path in SEEDS]
    lines = seeds[1].decode().splitlines()
    body = "\n".join(lines[8:-3])  # the seed without its blog header and footer
    body = body.replace("without specific steps forward", "with no concrete progress", 1).replace("Wednesday", "Wed.", 1)
    copy = (
        "Home | World | Politics\n\nShare this article\n\n" + body
        + "\n\nSubscribe to our newsletter for the latest news.\n\n© 2022 Some Syndication Network. All rights reserved."
    )
    outcomes = _place_all([*seeds, copy.encode()])
    verdict = outcomes[-1]
    assert isinstance(verdict.outcome, Duplicate) and verdict.verdict.kind == "near"
    assert verdict.verdict.duplicate_of == outcomes[1].event.article_id
    assert 0.8 <= verdict.verdict.similarity < 1.0
