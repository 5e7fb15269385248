"""The desk's stores on RocksDB: a window's removals do not stay behind as tombstones that every read skips."""

from __future__ import annotations

import time
from pathlib import Path

from rocksdict import Options, Rdict

from streams.story.rocksdb import compacting_removals

WINDOW, WRITES = 30_000, 150_000  # rows kept, rows written: each write past the window removes the oldest row
REMOVED = WRITES - WINDOW


def tombstones_after_a_window(path: Path, options: Options, settle_s: float = 0.0) -> int:
    """Removals left in the database's files after writing a window of rows through it (a window larger than a
    memtable, so a row and its removal land in different files), once compactions have had up to `settle_s`."""
    db = Rdict(str(path), options=options)
    try:
        value = b"x" * 600
        for n in range(WRITES):
            db[f"article-{n:08d}".encode()] = value
            if n >= WINDOW:
                del db[f"article-{n - WINDOW:08d}".encode()]
        db.flush()
        deadline = time.monotonic() + settle_s
        while (left := sum(f["num_deletions"] for f in db.live_files())) > REMOVED // 10 and time.monotonic() < deadline:
            time.sleep(0.1)  # compactions run in RocksDB's background threads
        assert sum(1 for _ in db.keys()) == WINDOW
        return left
    finally:
        db.close()


def test_the_removals_of_a_window_are_compacted_away(tmp_path):
    assert tombstones_after_a_window(tmp_path / "plain", Options()) > REMOVED // 2  # what a window leaves otherwise
    assert tombstones_after_a_window(tmp_path / "compacting", compacting_removals(Options()), settle_s=60) <= REMOVED // 10
