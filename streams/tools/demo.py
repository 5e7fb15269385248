"""`storywire demo`: the whole pipeline in one command, on its own topics, cleaned up afterwards."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from streams.tools.broker import local_kafka, wait_for_broker
from streams.kafka.read import current_state
from streams.kafka.replay import replay
from streams.settings import Settings

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


class DemoFailed(Exception):
    pass


def start_worker(settings: Settings, log_path: Path) -> subprocess.Popen:
    """The real worker, as a separate process, on the demo's own topics."""
    env = {
        **os.environ,
        "STORYWIRE_BROKER": settings.bootstrap,
        "STORYWIRE_TOPIC_PREFIX": settings.topic_prefix,
        "STORYWIRE_HOME": str(settings.home),
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT
        )


def stop_worker(worker: subprocess.Popen, timeout: float = 30.0) -> None:
    """SIGTERM first, so the worker commits its offsets and flushes its tables."""
    if worker.poll() is not None:
        return
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()


def outcomes(state: dict) -> int:
    """Articles the worker has finished with: each appended an entry, was a duplicate, or was dead-lettered."""
    entries = sum(len(story["changelog"]) for story in state["stories"])
    return entries + len(state["duplicates"]) + len(state["dead_letters"])


async def wait_for_outcomes(settings: Settings, expected: int, worker: subprocess.Popen, timeout: float, progress) -> dict:
    deadline = time.monotonic() + timeout
    last = -1
    while True:
        state = await current_state(settings)
        done = outcomes(state)
        if done != last:
            progress(f"processed {done}/{expected} articles")
            last = done
        if done >= expected:
            return state
        if worker.poll() is not None:
            raise DemoFailed(f"the worker exited with code {worker.returncode}")
        if time.monotonic() > deadline:
            raise DemoFailed(f"only {done} of {expected} articles processed after {timeout:.0f}s")
        await asyncio.sleep(0.5)


@asynccontextmanager
async def broker_for(base: Settings, progress) -> AsyncIterator[Settings]:
    """The given broker, the local one if it already runs, or a local one started now and stopped after."""
    if base.broker is not None:
        await wait_for_broker(base.bootstrap, 15)
        yield base
        return
    broker = local_kafka(base)
    if broker.status()["running"]:  # someone else's: leave it running afterwards
        yield base.model_copy(update={"broker": base.local_bootstrap})
        return
    progress("starting a local Kafka broker")
    bootstrap = broker.up(progress=progress)
    try:
        yield base.model_copy(update={"broker": bootstrap})
    finally:
        progress("stopping the local Kafka broker")
        broker.down()


@asynccontextmanager
async def running_worker(settings: Settings, progress) -> AsyncIterator[tuple[subprocess.Popen, Path]]:
    """A worker on the settings' topics, stopped (and its local table state removed) afterwards."""
    log_path = settings.home / "logs" / f"{settings.topic_prefix}.log"
    worker = start_worker(settings, log_path)
    progress(f"worker started (log: {log_path})")
    try:
        yield worker, log_path
    finally:
        stop_worker(worker)
        shutil.rmtree(settings.worker_dir, ignore_errors=True)


def fresh_topics(base: Settings, purpose: str) -> Settings:
    """Settings on topics no earlier run has used."""
    return base.model_copy(update={"topic_prefix": f"{base.topic_prefix}-{purpose}-{uuid.uuid4().hex[:8]}"})


async def run_once(base: Settings, paths: list[Path], progress, timeout: float, purpose: str) -> tuple[dict, Settings, int]:
    """On fresh topics: a broker if none is given, a worker, a replay of the paths, a wait for every
    article, then stop. Returns the state read back, the settings used and how many articles were sent."""
    async with broker_for(fresh_topics(base, purpose), progress) as settings:
        async with running_worker(settings, progress) as (worker, log_path):
            summary = await replay(paths, settings, progress=progress)
            progress(f"replayed {summary.sent} articles")
            try:
                state = await wait_for_outcomes(settings, summary.sent, worker, timeout, progress)
            except DemoFailed as failure:
                tail = log_path.read_text(errors="replace").splitlines()[-15:]
                raise DemoFailed(f"{failure}; last lines of {log_path}:\n" + "\n".join(tail)) from None
    return state, settings, summary.sent


async def run_demo(base: Settings, paths: list[Path], progress, timeout: float = 180.0) -> dict:
    """`storywire demo`: the stories, duplicates and dead letters of one run over the paths."""
    state, _, _ = await run_once(base, paths, progress, timeout, "demo")
    return state
