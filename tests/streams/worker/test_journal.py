"""The place stage's journal of a batch in flight (streams/worker/journal.py), without a broker."""

import asyncio
import logging

import pytest

from streams.settings import Settings
from streams.worker import journal
from streams.worker.context import TABLES

UNREACHABLE = Settings(broker="127.0.0.1:1")


def test_a_journal_is_read_back_as_recorded_and_gone_once_cleared(tmp_path):
    batch = journal.InFlight({"articles": 7, "meta": 2}, {"articles": ["a", "b"], "meta": ["position", "position"]})
    journal.record(tmp_path, batch)
    assert journal.read(tmp_path, TABLES) == batch
    seen = journal.InFlight(batch.starts, batch.keys, {"articles": 9, "meta": 2})
    journal.record(tmp_path, seen)
    assert journal.read(tmp_path, TABLES) == seen
    assert batch.again == {"articles": ["a", "b"], "meta": ["position"]}  # each key once, in order
    assert [p.name for p in tmp_path.iterdir()] == [journal.JOURNAL]  # no partial file left beside it
    journal.clear(tmp_path)
    assert journal.read(tmp_path, TABLES) is None
    journal.clear(tmp_path)  # nothing to clear: no error


def test_only_a_write_to_a_key_the_batch_does_not_make_is_another_writer_s():
    made = ["a", "b", "c"]
    assert journal.stray_key(made, []) is None
    assert journal.stray_key(made, ["a", "b"]) is None  # cut part way
    assert journal.stray_key(made, ["a", "a", "b", "c"]) is None  # a phase written again after a failed write
    assert journal.stray_key(made, ["a", "x", "b"]) == "x"


def test_how_a_batch_landed_is_read_from_what_each_changelog_got_since_it_began():
    batch = journal.InFlight({"articles": 10, "meta": 4}, {"articles": ["a", "b"], "meta": ["position"]})
    ends = {"articles": 12, "meta": 5}
    assert journal.landing(batch, {"articles": ["a", "b"], "meta": ["position"]}, ends) == ("whole", None)
    # another worker's later work after the whole batch: faust's recovery applies it to the tables too
    assert journal.landing(batch, {"articles": ["a", "b", "c"], "meta": ["position", "position"]}, ends)[0] == "whole"
    assert journal.landing(batch, {"articles": ["a"], "meta": []}, ends) == ("cut", None)
    assert journal.landing(batch, {"articles": ["a", "a", "b"], "meta": ["position"]}, ends) == ("cut", None)  # retried
    how, what = journal.landing(batch, {"articles": ["a", "c"], "meta": []}, ends)
    assert how == "stray" and "'c'" in what and "articles" in what
    how, what = journal.landing(batch, {"articles": [], "meta": []}, {"articles": 3, "meta": 5})
    assert how == "stray" and "made again" in what


def test_a_write_after_a_start_found_the_batch_cut_is_another_worker_s_whatever_its_key():
    """Another worker that placed between this worker's start and its first batch may have written only the
    batch's keys, with its own values: sending the local values over them would mix two placings."""
    found_at_start = {"articles": ["a"], "meta": []}
    batch = journal.InFlight({"articles": 10, "meta": 4}, {"articles": ["a", "b"], "meta": ["position"]})
    ends = {"articles": 11, "meta": 4}
    assert journal.landing(batch, found_at_start, ends) == ("cut", None)
    seen = journal.InFlight(batch.starts, batch.keys, ends)
    assert journal.landing(seen, found_at_start, ends) == ("cut", None)
    how, what = journal.landing(seen, {"articles": ["a", "b"], "meta": ["position"]}, {"articles": 12, "meta": 5})
    assert how == "stray" and "since this worker found the batch cut" in what


def test_a_journal_that_is_not_one_has_the_tables_rebuilt_without_asking_the_broker(tmp_path, caplog):
    (tmp_path / journal.JOURNAL).write_text('{"starts": {"articles": 3}')  # cut short: not written by `record`
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "articles-0.db").write_text("stale")
    settled = asyncio.run(journal.settle(UNREACHABLE, tmp_path, TABLES))
    assert settled.cut is None
    assert not any(tmp_path.iterdir()), "faust rebuilds the tables from their changelogs"
    with caplog.at_level(logging.INFO, logger="streams.worker.journal"):
        settled.report()
    assert "rebuilding the tables from their changelogs" in caplog.text


def test_no_journal_leaves_the_tables_as_they_are(tmp_path):
    (tmp_path / "articles-0.db").write_text("kept")
    settled = asyncio.run(journal.settle(UNREACHABLE, tmp_path, TABLES))
    assert settled == journal.Settled(None)
    assert (tmp_path / "articles-0.db").read_text() == "kept"


@pytest.mark.parametrize(
    "content",
    [
        '{"starts": {"articles": "x"}, "keys": {}}',
        '{"keys": {}}',
        "[]",
        '{"starts": {}, "keys": {"articles": "abc"}}',
        '{"starts": {"old-table": 3}, "keys": {}}',
        '{"starts": {}, "keys": {}, "seen": {"articles": "x"}}',
        '{"starts": {}, "keys": {}, "seen": []}',
    ],
)
def test_a_journal_of_the_wrong_shape_is_not_one(tmp_path, content):
    (tmp_path / journal.JOURNAL).write_text(content)
    with pytest.raises(ValueError, match="not a journal"):
        journal.read(tmp_path, TABLES)
