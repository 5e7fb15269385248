import random

import numpy as np

from streams.pipeline.dedup import (
    AT_THRESHOLD,
    NUM_PERM,
    SHINGLE_WORDS,
    DuplicateIndex,
    bands_for,
    fingerprint,
    similarity,
)
from streams.pipeline.english import words
from streams.tools.synthetic import generate

REPORT = (
    "The harbour authority in Valparaiso closed the northern terminal on Tuesday after a crane collapsed onto "
    "a container ship, injuring four dock workers. Port director Elena Vargas said the terminal would stay shut "
    "for at least three days while engineers inspected the remaining cranes. Shipping companies diverted more "
    "than a dozen vessels to San Antonio. Union leaders called for an independent inquiry into maintenance "
    "records, saying they had warned about the crane's condition last year."
)


def test_the_same_words_are_an_exact_duplicate_whatever_the_case_and_spacing():
    a = fingerprint(None, REPORT)
    b = fingerprint(None, "  " + REPORT.upper().replace(". ", ".\n\n"))
    assert a.exact == b.exact and similarity(a, b) == 1.0


def test_a_copy_with_a_few_words_changed_is_near():
    edited = REPORT.replace("Tuesday", "Wednesday").replace("dozen", "score")
    index = DuplicateIndex(threshold=0.6)
    index.add("original", fingerprint(None, REPORT))
    match = index.find(fingerprint(None, edited))
    assert match is not None and match.article_id == "original" and match.kind == "near"
    assert 0.6 <= match.similarity < 1.0


def test_a_different_report_on_the_same_event_is_not_a_duplicate():
    other = (
        "Four dock workers were hurt when a crane fell on a ship in Valparaiso. Officials gave no timeline for "
        "reopening the terminal, and unions demanded to see maintenance logs for the cranes at the port."
    )
    index = DuplicateIndex(threshold=0.8)
    index.add("original", fingerprint(None, REPORT))
    assert index.find(fingerprint(None, other)) is None


def test_headline_only_articles_fingerprint_their_title():
    assert fingerprint("Crane collapse shuts Valparaiso terminal", "").exact == fingerprint("crane collapse shuts valparaiso terminal", "").exact
    assert fingerprint("Crane collapse shuts Valparaiso terminal", "").exact != fingerprint("Valparaiso port reopens", "").exact


def test_signatures_are_those_stored_by_earlier_versions():
    """datasketch's affine64 MinHash (sha1 of each shingle, seed 1), which earlier versions computed and stored:
    a stored signature compares with a new one only if they are made the same way."""
    values = np.frombuffer(fingerprint(None, REPORT).signature, "<u8")
    assert values[:4].tolist() == [253888539056333915, 217866079836153380, 44335454865077199, 370898385252078266]


def test_similarity_estimates_the_jaccard_similarity_of_the_shingles():
    tokens = words(REPORT)
    edited = tokens[:40] + ["quay"] + tokens[41:]  # one word changed: five of the shingles differ
    sets = [{tuple(t[i : i + SHINGLE_WORDS]) for i in range(len(t) - SHINGLE_WORDS + 1)} for t in (tokens, edited)]
    jaccard = len(sets[0] & sets[1]) / len(sets[0] | sets[1])
    estimate = similarity(fingerprint(None, " ".join(tokens)), fingerprint(None, " ".join(edited)))
    assert estimate < 1.0 and abs(estimate - jaccard) < 0.15  # 64 permutations: a standard error of about 0.06


def test_of_two_equally_near_copies_the_first_id_wins_whatever_the_score_rounds_to():
    """58 of 64 values agree (0.90625, stored as 0.9062): the tie is on the exact score, not the rounded one."""
    from streams.pipeline.dedup import NUM_PERM, Fingerprint

    query = tuple(range(NUM_PERM))
    first = tuple(v if i < 58 else 10_000 + i for i, v in enumerate(query))  # the first 58 agree
    second = tuple(v if i >= NUM_PERM - 58 else 20_000 + i for i, v in enumerate(query))  # the last 58 agree
    index = DuplicateIndex(threshold=0.8)
    for article_id, signature in (("b-second", second), ("a-first", first)):
        index.add(article_id, Fingerprint(article_id, np.array(signature, "<u8").tobytes()))
    found = index.find(Fingerprint("query", np.array(query, "<u8").tobytes()))
    assert (found.article_id, found.similarity, found.kind) == ("a-first", 0.9062, "near")


def test_a_stored_fingerprint_reads_back_as_earlier_versions_wrote_it():
    """The table row is base64 of the signature's 64-bit values, little-endian, as earlier versions stored it
    (then from a tuple of ints): a worker upgraded over its tables reads its dedup window back unchanged."""
    import base64

    from streams.pipeline.dedup import Fingerprint

    fp = fingerprint(None, REPORT)
    written_before = base64.b64encode(np.frombuffer(fp.signature, "<u8").tobytes()).decode()
    assert fp.to_json() == {"exact": fp.exact, "signature": written_before}
    assert Fingerprint.from_json({"exact": fp.exact, "signature": written_before}) == fp


def test_an_index_rebuilt_from_stored_fingerprints_finds_the_copy_the_live_one_finds():
    from streams.pipeline.dedup import Fingerprint

    edited = REPORT.replace("Tuesday", "Wednesday")
    live, rebuilt = DuplicateIndex(threshold=0.6), DuplicateIndex(threshold=0.6)
    for article_id, text in (("original", REPORT), ("other", REPORT[::-1])):
        live.add(article_id, fingerprint(None, text))
        rebuilt.add(article_id, Fingerprint.from_json(fingerprint(None, text).to_json()))
    assert rebuilt.find(fingerprint(None, edited)) == live.find(fingerprint(None, edited))
    assert live.find(fingerprint(None, edited)).article_id == "original"


def test_a_copy_at_or_above_the_threshold_is_found_not_only_one_well_above_it():
    """With 5 bands of 11 (datasketch's even criterion), a pair at 0.8 shared a band in 36 % of cases: here 20 of
    the 90 copies whose signatures agree at 0.8 or more were missed, and would have been placed as news."""
    rng = random.Random(3)
    above = missed = 0
    for article in generate(400, seed=3, duplicate_rate=0.0, max_paragraphs=3).articles:
        words = article["text"].split(" ")
        for _ in range(rng.randint(1, 12)):
            words[rng.randrange(len(words))] = rng.choice(["said", "the", "officials", "on", "Monday"])
        original, copy = fingerprint(article["title"], article["text"]), fingerprint(article["title"], " ".join(words))
        index = DuplicateIndex(0.8, 1e9)
        index.add("original", original, 0.0)
        if similarity(original, copy) >= 0.8:
            above += 1
            missed += index.find(copy) is None
    assert above >= 50 and missed == 0
    bands, rows = bands_for(0.8)
    assert 1 - (1 - 0.8**rows) ** bands >= AT_THRESHOLD and bands * rows <= NUM_PERM
