"""`storywire evaluate`: how well the real pipeline clusters a labelled stream.

Two parts:

* pure scorers comparing a predicted clustering with a gold one, each given
  as a mapping article id -> cluster id: B-cubed precision/recall/F1 (per
  article: the share of its predicted cluster that is in its gold story, and
  of its gold story that is in its predicted cluster, averaged over articles)
  and pairwise precision/recall/F1 (over pairs of articles put together);
* `evaluate`, which runs the real worker on fresh topics (as `storywire demo`
  does), replays a feed, waits for every article, reads the published state
  back and scores it against the gold file.

Only articles in the gold clustering are scored. An article the prediction
does not mention counts as a cluster of its own.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from streams.settings import Settings


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _contingency(predicted: Mapping[str, str], gold: Mapping[str, str]):
    """Counts per (predicted cluster, gold cluster), per predicted cluster and per gold cluster, over gold articles."""
    joint: Counter[tuple[object, str]] = Counter()
    for article_id, gold_cluster in gold.items():
        cluster = predicted.get(article_id)
        key = ("predicted", cluster) if cluster is not None else ("unplaced", article_id)
        joint[key, gold_cluster] += 1
    sizes_predicted: Counter[object] = Counter()
    sizes_gold: Counter[str] = Counter()
    for (cluster, gold_cluster), n in joint.items():
        sizes_predicted[cluster] += n
        sizes_gold[gold_cluster] += n
    return joint, sizes_predicted, sizes_gold


def bcubed(predicted: Mapping[str, str], gold: Mapping[str, str]) -> Scores:
    """B-cubed precision, recall and F1 (Bagga & Baldwin; Amigó et al. 2009) over the gold articles.

    With n(c, g) articles in predicted cluster c and gold story g:
    precision = sum n(c, g)^2 / |c| / N and recall = sum n(c, g)^2 / |g| / N.
    """
    joint, sizes_predicted, sizes_gold = _contingency(predicted, gold)
    total = len(gold)
    if not total:
        return Scores(1.0, 1.0, 1.0)
    precision = sum(n * n / sizes_predicted[c] for (c, _), n in joint.items()) / total
    recall = sum(n * n / sizes_gold[g] for (_, g), n in joint.items()) / total
    return Scores(precision, recall, _f1(precision, recall))


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise(predicted: Mapping[str, str], gold: Mapping[str, str]) -> Scores:
    """Pairwise precision, recall and F1 over pairs of gold articles.

    precision: of the pairs put in one predicted cluster, the share in one gold story;
    recall: of the pairs in one gold story, the share put in one predicted cluster.
    With no pair on a side, that side's figure is 1.0 (nothing claimed, nothing wrong).
    """
    joint, sizes_predicted, sizes_gold = _contingency(predicted, gold)
    together = sum(_pairs(n) for n in joint.values())
    predicted_pairs = sum(_pairs(n) for n in sizes_predicted.values())
    gold_pairs = sum(_pairs(n) for n in sizes_gold.values())
    precision = together / predicted_pairs if predicted_pairs else 1.0
    recall = together / gold_pairs if gold_pairs else 1.0
    return Scores(precision, recall, _f1(precision, recall))


def read_gold(path: Path) -> dict[str, str]:
    """A gold file: one `article id<TAB>story id` a line; blank lines and lines starting with # are skipped."""
    gold: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise ValueError(f"{path}:{number}: expected 'article id<TAB>story id'")
        gold[parts[0]] = parts[1]
    return gold


def clusters_from_state(state: dict) -> dict[str, str]:
    """Article id -> story id from the published state (`streams.kafka.read.current_state`).

    Placed articles get their story; a duplicate gets the story of the article it
    duplicates (its verdict's story, else followed through `duplicate_of`); a
    dead letter is a cluster of its own.
    """
    clusters: dict[str, str] = {}
    merged_into = {m["story_id"]: m["merged_into"] for m in state.get("merged", [])}
    for story in state["stories"]:
        for article_id in story["article_ids"]:
            clusters[article_id] = story["story_id"]
    duplicate_of = {d["article_id"]: d for d in state["duplicates"] if d["kind"] != "redelivery"}
    for article_id in duplicate_of:
        if article_id in clusters:
            continue
        seen = set()
        current = article_id
        story_id = None
        while current not in seen:
            seen.add(current)
            if current in clusters:
                story_id = clusters[current]
                break
            verdict = duplicate_of.get(current)
            if verdict is None:
                break
            if verdict.get("story_id"):
                story_id = verdict["story_id"]
                break
            current = verdict["duplicate_of"]
        while story_id in merged_into:  # the story it named was absorbed by another since
            story_id = merged_into[story_id]
        clusters[article_id] = story_id or f"unplaced:{article_id}"
    for letter in state["dead_letters"]:
        if letter.get("article_id") and letter["article_id"] not in clusters:
            clusters[letter["article_id"]] = f"dead:{letter['article_id']}"
    return clusters


def report(predicted: Mapping[str, str], gold: Mapping[str, str], seconds: float, articles: int) -> dict:
    """The figures `storywire evaluate` prints."""
    scored = {article_id: predicted[article_id] for article_id in gold if article_id in predicted}
    return {
        "bcubed": asdict(bcubed(predicted, gold)),
        "pairwise": asdict(pairwise(predicted, gold)),
        "predicted_clusters": len(set(scored.values())) + sum(1 for a in gold if a not in predicted),
        "gold_clusters": len(set(gold.values())),
        "articles_replayed": articles,
        "articles_scored": len(gold),
        "articles_missing": sum(1 for a in gold if a not in predicted),
        "seconds": round(seconds, 1),
    }


async def evaluate(
    feed: Path,
    gold: Mapping[str, str],
    settings: Settings,
    progress: Callable[[str], None],
    timeout: float = 900.0,
) -> dict:
    """Run the real pipeline on the feed and score the stories it publishes against the gold clustering.

    As `storywire demo` does: fresh topics, the given broker (or a local one,
    started only if none runs, stopped after), a worker subprocess, a replay of
    the feed, a wait until every article has an outcome, then the state read
    back from the topics.
    """
    from streams.tools.harness import run_once

    started = time.monotonic()
    state, run_settings, sent = await run_once(settings, [feed], progress, timeout, "eval")
    predicted = clusters_from_state(state)
    figures = report(predicted, gold, time.monotonic() - started, sent)
    figures["topic_prefix"] = run_settings.topic_prefix
    return figures


def format_report(figures: dict) -> str:
    b, p = figures["bcubed"], figures["pairwise"]
    lines = [
        f"B-cubed   precision {b['precision']:.4f}  recall {b['recall']:.4f}  F1 {b['f1']:.4f}",
        f"pairwise  precision {p['precision']:.4f}  recall {p['recall']:.4f}  F1 {p['f1']:.4f}",
        f"clusters  predicted {figures['predicted_clusters']}  gold {figures['gold_clusters']}",
        f"articles  scored {figures['articles_scored']}  replayed {figures['articles_replayed']}"
        + (f"  missing {figures['articles_missing']}" if figures["articles_missing"] else ""),
        f"elapsed   {figures['seconds']:.1f}s",
    ]
    return "\n".join(lines)
