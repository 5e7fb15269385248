"""The place stage's journal of a batch in flight (streams/worker/journal.py), without a broker."""

import asyncio
import logging

import pytest

from streams.settings import Settings
from streams.worker import journal
from streams.worker.context import TABLES

UNREACHABLE = Settings(broker="127.0.0.1:1")


def test_a_journal_is_read_back_as_recorded_and_gone_once_cleared(tmp_path):
    batch = journal.InFlight.of({"articles": 7, "meta": 2}, {"articles": [("a", "1"), ("b", None)], "meta": [("position", "2"), ("position", "3")]})
    journal.record(tmp_path, batch)
    assert journal.read(tmp_path, TABLES) == batch
    assert batch.again == {"articles": ["a", "b"], "meta": ["position"]}  # each key once, in order
    assert [p.name for p in tmp_path.iterdir()] == [journal.JOURNAL]  # no partial file left beside it
    journal.clear(tmp_path)
    assert journal.read(tmp_path, TABLES) is None
    journal.clear(tmp_path)  # nothing to clear: no error


def test_a_value_s_digest_tells_values_apart_and_a_tombstone_has_none():
    assert journal.digest(b'{"size":1}') == journal.digest(b'{"size":1}') != journal.digest(b'{"size":2}')
    assert journal.digest(None) is None


def test_only_a_write_the_batch_does_not_make_is_another_writer_s():
    made = [("a", "1"), ("b", "2"), ("c", None)]
    assert journal.stray_write(made, []) is None
    assert journal.stray_write(made, [("a", "1"), ("b", "2")]) is None  # cut part way
    assert journal.stray_write(made, [("a", "1"), ("a", "1"), ("b", "2"), ("c", None)]) is None  # a phase written again
    assert journal.stray_write(made, [("a", "1"), ("x", "9"), ("b", "2")]) == ("x", "9")
    assert journal.stray_write(made, [("a", "1"), ("b", "7")]) == ("b", "7")  # the batch's key, another value
    assert journal.stray_write(made, [("c", "3")]) == ("c", "3")  # a value where the batch removed the key


def test_how_a_batch_landed_is_read_from_what_each_changelog_got_since_it_began():
    batch = journal.InFlight.of({"articles": 10, "meta": 4}, {"articles": [("a", "1"), ("b", "2")], "meta": [("position", "3")]})
    ends = {"articles": 12, "meta": 5}
    whole = {"articles": [("a", "1"), ("b", "2")], "meta": [("position", "3")]}
    assert journal.landing(batch, whole, ends) == ("whole", None)
    # another worker's later work after the whole batch: faust's recovery applies it to the tables too
    later = {"articles": [("a", "1"), ("b", "2"), ("c", "4")], "meta": [("position", "3"), ("position", "5")]}
    assert journal.landing(batch, later, ends)[0] == "whole"
    assert journal.landing(batch, {"articles": [("a", "1")], "meta": []}, ends) == ("cut", None)
    retried = {"articles": [("a", "1"), ("a", "1"), ("b", "2")], "meta": [("position", "3")]}
    assert journal.landing(batch, retried, ends) == ("cut", None)
    how, what = journal.landing(batch, {"articles": [("a", "1"), ("c", "4")], "meta": []}, ends)
    assert how == "stray" and "a write to 'c'" in what and "articles" in what
    how, what = journal.landing(batch, {"articles": [], "meta": []}, {"articles": 3, "meta": 5})
    assert how == "stray" and "made again" in what


def test_another_worker_s_smaller_batch_of_the_same_articles_is_told_from_the_batch_by_its_values():
    """Another worker placed some of the batch's articles (keys of the batch only) and handed the stage back:
    its story states differ from the batch's, and faust's recovery would mix them into the local tables."""
    batch = journal.InFlight.of({"articles": 10, "stories": 4}, {"articles": [("a", "1"), ("b", "2")], "stories": [("s", "5")]})
    ends = {"articles": 11, "stories": 5}
    smaller = {"articles": [("a", "1")], "stories": [("s", "6")]}  # after article "a" only
    how, what = journal.landing(batch, smaller, ends)
    assert how == "stray" and "another value for 's'" in what and "stories" in what


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
        '{"starts": {"articles": "x"}, "keys": {}, "values": {}}',
        '{"keys": {}}',
        "[]",
        '{"starts": {}, "keys": {"articles": "abc"}, "values": {"articles": "abc"}}',
        '{"starts": {"old-table": 3}, "keys": {}, "values": {}}',
        '{"starts": {}, "keys": {"articles": ["a"]}, "values": {"articles": []}}',
        '{"starts": {}, "keys": {"articles": ["a"]}, "values": {"articles": [3]}}',
        '{"starts": {}, "keys": {"articles": ["a"]}, "values": {}}',
        '{"starts": {}, "keys": {"articles": ["a"]}}',
    ],
)
def test_a_journal_of_the_wrong_shape_is_not_one(tmp_path, content):
    (tmp_path / journal.JOURNAL).write_text(content)
    with pytest.raises(ValueError, match="not a journal"):
        journal.read(tmp_path, TABLES)
