"""Preparing in child processes: the same results as in-process, in the order given, through a child's death."""

from __future__ import annotations

import asyncio
import errno
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import orjson
import pytest

from schemas import DeadLetter, PreparedArticle
from streams.pipeline.clean.language import language_identifier
from streams.pipeline.features import idf
from streams.pipeline.prepare import prepare
from streams.worker import processes
from streams.worker.processes import Preparer

MAX_BYTES = 1_000_000


def payloads(n: int) -> list[bytes]:
    return [
        orjson.dumps({"id": f"a{i}", "title": f"Council meets over item {i}", "text": f"Ministers met on Monday over item {i}. " * 8})
        for i in range(n)
    ]


@pytest.fixture
async def pooled():
    preparer = Preparer(1, MAX_BYTES)
    await preparer.start()
    assert preparer._pool is not None  # the child started and prepared its first article
    yield preparer
    preparer.stop()


async def test_children_prepare_what_the_worker_would_and_hand_results_back_in_order(pooled):
    sent = payloads(12) + [b"\x00\x01 not text"]
    futures = [pooled.submit(payload, None, 1_700_000_000.0) for payload in sent]
    results = [await pooled.result(future, payload, None, 1_700_000_000.0) for future, payload in zip(futures, sent)]
    for (message, article_id, seconds), payload in zip(results[:-1], sent):
        expected = prepare(payload, None, 1_700_000_000.0, MAX_BYTES)
        assert PreparedArticle.from_bytes(message) == expected and article_id == expected.article.article_id
        assert seconds > 0
    letter, _, _ = results[-1]
    assert isinstance(letter, DeadLetter) and letter.stage == "decode"


async def test_payloads_submitted_while_the_children_are_busy_go_over_in_chunks():
    chunks = []
    pooled = Preparer(1, MAX_BYTES, chunks.append)  # told each chunk's size, as the worker's metric is
    await pooled.start()
    sent = payloads(2 * processes.CHUNK + 40)
    try:
        futures = [pooled.submit(payload, None, 0.0) for payload in sent]
        results = [await pooled.result(future, payload, None, 0.0) for future, payload in zip(futures, sent)]
    finally:
        pooled.stop()
    assert [article_id for _, article_id, _ in results] == [f"a{i}" for i in range(len(sent))]
    assert chunks == [1, 1, processes.CHUNK, processes.CHUNK, 38]  # not one by one


async def test_articles_not_handed_over_yet_go_to_the_pool_that_replaces_a_broken_one(pooled):
    sent = payloads(5)
    futures = [pooled.submit(payload, None, 0.0) for payload in sent]
    assert len(pooled._chunk) == 3  # two chunks went at once; three articles wait for one to come back
    pooled._pool._broken = "a child died"  # as the executor marks a pool whose child died
    pooled._replace_broken_pool()
    waiting = [await future for future in futures[2:]]
    assert [article_id for _, article_id, _ in waiting] == ["a2", "a3", "a4"]


async def test_articles_are_prepared_in_the_workers_own_process_when_no_child_can_start(pooled, monkeypatch):
    class OutOfMemory:
        def submit(self, *args):
            raise OSError(errno.ENOMEM, "Cannot allocate memory")

        def shutdown(self, **options):
            pass

    sent = payloads(3)
    futures = [pooled.submit(payload, None, 0.0) for payload in sent]  # the third waits for the next chunk
    pooled._pool._broken = "a child died"
    monkeypatch.setattr(pooled, "_new_pool", OutOfMemory)
    results = [await asyncio.wait_for(pooled.result(f, p, None, 0.0), 30) for f, p in zip(futures, sent)]
    assert [article_id for _, article_id, _ in results] == ["a0", "a1", "a2"]


def test_a_bug_in_one_article_of_a_chunk_is_that_articles_result_alone(monkeypatch):
    """`prepare_many` gives a bug as its article's result (tests/streams/pipeline); the child passes it on in its
    place and encodes the others."""
    sent = payloads(3)
    prepared = [(prepare(payload, None, 0.0, MAX_BYTES), 0.25) for payload in sent]
    monkeypatch.setattr(processes, "prepare_many", lambda work, max_bytes: [prepared[0], (ValueError("a bug"), 0.5), prepared[2]])
    results = processes.prepared_messages([(payload, None, 0.0) for payload in sent], MAX_BYTES)
    assert isinstance(results[1], ValueError)
    assert [result[1:] for result in (results[0], results[2])] == [("a0", 0.25), ("a2", 0.25)]
    assert PreparedArticle.from_bytes(results[2][0]) == prepared[2][0]


async def test_every_child_is_started_and_warm_before_the_first_article():
    preparer = Preparer(2, MAX_BYTES)
    await preparer.start()
    try:
        assert len(preparer._pool._processes) == 2  # the pool starts children on demand: one, unless asked twice
    finally:
        preparer.stop()


def test_warming_up_loads_the_language_model_and_word_lists_before_the_first_article():
    language_identifier.cache_clear()
    idf.cache_clear()
    processes.warm_up()
    assert language_identifier.cache_info().currsize == 1  # the warm-up article alone would not load it
    assert idf.cache_info().currsize > 0


async def test_a_child_that_dies_is_replaced_and_no_article_is_lost(pooled):
    sent = payloads(6)
    futures = [pooled.submit(payload, None, 0.0) for payload in sent[:3]]
    for pid in list(pooled._pool._processes):  # the child is killed (out of memory, an operator) mid-work
        os.kill(pid, signal.SIGKILL)
    futures += [pooled.submit(payload, None, 0.0) for payload in sent[3:]]
    results = [await pooled.result(future, payload, None, 0.0) for future, payload in zip(futures, sent)]
    assert [article_id for _, article_id, _ in results] == [f"a{i}" for i in range(6)]


async def test_a_bug_in_the_pure_work_is_a_dead_letter_not_a_stopped_worker(monkeypatch):
    def broken(*args):
        raise ValueError("a bug")

    monkeypatch.setattr(processes, "prepared_message", broken)
    preparer = Preparer(0, MAX_BYTES)  # in-process: the patched function is the one that runs
    letter, article_id, _ = await preparer.result(preparer.submit(b'{"text": "x"}', b"k1", 0.0), b'{"text": "x"}', b"k1", 0.0)
    assert isinstance(letter, DeadLetter) and "a bug" in letter.reason and letter.article_id == "k1"


async def test_children_that_cannot_start_leave_the_worker_preparing_in_its_own_process(monkeypatch, caplog):
    def failing_pool(self):  # as when a child's interpreter cannot import the worker's main module
        return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=sys.exit, initargs=(3,))

    monkeypatch.setattr(Preparer, "_new_pool", failing_pool)
    preparer = Preparer(1, MAX_BYTES)
    await preparer.start()
    assert preparer._pool is None and "could not start" in caplog.text
    payload = payloads(1)[0]
    message, article_id, _ = await preparer.result(preparer.submit(payload, None, 0.0), payload, None, 0.0)
    assert article_id == "a0" and PreparedArticle.from_bytes(message).article.article_id == "a0"


def test_a_child_exits_when_its_worker_is_killed(tmp_path):
    """A worker killed with SIGKILL leaves no child behind, waiting for work forever."""
    script = tmp_path / "worker.py"
    script.write_text(
        "import asyncio, os, sys, time\n"
        "from streams.worker.processes import Preparer\n"
        "async def main():\n"
        "    preparer = Preparer(1, 1000)\n"
        "    await preparer.start()\n"
        "    print(*preparer._pool._processes, flush=True)\n"
        "    time.sleep(60)\n"
        "if __name__ == '__main__':\n"
        "    asyncio.run(main())\n"
    )
    worker = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    child = int(worker.stdout.readline())
    os.kill(child, 0)  # alive
    worker.kill()
    worker.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.2)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie (exited, not yet reaped by init) is gone too
        return stat.read().split(") ")[1][0] != "Z"
