"""Eager hand-over of fetched messages: faust's fetch loop without a task per message.

faust's fetch loop hands every message to its streams with `wait_first(deliver(message), suspend_flow.wait())`,
so that a delivery held up (flow control stopped for a rebalance, the producer's buffer full, a stream's
buffer full) gives way when the flow is suspended. mode's `wait_first` makes a task of each of the two and of
the service's stopped and crashed events, then cancels the three that lose: 31 µs a message, where the delivery
itself takes 0.5 µs, and a turn of the event loop each.

Here the delivery is started eagerly: run at once, up to the first thing it waits for. Almost always nothing
holds it, it finishes there, and it has won. One that must wait is raced against the others as mode races it,
continued in a task of its own. On Python 3.12 and later that is the standard library's eager task. Python 3.11
has none, so its first step is run by hand, in a copy of the context as a task's would be; during that step the
current task is the fetch loop's, so code there that acts on the current task (`asyncio.timeout`) would act on the
fetch loop. faust's delivery does not (on 3.11 its `wait_for` cancels what it waits for, not the current task).
"""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Coroutine, Generator
from typing import Any

from mode.services import WaitResults


class EagerFirst:
    """A mode service whose `wait_first` starts its first coroutine eagerly (the worker's consumer is one)."""

    async def wait_first(self, *coros: Any, timeout: float | None = None) -> WaitResults:
        first = coros[0] if coros else None
        if not asyncio.iscoroutine(first):
            return await super().wait_first(*coros, timeout=timeout)
        try:
            started = start_eagerly(first)
        except BaseException:
            _close(coros[1:])
            raise
        if started.done():
            _close(coros[1:])
            value = started.result()  # the delivery's error, raised here as mode's wait_first raises it
            if self.should_stop or self.crashed:
                return WaitResults([], [], True)
            return WaitResults([first], [value], False)
        results = await super().wait_first(started, *coros[1:], timeout=timeout)
        return results._replace(done=[first if done is started else done for done in results.done])


def start_eagerly(coro: Coroutine) -> asyncio.Future:
    """The coroutine run at once up to its first wait: a future that is done if it finished there (or raised
    there, on 3.11), else the task that goes on with it."""
    loop = asyncio.get_running_loop()
    if sys.version_info >= (3, 12):
        return asyncio.eager_task_factory(loop, coro)
    context = contextvars.copy_context()
    try:
        awaited = context.run(coro.send, None)
    except StopIteration as finished:
        done = loop.create_future()
        done.set_result(finished.value)
        return done
    return loop.create_task(_rest(coro, awaited), context=context)


def _close(coros: tuple) -> None:
    """Close the coroutines that were never run (else each warns that it was never awaited)."""
    for coro in coros:
        if asyncio.iscoroutine(coro):
            coro.close()


async def _rest(coro: Coroutine, awaited: object) -> Any:
    return await _Continued(coro, awaited)


class _Continued:
    """The rest of a coroutine run up to `awaited` (the future it waits for, or None for a bare yield): the task
    that awaits it waits for what the coroutine waits for and passes results, exceptions and cancellation on
    to it, as `yield from` passes them to a coroutine not yet started."""

    def __init__(self, coro: Coroutine, awaited: object) -> None:
        self.coro, self.awaited = coro, awaited

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, awaited = self.coro, self.awaited
        while True:
            try:
                sent = yield awaited
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as thrown:
                step, value = coro.throw, thrown
            else:
                step, value = coro.send, sent
            try:
                awaited = step(value)
            except StopIteration as finished:
                return finished.value
