"""The worker's consumer: faust's aiokafka consumer, with fetches the broker holds for FETCH_MAX_WAIT_MS at most.

aiokafka keeps one fetch in flight per broker, and faust has the broker hold a fetch of partitions with no new
data for up to 1.5 s (its value, not a setting). Until that fetch comes back, no other partition on the broker
is fetched. So once the place stage had taken every prepared article fetched, it sat idle while a fetch of the
raw partitions, all read already, waited at the broker: in a timeline of an end-to-end run, the worker's
process idled at 12-16 % of a core for a second at a time while prepared articles piled up on the broker.

It also hands each fetched message to its stream eagerly (`EagerFirst`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

import aiokafka
import faust
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer
from mode.services import WaitResults

# Long enough that an idle worker's fetches cost the broker next to nothing (ten a second), short enough that a
# partition whose records were all taken is fetched again soon.
FETCH_MAX_WAIT_MS = 100


class PromptConsumerThread(AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when it starts (faust passes 1,500)
        return consumer


class EagerFirst:
    """A service whose `wait_first` runs its first coroutine at once, up to the first thing it waits for.

    faust's fetch loop hands every message to its streams with `wait_first(deliver(message),
    suspend_flow.wait())`, so that a delivery held up (flow control stopped for a rebalance, the producer's
    buffer full, a stream's buffer full) gives way when the flow is suspended. mode's `wait_first` makes a task
    of each of the two and of the service's stopped and crashed events, then cancels the three that lose: 31 µs
    a message, where the delivery itself takes 0.5 µs. Almost always the delivery is held by nothing and
    finishes in that first run, and it has won. One that must wait is raced against the others as faust
    races it, continued in a task from where it stopped (`_Continued`). Python 3.12's eager tasks do the same.
    """

    async def wait_first(self, *coros: Any, timeout: float | None = None) -> WaitResults:
        first = coros[0] if coros else None
        if not asyncio.iscoroutine(first):
            return await super().wait_first(*coros, timeout=timeout)
        try:
            awaited = first.send(None)
        except StopIteration as finished:
            _close(coros[1:])
            if self.should_stop or self.crashed:
                return WaitResults([], [], True)
            return WaitResults([first], [finished.value], False)
        except BaseException:
            _close(coros[1:])
            raise
        continued = _Continued(first, awaited)
        results = await super().wait_first(continued, *coros[1:], timeout=timeout)
        return results._replace(done=[first if done is continued else done for done in results.done])


def _close(coros: tuple) -> None:
    """Close the coroutines that were never run (else each warns that it was never awaited)."""
    for coro in coros:
        if asyncio.iscoroutine(coro):
            coro.close()


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


class PromptConsumer(EagerFirst, Consumer):
    def _new_consumer_thread(self) -> PromptConsumerThread:
        return PromptConsumerThread(self, loop=self.loop, beacon=self.beacon)


def use_prompt_consumer(app: faust.App) -> None:
    """Make the app's consumer (both agents' input and the tables' recovery) fetch promptly; call before it starts."""
    app.transport.Consumer = PromptConsumer
