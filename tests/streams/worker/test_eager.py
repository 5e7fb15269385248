"""The consumer's eager hand-over: `EagerFirst.wait_first` answers as mode's `wait_first` does, without its tasks
when the first coroutine waits for nothing."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import sys
import warnings

import mode
import pytest

from streams.worker.eager import EagerFirst


class Fetching(EagerFirst, mode.Service):
    """A service as faust's consumer is one, with the eager `wait_first`."""


SEEN = contextvars.ContextVar("seen", default="unset")


@pytest.fixture
def tasks_made(monkeypatch) -> list:
    made = []
    ensure_future = asyncio.ensure_future

    def counted(coro, **kwargs):
        made.append(coro)
        return ensure_future(coro, **kwargs)

    monkeypatch.setattr(asyncio, "ensure_future", counted)
    return made


async def test_a_delivery_held_by_nothing_wins_at_once_without_a_task(tasks_made):
    service, suspended = Fetching(), asyncio.Event()

    async def deliver():
        return "delivered"

    delivery = deliver()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = await service.wait_first(delivery, suspended.wait())
        gc.collect()
    assert (results.done, results.results, results.stopped) == ([delivery], ["delivered"], False)
    assert tasks_made == []  # mode's made four: the two coroutines, the stopped and the crashed events
    assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []


async def test_a_delivery_held_up_finishes_in_a_task_as_it_would_have():
    service, suspended, ebb = Fetching(), asyncio.Event(), asyncio.Event()
    steps = []

    async def deliver():
        steps.append("started")
        await asyncio.sleep(0)  # a bare yield, passed through to the task
        steps.append("waiting")
        await ebb.wait()
        steps.append("delivered")
        return 7

    delivery = deliver()
    waiting = asyncio.ensure_future(service.wait_first(delivery, suspended.wait()))
    for _ in range(5):
        await asyncio.sleep(0)
    assert steps == ["started", "waiting"] and not waiting.done()
    ebb.set()
    results = await waiting
    assert (results.done, results.results, results.stopped) == ([delivery], [7], False)
    assert steps == ["started", "waiting", "delivered"]


async def test_a_delivery_held_up_gives_way_when_the_flow_is_suspended():
    service, suspended, ebb = Fetching(), asyncio.Event(), asyncio.Event()
    outcome = []

    async def deliver():
        try:
            await ebb.wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        outcome.append("delivered")

    suspend = suspended.wait()
    waiting = asyncio.ensure_future(service.wait_first(deliver(), suspend))
    await asyncio.sleep(0)
    suspended.set()
    results = await waiting
    await asyncio.sleep(0)  # the losing delivery's cancellation is delivered on the next turn
    assert results.done == [suspend] and outcome == ["cancelled"]
    ebb.set()
    await asyncio.sleep(0)
    assert outcome == ["cancelled"]


@pytest.mark.parametrize("wait_first", [False, True], ids=["at once", "after waiting"])
async def test_a_delivery_that_fails_raises_its_error_from_wait_first(wait_first):
    service, suspended = Fetching(), asyncio.Event()

    async def deliver():
        if wait_first:
            await asyncio.sleep(0.01)
        raise KeyError("no channel")

    suspend = suspended.wait()
    with pytest.raises(KeyError, match="no channel"):
        await service.wait_first(deliver(), suspend)
    await asyncio.sleep(0)  # a losing task's cancellation is delivered on the next turn
    assert suspend.cr_frame is None  # closed, or cancelled: never left pending


async def test_what_a_delivery_sets_in_its_context_stays_in_its_own_as_in_a_task():
    service, suspended, ebb = Fetching(), asyncio.Event(), asyncio.Event()
    read_after_waiting = []

    async def deliver():
        SEEN.set("by the delivery")
        await ebb.wait()
        read_after_waiting.append(SEEN.get())

    waiting = asyncio.ensure_future(service.wait_first(deliver(), suspended.wait()))
    await asyncio.sleep(0)
    assert SEEN.get() == "unset"
    ebb.set()
    await waiting
    assert read_after_waiting == ["by the delivery"] and SEEN.get() == "unset"


async def test_a_caller_cancelled_while_the_delivery_waits_cancels_the_delivery():
    service, suspended, ebb = Fetching(), asyncio.Event(), asyncio.Event()
    outcome = []

    async def deliver():
        try:
            await ebb.wait()
        finally:
            outcome.append("finally")

    waiting = asyncio.ensure_future(service.wait_first(deliver(), suspended.wait()))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.sleep(0)
    assert outcome == ["finally"]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="3.11 has no eager tasks: its first step runs as the caller")
async def test_a_timeout_inside_a_delivery_times_out_the_delivery_not_the_fetch_loop():
    service, suspended, ebb = Fetching(), asyncio.Event(), asyncio.Event()

    async def deliver():
        try:
            async with asyncio.timeout(0.01):
                await ebb.wait()
        except TimeoutError:
            return "timed out"

    results = await service.wait_first(deliver(), suspended.wait())
    assert results.results == ["timed out"] and not asyncio.current_task().cancelling()
