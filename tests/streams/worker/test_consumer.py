"""The consumer's eager hand-over: `EagerFirst.wait_first` answers as mode's `wait_first` does, without its tasks
when the first coroutine waits for nothing."""

from __future__ import annotations

import asyncio
import gc
import warnings

import mode
import pytest

from streams.worker.consumer import EagerFirst


class Fetching(EagerFirst, mode.Service):
    """A service as faust's consumer is one, with the eager `wait_first`."""


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
