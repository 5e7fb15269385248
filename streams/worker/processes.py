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
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import orjson

from schemas import DeadLetter
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
    """Load the language model and word lists now, not on the first article (whose latency they would be)."""
    prepare(_WARM_UP, None, 0.0, len(_WARM_UP))


class Preparer:
    """Prepares payloads in `processes` children (0: in the calling process), handing back futures to be
    awaited in the order they were made. A child that dies (killed, out of memory) breaks the pool: it is
    replaced, and each article it held is prepared once more, alone; one that breaks it again is dead-lettered."""

    def __init__(self, processes: int, max_bytes: int) -> None:
        self.processes = processes
        self.max_bytes = max_bytes
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        if self.processes == 0:
            warm_up()
            return
        self._pool = ProcessPoolExecutor(
            self.processes, mp_context=multiprocessing.get_context("spawn"), initializer=warm_up
        )
        log.info("preparing articles in %d child processes", self.processes, extra={"processes": self.processes})

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def submit(self, payload: bytes | None, key: bytes | None, timestamp: float) -> asyncio.Future:
        """Start preparing one payload; the future's result is a `Prepared`."""
        if self._pool is None:
            done = asyncio.get_running_loop().create_future()
            try:
                done.set_result(prepared_message(payload, key, timestamp, self.max_bytes))
            except Exception as error:  # a bug: `result` makes it a dead letter
                done.set_exception(error)
            return done
        try:
            return asyncio.wrap_future(self._pool.submit(prepared_message, payload, key, timestamp, self.max_bytes))
        except BrokenProcessPool:  # a child died since the last submit
            self._replace_broken_pool()
            return asyncio.wrap_future(self._pool.submit(prepared_message, payload, key, timestamp, self.max_bytes))

    async def result(self, future: asyncio.Future, payload: bytes | None, key: bytes | None, timestamp: float) -> Prepared:
        """The future's result; if its child died, the payload once more in a new pool, then a dead letter. A bug
        in the pure work is a dead letter too: it must not stop the worker."""
        try:
            try:
                return await future
            except BrokenProcessPool:
                self._replace_broken_pool()
            try:
                return await self.submit(payload, key, timestamp)
            except BrokenProcessPool:
                self._replace_broken_pool()
                reason = "the process preparing this article died on it twice (see the worker's log)"
        except Exception as error:
            log.error("preparing an article failed", exc_info=error)
            reason = f"internal error while preparing: {error!r}"
        return dead_letter(payload, reason, "process", key_text(key)), None, 0.0

    def _replace_broken_pool(self) -> None:
        """Replace the pool if it is broken; the futures of a pool replaced already find a working one."""
        if self._pool is not None and getattr(self._pool, "_broken", False):
            log.error("a process preparing articles died; starting a new one")
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            self.start()
