"""Preparing in child processes: the pure per-article work on cores of its own.

One Python process prepares about 400 articles/s, and the place stage, which must see every story, runs in
the worker's own process. With `prepare_processes` > 0 the worker hands raw payloads to that many child
processes, so preparing no longer takes the core that placing needs. Results are taken back in the order
the payloads were given, so the place stage sees the order it would without the children (a replay on one
partition stays deterministic). Children are spawned, not forked: the worker has threads by then.
Plain asyncio and concurrent.futures, no faust, so a child imports none of the wiring.

Payloads are handed over in chunks, as a group commit: while each child has two chunks to work on, the
payloads submitted meanwhile gather into the next chunk (up to CHUNK), which goes when a chunk comes back.
A quiet stream's article goes alone, at once; a busy stream's gather into chunks of up to CHUNK. Handed over
one by one, each article cost the worker's own process a pickling, a pipe write, a result read and a wake-up
of its event loop, in the executor's threads, which also took the interpreter lock from the loop. A child
takes a chunk through preparing's stages together (`prepare_many`), which also costs it less per article.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import orjson

from schemas import DeadLetter, PreparedArticle
from streams.pipeline.clean.language import language_identifier
from streams.pipeline.prepare import internal_error, prepare, prepare_many

log = logging.getLogger(__name__)

# (the prepared article's bytes and id, or a dead letter; seconds it took)
Prepared = tuple[bytes | DeadLetter, str | None, float]

# Articles handed to a child at once, at most: enough that the hand-over costs little per article and that a
# chunk's stages run over many (`prepare_many`), few enough that the first article of a chunk does not wait long
# for the last (a chunk's results come back together: 128 take the child about 0.1 s). Only a busy stream fills
# a chunk: at 100 articles/s they are one or two. End to end, 128 against 32 and 64: docs/performance-log.md.
CHUNK = 128

_WARM_UP = orjson.dumps({"title": "Ministers meet in Brussels", "text": "Ministers met in Brussels on Monday. " * 20})


def prepared_message(payload: bytes | None, key: bytes | None, timestamp: float, max_bytes: int) -> Prepared:
    """`prepare`, with the result already encoded: what a child sends back (bytes travel cheaply)."""
    started = time.perf_counter()
    return _encoded(prepare(payload, key, timestamp, max_bytes), time.perf_counter() - started)


def prepared_messages(work: list[tuple[bytes | None, bytes | None, float]], max_bytes: int) -> list[Prepared | Exception]:
    """A chunk's `prepared_message`s, in a child, prepared together (`prepare_many`); a bug in one article's work
    is that article's result, so it does not take the rest of the chunk with it."""
    results: list[Prepared | Exception] = []
    for result, seconds in prepare_many(work, max_bytes):
        try:
            results.append(result if isinstance(result, Exception) else _encoded(result, seconds))
        except Exception as error:  # encoding it met a bug
            results.append(error)
    return results


def _encoded(result: PreparedArticle | DeadLetter, seconds: float) -> Prepared:
    if isinstance(result, DeadLetter):
        return result, None, seconds
    return result.to_bytes(), result.article.article_id, seconds


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

    def __init__(self, processes: int, max_bytes: int, on_chunk: Callable[[int], None] = lambda articles: None) -> None:
        self.processes = processes
        self.max_bytes = max_bytes
        self.on_chunk = on_chunk  # told each chunk's size as it is handed over (the worker's metric)
        self._pool: ProcessPoolExecutor | None = None
        self._chunk: list[tuple[tuple[bytes | None, bytes | None, float], asyncio.Future]] = []  # not handed over yet
        self._handed = 0  # chunks handed over and not back yet

    async def start(self) -> None:
        """Start the children and wait until they have prepared a first article; or warm up this process."""
        if self.processes:
            self._pool = self._new_pool()
            try:  # a warm-up per child: the pool starts a child per task it cannot give to an idle one
                await asyncio.gather(*(asyncio.wrap_future(self._pool.submit(warm_up)) for _ in range(self.processes)))
                log.info("child processes preparing articles: %d", self.processes, extra={"processes": self.processes})
                return
            except Exception as error:
                log.error("child processes to prepare articles in could not start (%r); preparing in the worker's "
                          "own process", error, extra={"error": repr(error)})
                self.stop()
        warm_up()

    def stop(self) -> None:
        self._shut_down_pool()
        for _, done in self._chunk:
            done.cancel()
        self._chunk = []

    def _shut_down_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def submit(self, payload: bytes | None, key: bytes | None, timestamp: float) -> asyncio.Future:
        """Start preparing one payload; the future's result is a `Prepared`. A child gets it now, or in the
        next chunk if the children are busy (see the module docstring)."""
        done = asyncio.get_running_loop().create_future()
        if self._pool is not None:
            self._chunk.append(((payload, key, timestamp), done))
            if self._handed < 2 * self.processes or len(self._chunk) >= CHUNK:
                self._hand_over()
            return done
        try:
            done.set_result(prepared_message(payload, key, timestamp, self.max_bytes))
        except Exception as error:  # a bug: `result` makes it a dead letter
            done.set_exception(error)
        return done

    def _hand_over(self) -> None:
        """Hand the chunk to a child; each article's future gets its own result, or the chunk's failure (a
        child that died: `result` prepares the article again)."""
        chunk, self._chunk = self._chunk, []
        self.on_chunk(len(chunk))
        try:
            handed = self._submit([args for args, _ in chunk])
        except Exception as error:  # not even a new child could start (out of memory, say): `result` tries again
            failure = BrokenProcessPool(f"no process to prepare articles in: {error!r}")
            for _, done in chunk:
                if not done.done():
                    done.set_exception(failure)
            return
        self._handed += 1
        asyncio.wrap_future(handed).add_done_callback(lambda finished: self._returned(finished, [done for _, done in chunk]))

    def _submit(self, work: list[tuple[bytes | None, bytes | None, float]]) -> Future:
        try:
            return self._pool.submit(prepared_messages, work, self.max_bytes)
        except BrokenProcessPool:  # a child died since the last chunk
            self._replace_broken_pool()
            return self._pool.submit(prepared_messages, work, self.max_bytes)

    def _returned(self, finished: asyncio.Future, futures: list[asyncio.Future]) -> None:
        """A chunk is back: its articles get their results, and what gathered meanwhile is handed over."""
        self._handed -= 1
        _settle(finished, futures)
        if self._chunk and self._pool is not None:
            self._hand_over()

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
            return internal_error(payload, key, error), None, 0.0

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.processes, mp_context=multiprocessing.get_context("spawn"), initializer=start_child, initargs=(os.getpid(),)
        )

    def _replace_broken_pool(self) -> None:
        """Replace the pool if it is broken; the futures of a pool replaced already find a working one."""
        if self._pool is not None and getattr(self._pool, "_broken", False):
            log.error("a process preparing articles died; starting a new one")
            self._shut_down_pool()  # the articles not handed over yet go to the new one
            self._pool = self._new_pool()


def _settle(finished: asyncio.Future, futures: list[asyncio.Future]) -> None:
    """Pass a chunk's results, or its failure, on to its articles' futures."""
    if finished.cancelled():
        for done in futures:
            done.cancel()
        return
    failure = finished.exception()
    results = [failure] * len(futures) if failure is not None else finished.result()
    for done, result in zip(futures, results):
        if done.done():
            continue
        if isinstance(result, BaseException):
            done.set_exception(result)
        else:
            done.set_result(result)
