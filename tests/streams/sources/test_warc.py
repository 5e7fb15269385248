"""WARC archives: HTML responses become pages, every other record is passed over and counted, a truncated
archive gives what it holds and says where it broke."""

from __future__ import annotations

import gzip
import io
import zlib
from collections import Counter
from pathlib import Path

import pytest
from newsroom import STORY, STORY_TITLE, warc_archive, web_page
from warcio.archiveiterator import ArchiveIterator

from streams.sources.reading import PassedOver, Skipped
from streams.sources.warc import warc_articles

URL = "https://courier.example/local/harbour-bridge-reopens?utm_source=rss"
CANONICAL = "https://courier.example/local/harbour-bridge-reopens"
PAGE = web_page(STORY_TITLE, STORY, site="The Coastal Courier", published="2024-03-12T07:30:00Z", canonical=CANONICAL)
OTHER = web_page("Ferry timetable changes for spring", STORY[3:] * 2, site="The Coastal Courier")


def _read(tmp_path: Path, data: bytes, name: str = "crawl.warc.gz") -> list:
    path = tmp_path / name
    path.write_bytes(data)
    return list(warc_articles(path))


@pytest.mark.parametrize("compress", [True, False], ids=["warc.gz", "warc"])
def test_html_responses_become_pages_with_target_uri_and_crawl_date(tmp_path, compress):
    data = warc_archive([(URL, "2024-03-14T10:00:00Z", PAGE), ("https://courier.example/ferry", "2024-03-14T10:01:00Z", OTHER)], compress=compress)
    read = _read(tmp_path, data)
    pages = [r for r in read if isinstance(r, dict)]
    assert [p["title"] for p in pages] == [STORY_TITLE, "Ferry timetable changes for spring"]
    first, second = pages
    assert first["url"] == CANONICAL  # the page's canonical URL wins over the record's target URI
    assert second["url"] == "https://courier.example/ferry"  # no canonical: the target URI
    assert first["published_at"].startswith("2024-03-12T07:30:00")  # the page's date, not the crawl's
    assert first["crawled_at"] == "2024-03-14T10:00:00Z" and first["source"] == "The Coastal Courier"
    assert all(p["id"] for p in pages)
    passed = Counter(r.kind for r in read if isinstance(r, PassedOver))
    assert passed == {
        "warcinfo record": 1,
        "request record": 5,
        "image/jpeg response": 1,
        "HTTP 301 response": 1,
        "application/json response": 1,
    }
    assert not [r for r in read if isinstance(r, Skipped)]


@pytest.mark.parametrize("compress", [True, False], ids=["warc.gz", "warc"])
def test_a_truncated_archive_gives_the_records_before_the_cut_and_says_so(tmp_path, compress):
    complete = warc_archive([(URL, "2024-03-14T10:00:00Z", PAGE), ("https://courier.example/ferry", "2024-03-14T10:01:00Z", OTHER)], compress=compress)
    with io.BytesIO(complete) as stream:
        records = ArchiveIterator(stream)
        second_page = [records.get_record_offset() for r in records if r.rec_headers.get_header("WARC-Target-URI") == "https://courier.example/ferry"][-1]
    read = _read(tmp_path, complete[: second_page + 600])  # cut inside the second page's response record
    pages = [r for r in read if isinstance(r, dict)]
    problems = [r for r in read if isinstance(r, Skipped)]
    assert [p["title"] for p in pages] == [STORY_TITLE]
    assert len(problems) == 1
    assert "truncated" in problems[0].reason or "unreadable WARC" in problems[0].reason


def test_an_archive_gzipped_as_one_file_is_read_and_one_cut_short_gives_what_it_holds(tmp_path):
    plain = warc_archive([(URL, "2024-03-14T10:00:00Z", PAGE), ("https://courier.example/ferry", "2024-03-14T10:01:00Z", OTHER)], compress=False)
    whole = gzip.compress(plain)  # `gzip crawl.warc`: one gzip member, which warcio refuses
    assert _read(tmp_path, whole) == _read(tmp_path, plain, "crawl.warc")
    second_page = plain.index(b"WARC-Target-URI: https://courier.example/ferry")
    cut = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    read = _read(tmp_path, cut.compress(plain[: second_page + 600]) + cut.flush(zlib.Z_SYNC_FLUSH))  # no end of stream
    assert [r["title"] for r in read if isinstance(r, dict)] == [STORY_TITLE]
    problems = [str(r) for r in read if isinstance(r, Skipped)]
    assert problems and problems[-1].endswith("truncated WARC: the gzip file ends early; the records before the cut were read")


def test_a_page_record_without_article_text_is_skipped_by_record_and_url(tmp_path):
    empty = "<html><head><title>Index</title></head><body><nav><a href='/'>Home</a></nav></body></html>"
    read = _read(tmp_path, warc_archive([("https://courier.example/", "2024-03-14T10:00:00Z", empty), (URL, "2024-03-14T10:00:01Z", PAGE)], compress=True))
    (problem,) = [r for r in read if isinstance(r, Skipped)]
    assert "record 3 (https://courier.example/)" in problem.where and "no article text" in problem.reason
    assert [r["title"] for r in read if isinstance(r, dict)] == [STORY_TITLE]


def test_a_file_that_is_no_warc_is_one_clear_line(tmp_path):
    read = _read(tmp_path, b"WARC/1.0\r\nthis is not a record header at all\r\n\r\n" + bytes(range(256)) * 8, "broken.warc")
    assert read and all(isinstance(r, Skipped) and "broken.warc" in r.where for r in read)
    cut_header = _read(tmp_path, b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: 9999\r\n\r\nshort", "cut.warc")
    assert len(cut_header) == 1 and isinstance(cut_header[0], Skipped) and "cut.warc" in cut_header[0].where


@pytest.mark.parametrize("compress", [True, False], ids=["warc.gz", "warc"])
def test_a_page_record_cut_anywhere_is_read_or_reported_never_passed_over(tmp_path, compress):
    """Cut in its WARC-Type ("WARC-Type: respon"), its other headers, its HTTP headers or its page."""
    complete = warc_archive([(URL, "2024-03-14T10:00:00Z", PAGE)], compress=compress)
    with io.BytesIO(complete) as stream:
        records = ArchiveIterator(stream)
        start, length = next((records.get_record_offset(), records.get_record_length()) for r in records if r.rec_type == "response")
    headers = 700  # more than its WARC and HTTP headers take, compressed or not: cut at every byte of them
    for cut in [*range(start + 1, start + headers), *range(start + headers, start + length, 50)]:
        read = _read(tmp_path, complete[:cut])
        assert [r for r in read if isinstance(r, dict | Skipped)], f"cut at {cut - start} of {length}: {read}"


def test_a_record_of_an_unknown_type_is_skipped_and_known_others_are_passed_over(tmp_path):
    def record(kind: str) -> bytes:
        return f"WARC/1.0\r\nWARC-Type: {kind}\r\nWARC-Record-ID: <urn:uuid:{kind}>\r\nContent-Length: 2\r\n\r\nhi\r\n\r\n".encode()

    read = _read(tmp_path, record("metadata") + record("respnse") + record("conversion"), "odd.warc")
    assert [r.kind for r in read if isinstance(r, PassedOver)] == ["metadata record", "conversion record"]
    (problem,) = [r for r in read if isinstance(r, Skipped)]
    assert "record 2" in problem.where and "'respnse'" in problem.reason
