"""Paths to articles: every format by content or name, directories mixing them, bad files as clear lines."""

from __future__ import annotations

import gzip
import os
from collections import Counter
from pathlib import Path

import orjson
import pytest
from newsroom import STORY, STORY_TITLE, atom_feed, rss_feed, warc_archive, web_page

from schemas import PreparedArticle, RawArticle
from streams.pipeline.prepare import prepare, stable_id
from streams.sources import (
    InputError,
    PassedOver,
    Skipped,
    feeds,
    files,
    html,
    input_files,
    read_inputs,
)
from streams.sources.reading import sniffed_format

EXAMPLES = Path(__file__).parents[2] / "examples"
PAGE = web_page(STORY_TITLE, STORY, site="The Coastal Courier", published="2024-03-12T07:30:00Z")
RSS = rss_feed("Courier - Local", "https://courier.example", [{"title": "Ferry", "guid": "https://c.example/1", "summary": "The ferry runs."}])


def _read(*paths: Path) -> list:
    return list(read_inputs(input_files(list(paths))))


def _articles(read: list) -> list[dict]:
    return [r for r in read if isinstance(r, dict)]


def test_text_and_jsonl_files_are_read_as_they_always_were(tmp_path):
    (tmp_path / "a.txt").write_text("An article as scraped.\n\nSecond paragraph.")
    lines = [
        orjson.dumps({"id": "j1", "title": "Given", "text": "Body", "lang_hint": "en"}),
        b"{broken",
        orjson.dumps({"title": "No id", "text": "Body two", "url": "https://x.example/2"}),
        b"[1, 2]",
    ]
    (tmp_path / "b.jsonl").write_bytes(b"\n".join(lines) + b"\n\n")
    read = _read(tmp_path)
    articles = _articles(read)
    assert articles[0] == {"text": "An article as scraped.\n\nSecond paragraph.", "id": stable_id(RawArticle(text="An article as scraped.\n\nSecond paragraph."))}
    assert articles[1] == {"id": "j1", "title": "Given", "text": "Body", "lang_hint": "en"}
    assert articles[2]["id"] == stable_id(RawArticle(title="No id", text="Body two", url="https://x.example/2"))
    problems = [str(r) for r in read if isinstance(r, Skipped)]
    assert problems[0].startswith(f"{tmp_path / 'b.jsonl'}:2: malformed JSON")
    assert problems[1] == f"{tmp_path / 'b.jsonl'}:4: a feed line must be a JSON object"


def test_a_directory_mixing_every_format_is_read_in_name_order(tmp_path):
    (tmp_path / "1-article.txt").write_text(STORY[0])
    (tmp_path / "2-page.html").write_text(PAGE)
    (tmp_path / "3-feed.rss").write_text(RSS)
    atom = atom_feed("Radio", "https://radio.example", [{"title": "Bridge", "link": "https://radio.example/1", "id": "tag:r,1", "published": "2024-03-12T08:00:00Z", "summary": "Open."}])
    (tmp_path / "4-feed.atom").write_text(atom)
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "5-crawl.warc.gz").write_bytes(warc_archive([("https://courier.example/b", "2024-03-14T10:00:00Z", PAGE)], compress=True))
    (tmp_path / "notes.md").write_text("# not an article")
    read = _read(tmp_path)
    titles = [a.get("title") for a in _articles(read)]
    assert titles == [None, STORY_TITLE, "Ferry", "Bridge", STORY_TITLE]
    assert not [r for r in read if isinstance(r, Skipped)]
    passed_over = Counter(r.kind for r in read if isinstance(r, PassedOver))
    assert passed_over[".md file"] == 1 and passed_over.total() == 9  # notes.md and the WARC's 8 other records


def test_gzipped_files_of_every_format_are_read_decompressed(tmp_path):
    lines = b"".join(orjson.dumps({"id": f"l{n}", "title": f"Line {n}", "text": STORY[0]}) + b"\n" for n in range(3))
    (tmp_path / "1-feed.jsonl.gz").write_bytes(gzip.compress(lines))
    (tmp_path / "2-feed.ndjson.gz").write_bytes(gzip.compress(lines.replace(b'"l', b'"n')))
    (tmp_path / "3-article.txt.gz").write_bytes(gzip.compress(STORY[0].encode()))
    (tmp_path / "4-page.html.gz").write_bytes(gzip.compress(PAGE.encode()))
    (tmp_path / "5-feed.xml.gz").write_bytes(gzip.compress(RSS.encode()))
    (tmp_path / "6-export.gz").write_bytes(gzip.compress(orjson.dumps([{"id": "j1", "title": "From an array", "text": STORY[1]}])))
    read = _read(tmp_path)
    assert not [r for r in read if not isinstance(r, dict)]
    assert [a.get("title") for a in read] == ["Line 0", "Line 1", "Line 2"] * 2 + [None, STORY_TITLE, "Ferry", "From an array"]
    assert read[6]["text"] == STORY[0]


def test_a_gzipped_file_cut_short_is_skipped_with_what_was_read(tmp_path):
    lines = b"".join(orjson.dumps({"id": f"l{n}", "text": STORY[0]}) + b"\n" for n in range(200))
    data = gzip.compress(lines)
    (tmp_path / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    read = _read(tmp_path / "cut.jsonl.gz")
    skipped = [r for r in read if isinstance(r, Skipped)]
    assert len(skipped) == 1 and skipped[0].where.endswith("cut.jsonl.gz") and "end-of-stream" in skipped[0].reason
    assert skipped[0].reason.endswith(f"({len(_articles(read))} articles read before it)") and _articles(read)


def test_json_files_hold_an_article_or_an_array_of_them_and_json_lines_go_by_content(tmp_path):
    (tmp_path / "a.json").write_bytes(orjson.dumps({"title": "One", "text": STORY[0]}, option=orjson.OPT_INDENT_2))
    (tmp_path / "b.json").write_bytes(orjson.dumps([{"title": "Two", "text": STORY[0]}, 7, {"title": "Three", "text": STORY[1]}]))
    (tmp_path / "c.json").write_bytes(b'{"title": "Four", "text": "x"}\n{"title": "Five", "text": "y"}\n')  # JSON Lines named .json
    (tmp_path / "d.data").write_bytes(b'{"title": "Six", "text": "z"}\n')  # no known name: its content tells
    (tmp_path / "e.json").write_bytes(b'"just a string"')
    read = _read(tmp_path)
    assert [a["title"] for a in _articles(read)] == ["One", "Two", "Three", "Four", "Five", "Six"]
    assert sorted(str(r) for r in read if isinstance(r, Skipped)) == [
        f"{tmp_path / 'b.json'}[1]: an article must be a JSON object",
        f"{tmp_path / 'e.json'}: a JSON file must hold an article (a JSON object) or an array of them",
    ]
    (tmp_path / "lines.ndjson").write_bytes(b'{"title": "a"}\n{"title": "b"}\n')
    assert [a["title"] for a in _articles(_read(tmp_path / "lines.ndjson"))] == ["a", "b"]  # named on its own too


def test_hidden_files_are_not_read_and_symbolic_links_to_directories_are_followed_once(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "page.html").write_text(PAGE)
    (shared / "back").symlink_to(tmp_path / "feeds", target_is_directory=True)  # a loop: feeds -> shared -> feeds
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "linked").symlink_to(shared, target_is_directory=True)
    (feeds / "feed.rss").write_text(RSS)
    (feeds / ".git").mkdir()
    (feeds / ".git" / "index.html").write_text(PAGE)
    (feeds / "._feed.rss").write_bytes(b"\x00\x05\x16\x07 resource fork")
    read = _read(feeds)
    assert [r for r in read if not isinstance(r, dict)] == []
    assert [a.get("title") for a in read] == ["Ferry", STORY_TITLE]


def test_empty_files_are_skipped_saying_so(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "empty.jsonl").write_text("\n")
    (tmp_path / "feed.rss").write_text(rss_feed("Courier", "https://courier.example", []))
    read = _read(tmp_path)
    assert [r.where for r in read if isinstance(r, Skipped)] == [str(tmp_path / n) for n in ("empty.jsonl", "empty.txt", "feed.rss")]
    assert all("no article in it" in r.reason for r in read if isinstance(r, Skipped))


def test_a_path_that_is_no_file_says_why(tmp_path):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(InputError, match="loop: cannot be read"):
        input_files([tmp_path / "loop"])
    os.mkfifo(tmp_path / "pipe.jsonl")
    with pytest.raises(InputError, match="pipe.jsonl: not a file or directory"):
        input_files([tmp_path / "pipe.jsonl"])


def test_the_content_decides_where_the_name_misleads(tmp_path):
    (tmp_path / "feed.html").write_text(RSS)  # a feed saved with a page's name
    (tmp_path / "page.xml").write_text(PAGE)  # a page saved with a feed's name
    (tmp_path / "download").write_bytes(warc_archive([("https://courier.example/b", "2024-03-14T10:00:00Z", PAGE)], compress=True))
    read = _articles(_read(tmp_path / "feed.html", tmp_path / "page.xml", tmp_path / "download"))
    assert [a["title"] for a in read] == ["Ferry", STORY_TITLE, STORY_TITLE]
    assert "guid" in read[0] and "crawled_at" in read[2]


def test_bad_files_are_clear_lines_and_the_rest_is_read(tmp_path):
    (tmp_path / "a-image.html").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    (tmp_path / "b-index.html").write_text("<html><body><nav><a href='/'>Home</a> <a href='/w'>World</a></nav></body></html>")
    (tmp_path / "c-broken.rss").write_text("<?xml version='1.0'?><rss version='2.0'><channel><title>Courier</ti")
    (tmp_path / "d-cut.warc.gz").write_bytes(warc_archive([("https://courier.example/b", "2024-03-14T10:00:00Z", PAGE)], compress=True)[:900])
    (tmp_path / "e-good.html").write_text(PAGE)
    read = _read(tmp_path)
    problems = {Path(r.where.split(" record ")[0]).name: r.reason for r in read if isinstance(r, Skipped)}
    assert problems.keys() == {"a-image.html", "b-index.html", "c-broken.rss", "d-cut.warc.gz"}
    assert problems["a-image.html"].startswith("not an HTML page: text looks like binary data")
    assert problems["b-index.html"].startswith("no article text in the page")
    assert problems["c-broken.rss"].startswith("malformed feed")
    assert "WARC" in problems["d-cut.warc.gz"]
    assert [a["title"] for a in _articles(read)] == [STORY_TITLE]


def test_a_file_named_on_its_own_in_no_known_format_is_read_as_text(tmp_path):
    (tmp_path / "article.md").write_text("A report in Markdown.")
    assert _articles(_read(tmp_path / "article.md"))[0]["text"] == "A report in Markdown."


def test_missing_paths_and_directories_without_articles_are_errors_naming_them(tmp_path):
    with pytest.raises(InputError, match="no/such/feed.rss"):
        input_files([Path("no/such/feed.rss")])
    (tmp_path / "notes.md").write_text("# nothing to read")
    with pytest.raises(InputError, match="no article files in this directory .*; it holds only files of no known format \\(.md file: 1\\)"):
        input_files([tmp_path])


def test_the_readme_examples_give_what_the_readme_says():
    read = _read(EXAMPLES)
    articles = _articles(read)
    assert not [r for r in read if isinstance(r, Skipped)]
    assert Counter(r.kind for r in read if isinstance(r, PassedOver))["request record"] == 4
    warc_page, atom_entry, rss_first, rss_second, page = articles  # archive.warc, feed.atom, feed.rss, page.html
    assert page["title"] == "Harbour Bridge reopens after storm repairs" and page["source"] == "The Coastal Courier"
    assert page["author"] == "Sam Okafor" and page["published_at"].startswith("2024-03-12T07:30:00")
    assert page["url"] == "https://courier.example/local/harbour-bridge-reopens"
    assert warc_page["id"] == page["id"] and warc_page["crawled_at"] == "2024-03-12T10:00:00Z"
    assert rss_first["guid"] == "https://courier.example/?p=4812" and rss_first["published_at"] == "2024-03-12T07:30:00Z"
    assert rss_second["text"].startswith("The morning ferry") and "author" not in rss_second
    assert atom_entry["source"] == "Island Radio News" and atom_entry["author"] == "Lena Park"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b'<?xml version="1.0"?>\n<!-- generated -->\n<rss version="2.0">', "feed"),
        (b'\xef\xbb\xbf<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">', "feed"),
        (b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">', "feed"),
        (b'<?xml version="1.0"?><!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "x"><html>', "page"),
        (b"\n  <!doctype HTML>\n<html>", "page"),
        (b"<HTML><HEAD>", "page"),
        (b"WARC/1.1\r\nWARC-Type: warcinfo\r\n", "warc"),
        (gzip.compress(b"WARC/1.0\r\nWARC-Type: warcinfo\r\n"), "warc"),
        (gzip.compress(b"just text"), None),
        (b"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>", None),
        (b"Plain text that mentions <html> later.", None),
    ],
)
def test_the_first_bytes_tell_the_format(head, kind):
    assert sniffed_format(head) == kind


def test_a_file_whose_reader_fails_is_skipped_with_the_reason_and_the_replay_goes_on(tmp_path, monkeypatch):
    (tmp_path / "a.jsonl").write_text('{"title": "One", "text": "First article"}\n')
    (tmp_path / "b.xml").write_bytes(b"")  # a failed download
    (tmp_path / "c.html").write_text(PAGE)
    (tmp_path / "d.jsonl").write_text('{"title": "Two", "text": "Second article"}\n')

    def broken_reader(path: Path):
        raise RuntimeError("reader bug")
        yield

    def reader_broken_after_one(path: Path):
        yield {"id": "p1", "title": "Page one", "text": "Read before the bug"}
        raise RuntimeError("reader bug")

    monkeypatch.setitem(files._READERS, files.PAGE, broken_reader)
    read = _read(tmp_path)
    assert [a["title"] for a in _articles(read)] == ["One", "Two"]
    problems = {Path(r.where).name: r.reason for r in read if isinstance(r, Skipped)}
    assert problems["b.xml"].startswith("not an RSS or Atom feed")
    assert problems["c.html"] == "reading stopped at RuntimeError: reader bug (nothing read)"
    monkeypatch.setitem(files._READERS, files.PAGE, reader_broken_after_one)
    read = _read(tmp_path)
    assert [a["title"] for a in _articles(read)] == ["One", "Page one", "Two"]
    assert [r.reason for r in read if isinstance(r, Skipped) and r.where.endswith("c.html")] == [
        "reading stopped at RuntimeError: reader bug (1 article read before it)"
    ]


def test_text_files_are_decoded_as_the_worker_decodes_payloads(tmp_path):
    (tmp_path / "a-cp1252.txt").write_bytes("Le café de Zürich a fermé – «triste» dit le maire.".encode("cp1252"))
    (tmp_path / "b-utf16.txt").write_text("Officials said the bridge will reopen on Monday.", encoding="utf-16")
    (tmp_path / "c-bom.txt").write_bytes(b"\xef\xbb\xbfThe ferry runs again.")
    (tmp_path / "d-binary.txt").write_bytes(bytes(range(256)) * 4)
    read = _read(tmp_path)
    assert [a["text"] for a in _articles(read)] == [
        "Le café de Zürich a fermé – «triste» dit le maire.",
        "Officials said the bridge will reopen on Monday.",
        "The ferry runs again.",
    ]
    (problem,) = [r for r in read if isinstance(r, Skipped)]
    assert problem.where == str(tmp_path / "d-binary.txt") and "binary" in problem.reason


def test_a_jsonl_file_with_a_byte_order_mark_keeps_its_first_line(tmp_path):
    (tmp_path / "feed.jsonl").write_bytes(b'\xef\xbb\xbf{"title": "T", "text": "first"}\n{"title": "U", "text": "second"}\n')
    read = _read(tmp_path / "feed.jsonl")
    assert [a["title"] for a in _articles(read)] == ["T", "U"]
    assert not [r for r in read if isinstance(r, Skipped)]


def test_jsonl_lines_are_decoded_as_the_worker_decodes_payloads(tmp_path):
    lines = [
        '{"title": "Café closes", "text": "The owner called it “the end of an era”."}'.encode("cp1252"),
        b'{"title": "Fine", "text": "\xc3\xa9t\xc3\xa9 in UTF-8"}',
        b'{"title": "Binary", "text": "\x00\x01\x02\x03\x04\x05"}',
        b"{broken",
    ]
    (tmp_path / "feed.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    read = _read(tmp_path / "feed.jsonl")
    assert [(a["title"], a["text"]) for a in _articles(read)] == [
        ("Café closes", "The owner called it “the end of an era”."),
        ("Fine", "été in UTF-8"),
    ]
    problems = [str(r) for r in read if isinstance(r, Skipped)]
    assert problems[0].startswith(f"{tmp_path / 'feed.jsonl'}:3: binary payload")
    assert problems[1].startswith(f"{tmp_path / 'feed.jsonl'}:4: malformed JSON")


def test_numeric_ids_are_sent_as_strings_and_id_zero_is_an_id(tmp_path):
    text = "The Harbour Bridge reopened to traffic on Tuesday morning after six weeks of repairs, officials said."
    lines = [{"id": 1, "title": "Bridge reopens", "text": text}, {"id": 0, "title": "Ferry adds crossings", "text": text.replace("Bridge", "Ferry")}]
    (tmp_path / "feed.jsonl").write_bytes(b"\n".join(orjson.dumps(line) for line in lines))
    articles = _articles(_read(tmp_path / "feed.jsonl"))
    assert [a["id"] for a in articles] == ["1", "0"]
    for article in articles:  # as the replay sends them: the id is the key
        prepared = prepare(orjson.dumps(article), article["id"].encode(), 0.0, 2_000_000)
        assert isinstance(prepared, PreparedArticle), prepared
        assert prepared.article.article_id == article["id"]


def test_an_unreadable_directory_is_reported_and_the_rest_is_read(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("First article.")
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "b.txt").write_text("Behind a lock.")
    (tmp_path / "z.txt").write_text("Last article.")
    scandir = os.scandir

    def scandir_without_permission(path="."):
        if Path(path) == tmp_path / "locked":  # as for a directory without read permission (root reads all)
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", scandir_without_permission)
    read = _read(tmp_path)
    assert [a["text"] for a in _articles(read)] == ["First article.", "Last article."]
    (problem,) = [r for r in read if isinstance(r, Skipped)]
    assert problem.where == str(tmp_path / "locked") and "Permission denied" in problem.reason
    with pytest.raises(InputError, match="locked: directory cannot be read"):  # named alone: an error, before sending
        input_files([tmp_path / "locked"])


@pytest.mark.parametrize(("name", "kind"), [("a.txt", "text file"), ("b.html", "page"), ("c.rss", "feed")])
def test_a_file_larger_than_its_reader_takes_is_skipped_without_being_read(tmp_path, monkeypatch, name, kind):
    limit = feeds.MAX_FEED_BYTES if kind == "feed" else html.MAX_PAGE_BYTES
    with (tmp_path / name).open("wb") as file:
        file.truncate(limit + 1)  # sparse: no disk space taken
    read_whole = []
    read_bytes = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda path: read_whole.append(path) or read_bytes(path))
    (problem,) = _read(tmp_path / name)
    raise_it = "; raise STORYWIRE_MAX_ARTICLE_BYTES to read it" if kind == "text file" else ""
    assert problem == Skipped(str(tmp_path / name), f"{kind} of {limit + 1:,} bytes, more than the {limit:,} read{raise_it}")
    assert not read_whole


def test_a_text_file_is_read_up_to_the_article_limit_where_that_is_larger_than_a_page(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "MAX_PAGE_BYTES", 100)
    (tmp_path / "long.txt").write_text("An article longer than a page is read. " * 4)  # 156 bytes

    def read(max_article_bytes: int) -> list:
        return list(read_inputs(input_files([tmp_path / "long.txt"]), max_article_bytes))

    assert read(50) == [Skipped(str(tmp_path / "long.txt"), "text file of 156 bytes, more than the 100 read; raise STORYWIRE_MAX_ARTICLE_BYTES to read it")]
    assert read(150) == [Skipped(str(tmp_path / "long.txt"), "text file of 156 bytes, more than the 150 read; raise STORYWIRE_MAX_ARTICLE_BYTES to read it")]
    (article,) = read(156)
    assert article["text"] == "An article longer than a page is read. " * 4
