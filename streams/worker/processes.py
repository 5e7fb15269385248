"""Preparing in child processes: the pure per-article work on cores of its own.

One Python process prepares about 400 articles/s, and the place stage, which must see every story, runs in
the worker's own process. With `prepare_processes` > 0 the worker hands raw payloads to that many child
processes, so preparing no longer takes the core that placing needs. Results are taken back in the order
the payloads were given, so the place stage sees the order it would without the children (a replay on one
partition stays deterministic). Children are spawned, not forked: the worker has threads by then.
Plain asyncio and concurrent.futures, no faust, so a child imports none of the wiring.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import orjson

from schemas import DeadLetter
from streams.pipeline.clean.language import language_identifier
from streams.pipeline.prepare import dead_letter, key_text, prepare

log = logging.getLogger(__name__)

# (the prepared article's bytes and id, or a dead letter; seconds it took)
Prepared = tuple[bytes | DeadLetter, str | None, float]

_WARM_UP = orjson.dumps({"title": "Ministers meet in Brussels", "text": "Ministers met in Brussels on Monday. " * 20})


def prepared_message(payload: bytes | None, key: bytes | None, timestamp: float, max_bytes: int) -> Prepared:
    """`prepare`, with the result already encoded: what a child sends back (bytes travel cheaply)."""
    started = time.perf_counter()
    result = prepare(payload, key, timestamp, max_bytes)
    if isinstance(result, DeadLetter):
        return result, None, time.perf_counter() - started
    return result.to_bytes(), result.article.article_id, time.perf_counter() - started


def warm_up() -> None:
    """Load the language model and word lists now, not on the first article (whose latency they would be).
    The warm-up article is plainly English, which never reaches the language model: that is loaded apart."""
    language_identifier()
    prepare(_WARM_UP, None, 0.0, len(_WARM_UP))


def start_child(parent: int) -> None:
    """A child's start: exit when the worker is gone (a child of a worker killed with SIGKILL would otherwise
    wait for work forever: it holds its own end of the queue), then warm up."""
    threading.Thread(target=_exit_without, args=(parent,), daemon=True, name="exit-without-worker").start()
    warm_up()


def _exit_without(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


class Preparer:
    """Prepares payloads in `processes` children (0: in the calling process), handing back futures to be
    awaited in the order they were made.

    A child that dies (killed, out of memory) breaks the pool: it is replaced, and each article it held is
    prepared once more in the new one; an article that breaks that one too is prepared in the worker's own
    process, so no article is lost or dead-lettered for what happened to a process. Children that cannot
    start at all (their interpreter cannot import the worker's main module again, say) leave the worker
    preparing in its own process, which it logs.
    """

    def __init__(self, processes: int, max_bytes: int) -> None:
        self.processes = processes
        self.max_bytes = max_bytes
        self._pool: ProcessPoolExecutor | None = None

    async def start(self) -> None:
        """Start the children and wait until they have prepared a first article; or warm up this process."""
        if self.processes:
            self._pool = self._new_pool()
            try:
                await asyncio.wrap_future(self._pool.submit(warm_up))
                log.info("child processes preparing articles: %d", self.processes, extra={"processes": self.processes})
                return
            except Exception as error:
                log.error("child processes to prepare articles in could not start (%r); preparing in the worker's "
                          "own process", error, extra={"error": repr(error)})
                self.stop()
        warm_up()

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def submit(self, payload: bytes | None, key: bytes | None, timestamp: float) -> asyncio.Future:
        """Start preparing one payload; the future's result is a `Prepared`."""
        if self._pool is not None:
            work = (prepared_message, payload, key, timestamp, self.max_bytes)
            try:
                return asyncio.wrap_future(self._pool.submit(*work))
            except BrokenProcessPool:  # a child died since the last submit
                self._replace_broken_pool()
                return asyncio.wrap_future(self._pool.submit(*work))
        done = asyncio.get_running_loop().create_future()
        try:
            done.set_result(prepared_message(payload, key, timestamp, self.max_bytes))
        except Exception as error:  # a bug: `result` makes it a dead letter
            done.set_exception(error)
        return done

    async def result(self, future: asyncio.Future, payload: bytes | None, key: bytes | None, timestamp: float) -> Prepared:
        """The future's result (see the class for a child that dies). A bug in the pure work is a dead letter: it
        must not stop the worker."""
        try:
            try:
                return await future
            except BrokenProcessPool:
                self._replace_broken_pool()
            try:
                return await self.submit(payload, key, timestamp)
            except BrokenProcessPool:
                self._replace_broken_pool()
                log.error("an article broke a new process too; preparing it in the worker's own process")
            return prepared_message(payload, key, timestamp, self.max_bytes)
        except Exception as error:
            log.error("preparing an article failed", exc_info=error)
            return dead_letter(payload, f"internal error while preparing: {error!r}", "process", key_text(key)), None, 0.0

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.processes, mp_context=multiprocessing.get_context("spawn"), initializer=start_child, initargs=(os.getpid(),)
        )

    def _replace_broken_pool(self) -> None:
        """Replace the pool if it is broken; the futures of a pool replaced already find a working one."""
        if self._pool is not None and getattr(self._pool, "_broken", False):
            log.error("a process preparing articles died; starting a new one")
            self.stop()
            self._pool = self._new_pool()
