"""Running a worker process: its topics created, a table directory of its own claimed and settled after a stop that
cut a batch (journal.py), faust's worker started."""

from __future__ import annotations

import asyncio
import fcntl
import gc
from pathlib import Path

import faust

from streams.kafka.admin import ensure_topics
from streams.kafka.topics import changelog_spec, story_rows_changelog_spec, topic_specs
from streams.settings import Settings
from streams.story.desk import GC_THRESHOLDS
from streams.worker.app import build_app
from streams.worker.context import STORY_ROWS, TABLES
from streams.worker.journal import Settled, settle
from streams.worker.logs import logging_config
from streams.worker.upgrade import rows_from_earlier_states

_held_locks: list = []  # open lock files of claimed table directories, kept for the process's life


def run_worker(settings: Settings, loglevel: str, log_format: str) -> None:
    """Run until Ctrl-C or SIGTERM (faust commits what is acked and flushes its tables on the way out)."""
    gc.set_threshold(*GC_THRESHOLDS)
    changelogs = [changelog_spec(settings, table) for table in TABLES.values()]
    changelogs.append(story_rows_changelog_spec(settings, STORY_ROWS))
    asyncio.run(ensure_topics(settings, [*topic_specs(settings).values(), *changelogs]))
    asyncio.run(rows_from_earlier_states(settings))  # a deployment of the version before the story stage
    data_dir = claim_data_dir(settings.worker_dir)
    settled = asyncio.run(settle(settings, data_dir, TABLES)) if settings.tables_on_disk else Settled(None)
    app = build_app(settings, data_dir, settled)
    config = logging_config(log_format, loglevel)
    # JSON: no start-up banner on stdout either, so every line the worker writes is one JSON object.
    options = {"logging_config": config, "quiet": True} if config else {}
    faust.Worker(app, loglevel=loglevel, **options).execute_from_commandline()


def claim_data_dir(base: Path) -> Path:
    """A table directory no other worker on this machine holds (RocksDB locks its files).

    Workers of one deployment on one machine take slots 0, 1, 2...; a slot's lock is held until the
    process ends, so a restarted worker takes a free slot again and finds its tables there.
    """
    base.mkdir(parents=True, exist_ok=True)
    for number in range(64):
        lock = open(base / f"slot-{number}.lock", "w")  # noqa: SIM115 - held until the process ends
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        _held_locks.append(lock)
        slot = base / f"slot-{number}"
        slot.mkdir(exist_ok=True)
        return slot
    raise RuntimeError(f"more than 64 workers hold table directories under {base}")
