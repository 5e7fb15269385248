"""`storywire clean`: the worker's cleaning of the articles in files, shown without a broker."""

from __future__ import annotations

from pathlib import Path

import orjson

from schemas import CleanArticle, DeadLetter
from streams.cli import main
from streams.pipeline.prepare import prepare
from streams.settings import Settings
from streams.sources import PassedOver, Skipped, input_files, read_inputs
from streams.tools import cleaning
from streams.tools.cleaning import cleaned_inputs, describe

SEEDS = Path(__file__).resolve().parents[3] / "seeds"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LIMIT = Settings().max_article_bytes


def test_the_seeds_are_shown_as_the_worker_cleans_them_with_each_removed_block_and_its_reason():
    outcomes = list(cleaned_inputs([SEEDS], LIMIT))
    assert len(outcomes) == 5 and all(isinstance(o, CleanArticle) for o in outcomes)
    for outcome in outcomes:
        # What the worker's prepared article says of the same bytes: the tool shows the worker's cleaning.
        payload = next(orjson.dumps(a) for a in _seed_articles() if str(a["id"]) == outcome.article_id)
        worker = prepare(payload, outcome.article_id.encode(), 0.0, LIMIT)
        assert worker.article == outcome.metadata().model_copy(update={"received_at": worker.article.received_at})
    removed = [block for outcome in outcomes for block in outcome.removed]
    assert len(removed) >= 20 and all(block.reason for block in removed)
    shown = describe(outcomes[0])
    assert f"removed {len(outcomes[0].removed)}:" in shown and f"outlet {outcomes[0].outlet}" in shown
    assert "language en" in shown and f"event date {outcomes[0].event_date.isoformat()}" in shown
    assert all(block.reason in shown for block in outcomes[0].removed)
    assert all(" ".join(block.text.split())[:40] not in outcomes[0].text for block in outcomes[0].removed if len(block.text) > 40)


def test_an_article_that_cannot_be_cleaned_shows_its_dead_letter_and_unreadable_input_is_skipped(tmp_path, monkeypatch):
    feed = tmp_path / "feed.jsonl"
    lines = [
        {"id": "empty", "title": "", "text": "  "},
        {"id": "ok", "title": "Harbour reopens", "text": "The harbour reopened on Monday after repairs, officials said."},
        {"id": 1.5, "title": "An id that is no string", "text": "The harbour reopened on Monday."},
        {"id": "a-bug", "title": "Harbour", "text": "The harbour reopened on Monday."},
    ]
    feed.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    (tmp_path / "broken.json").write_text("{not json")
    cleaned = cleaning.cleaned

    def with_a_bug(payload, key, max_bytes):
        if key == b"a-bug":
            raise RuntimeError("a bug in the cleaner")
        return cleaned(payload, key, max_bytes)

    monkeypatch.setattr(cleaning, "cleaned", with_a_bug)
    outcomes = {o.where if isinstance(o, Skipped) else o.article_id: o for o in cleaned_inputs([tmp_path], LIMIT)}
    assert isinstance(outcomes["empty"], DeadLetter) and outcomes["empty"].stage == "clean"
    assert "empty article" in outcomes["empty"].reason and "a dead letter at clean" in describe(outcomes["empty"])
    assert isinstance(outcomes["ok"], CleanArticle) and "harbour reopened" in outcomes["ok"].text
    assert isinstance(outcomes["1.5"], DeadLetter) and outcomes["1.5"].stage == "validate"  # as the worker's
    assert outcomes["a-bug"].stage == "process" and "a bug in the cleaner" in outcomes["a-bug"].reason
    assert isinstance(outcomes[str(tmp_path / "broken.json")], Skipped)


def test_inputs_that_are_no_article_by_nature_are_passed_over():
    """The example archive holds request records besides its pages: the pages are cleaned, the rest passed over."""
    read = list(read_inputs(input_files([EXAMPLES / "archive.warc"]), LIMIT))
    assert any(isinstance(item, PassedOver) for item in read)
    outcomes = list(cleaned_inputs([EXAMPLES / "archive.warc"], LIMIT))
    assert len(outcomes) == sum(isinstance(item, dict) for item in read) and all(isinstance(o, CleanArticle) for o in outcomes)


def test_clean_json_prints_one_object_per_outcome_each_as_its_model_reads_it(tmp_path, capsysbinary):
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(orjson.dumps({"id": "empty", "text": ""}) + b"\n")
    (tmp_path / "empty.jsonl").write_bytes(b"")
    assert main(["clean", "--json", str(SEEDS), str(feed), str(tmp_path / "empty.jsonl")]) == 1  # skipped: as replay
    lines = [orjson.loads(line) for line in capsysbinary.readouterr().out.splitlines()]
    assert [next(iter(line)) for line in lines] == ["cleaned"] * 5 + ["dead_letter", "skipped"]
    assert all(CleanArticle.model_validate(line["cleaned"]).removed for line in lines[:5])
    assert DeadLetter.model_validate(lines[5]["dead_letter"]).article_id == "empty"
    assert lines[6]["skipped"]["where"].endswith("empty.jsonl") and lines[6]["skipped"]["reason"]
    assert main(["clean", "--json", str(SEEDS)]) == 0


def _seed_articles() -> list[dict]:
    return [item for item in read_inputs(input_files([SEEDS]), LIMIT) if isinstance(item, dict)]
