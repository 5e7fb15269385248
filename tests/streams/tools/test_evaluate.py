"""The clustering scorers (B-cubed, pairwise), the state-to-clusters mapping, and `storywire evaluate`."""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest

from streams.cli import _parser
from streams.settings import Settings
from streams.tools.evaluate import (
    bcubed,
    clusters_from_state,
    evaluate,
    format_report,
    pairwise,
    read_gold,
    report,
)

SEEDS = Path(__file__).resolve().parents[3] / "seeds"

GOLD = {"a": "G1", "b": "G1", "c": "G1", "d": "G1", "e": "G2", "f": "G2"}
# Predicted: {a, b, c} and {d, e, f}: one article of G1 went with G2.
PREDICTED = {"a": "P1", "b": "P1", "c": "P1", "d": "P2", "e": "P2", "f": "P2"}


def close(x: float, y: float) -> bool:
    return math.isclose(x, y, abs_tol=1e-9)


def test_bcubed_by_hand():
    # Precision per article = share of its predicted cluster in its gold story:
    #   a, b, c: 3/3 each; d: 1/3 (d is G1, e and f are G2); e, f: 2/3 each.
    #   sum = 3 + 1/3 + 4/3 = 14/3; over 6 articles: P = 14/18 = 7/9.
    # Recall per article = share of its gold story in its predicted cluster:
    #   a, b, c: 3/4 each (d is elsewhere); d: 1/4; e, f: 2/2 each.
    #   sum = 9/4 + 1/4 + 2 = 9/2; over 6 articles: R = 3/4.
    # F1 = 2 * 7/9 * 3/4 / (7/9 + 3/4) = (42/36) / (55/36) = 42/55.
    scores = bcubed(PREDICTED, GOLD)
    assert close(scores.precision, 7 / 9)
    assert close(scores.recall, 3 / 4)
    assert close(scores.f1, 42 / 55)


def test_pairwise_by_hand():
    # Predicted pairs: 3 in P1 + 3 in P2 = 6. Gold pairs: 6 in G1 + 1 in G2 = 7.
    # Pairs together in both: ab, ac, bc (P1, G1) and ef (P2, G2) = 4; de and df are wrong.
    # P = 4/6 = 2/3, R = 4/7, F1 = 2 * 2/3 * 4/7 / (2/3 + 4/7) = (16/21) / (26/21) = 8/13.
    scores = pairwise(PREDICTED, GOLD)
    assert close(scores.precision, 2 / 3)
    assert close(scores.recall, 4 / 7)
    assert close(scores.f1, 8 / 13)


def test_a_perfect_clustering_scores_one_whatever_the_cluster_names():
    renamed = {article: f"x-{story}" for article, story in GOLD.items()}
    for scorer in (bcubed, pairwise):
        scores = scorer(renamed, GOLD)
        assert (scores.precision, scores.recall, scores.f1) == (1.0, 1.0, 1.0)


def test_all_singletons_are_precise_but_recall_only_themselves():
    singletons = {article: article for article in GOLD}
    b = bcubed(singletons, GOLD)
    # Recall: each G1 article finds 1/4 of its story, each G2 article 1/2: (4 * 1/4 + 2 * 1/2) / 6 = 1/3.
    assert b.precision == 1.0 and close(b.recall, 1 / 3) and close(b.f1, 0.5)
    p = pairwise(singletons, GOLD)
    assert p.precision == 1.0 and p.recall == 0.0 and p.f1 == 0.0


def test_one_big_cluster_recalls_everything_but_is_imprecise():
    lumped = {article: "all" for article in GOLD}
    b = bcubed(lumped, GOLD)
    # Precision: G1 articles 4/6, G2 articles 2/6: (4 * 4/6 + 2 * 2/6) / 6 = 20/36 = 5/9.
    assert close(b.precision, 5 / 9) and b.recall == 1.0
    p = pairwise(lumped, GOLD)
    assert close(p.precision, 7 / 15) and p.recall == 1.0  # 7 gold pairs out of C(6, 2) = 15


def test_only_gold_articles_are_scored_and_a_missing_one_is_a_cluster_of_its_own():
    extra = {**PREDICTED, "zz": "P1", "yy": "P2"}  # not in the gold file: ignored
    assert bcubed(extra, GOLD) == bcubed(PREDICTED, GOLD)
    without_a = {k: v for k, v in PREDICTED.items() if k != "a"}
    as_singleton = {**PREDICTED, "a": "only-a"}
    assert bcubed(without_a, GOLD) == bcubed(as_singleton, GOLD)
    assert pairwise(without_a, GOLD) == pairwise(as_singleton, GOLD)


def test_state_maps_duplicates_to_the_story_of_their_original_and_dead_letters_to_themselves():
    state = {
        "stories": [
            {"story_id": "s1", "article_ids": ["a", "b"]},
            {"story_id": "s2", "article_ids": ["c"]},
        ],
        "duplicates": [
            {"article_id": "d", "duplicate_of": "c", "kind": "exact", "story_id": "s2"},
            {"article_id": "e", "duplicate_of": "a", "kind": "near", "story_id": None},  # follow duplicate_of
            {"article_id": "f", "duplicate_of": "e", "kind": "exact", "story_id": None},  # a chain
            {"article_id": "b", "duplicate_of": "b", "kind": "redelivery", "story_id": "s1"},
        ],
        "dead_letters": [{"article_id": "g", "reason": "empty"}, {"article_id": None, "reason": "binary"}],
    }
    clusters = clusters_from_state(state)
    assert clusters == {"a": "s1", "b": "s1", "c": "s2", "d": "s2", "e": "s1", "f": "s1", "g": "dead:g"}


def test_read_gold_skips_blank_and_comment_lines_and_rejects_malformed_ones(tmp_path: Path):
    good = tmp_path / "gold.tsv"
    good.write_text("# article\tstory\na\tG1\n\nb\tG2\r\n", encoding="utf-8")
    assert read_gold(good) == {"a": "G1", "b": "G2"}
    bad = tmp_path / "bad.tsv"
    bad.write_text("a G1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.tsv:1"):
        read_gold(bad)


def test_report_counts_clusters_over_the_scored_articles():
    figures = report({**PREDICTED, "zz": "P9"}, GOLD, seconds=1.23, articles=7)
    assert figures["predicted_clusters"] == 2 and figures["gold_clusters"] == 2
    assert figures["articles_scored"] == 6 and figures["articles_replayed"] == 7
    assert close(figures["bcubed"]["f1"], 42 / 55) and close(figures["pairwise"]["f1"], 8 / 13)
    text = format_report(figures)
    assert "B-cubed" in text and "0.7636" in text and "pairwise" in text and "0.6154" in text


def test_the_cli_has_an_evaluate_command():
    args = _parser().parse_args(["evaluate", "a.jsonl", "a.tsv", "b.jsonl", "b.tsv", "--json"])
    assert (args.command, args.json) == ("evaluate", True)
    assert args.pairs == [Path("a.jsonl"), Path("a.tsv"), Path("b.jsonl"), Path("b.tsv")]


async def test_evaluate_runs_the_real_pipeline_and_scores_what_it_publishes(kafka_bootstrap: str, topic_prefix: str, tmp_path: Path):
    """Five reports of one event and two unrelated headlines, one of them sent twice."""
    lines = [{"id": f"seed-{i}", "text": path.read_text(encoding="utf-8")} for i, path in enumerate(sorted(SEEDS.glob("*.txt")))]
    lines.append({"id": "other-1", "title": "Reserve Bank of India raises repo rate to curb inflation", "text": ""})
    lines.append({"id": "other-2", "title": "Heavy rain floods Porto Alegre, thousands displaced", "text": ""})
    lines.append({"id": "other-3", "title": "Heavy rain floods Porto Alegre, thousands displaced", "text": ""})
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    gold = {f"seed-{i}": "nato" for i in range(5)} | {"other-1": "rbi", "other-2": "floods", "other-3": "floods"}
    settings = Settings(broker=kafka_bootstrap, topic_prefix=topic_prefix, home=tmp_path / "home")
    figures = await evaluate(feed, gold, settings, progress=lambda _: None, timeout=180)
    assert figures["articles_replayed"] == 8 and figures["articles_scored"] == 8
    assert figures["gold_clusters"] == 3 and figures["predicted_clusters"] == 3
    assert figures["bcubed"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert figures["topic_prefix"].startswith(f"{topic_prefix}-eval-")
