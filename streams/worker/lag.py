"""Consumer lag and the counter log line: how far behind the worker is, and what it has done."""

from __future__ import annotations

import asyncio
import logging

from streams.kafka.topics import ARTICLES, PREPARED, STORY_PLACEMENTS
from streams.worker.context import WorkerContext

log = logging.getLogger(__name__)

_LAG_TOPICS = (ARTICLES, PREPARED, STORY_PLACEMENTS)  # the input topics, as the counter line names them


async def consumer_lag(ctx: WorkerContext) -> dict[str, int | None]:
    """Messages waiting for this worker per input topic: end offset minus next offset to process."""
    consumer = ctx.app.consumer
    inputs = {ctx.settings.topic(name): name for name in _LAG_TOPICS}
    held = [tp for tp in consumer.assignment() if tp.topic in inputs]
    lag: dict[str, int | None] = dict.fromkeys(_LAG_TOPICS, 0)
    if not held:
        return lag
    ends = await consumer.highwaters(*held)
    unknown = [tp for tp in held if tp not in ctx.next_offsets]
    # Partitions this worker has not processed anything from yet: measured from the last commit, else the start.
    committed = dict(ctx.app.monitor.tp_committed_offsets)
    starts = await consumer.earliest_offsets(*unknown) if unknown else {}
    for tp in held:
        position = ctx.next_offsets.get(tp, committed.get(tp, starts.get(tp)))
        end = ends.get(tp)
        name = inputs[tp.topic]
        if end is None or position is None or lag[name] is None:
            lag[name] = None
        else:
            lag[name] += max(0, end - position)
    return lag


async def report_counters(ctx: WorkerContext) -> None:
    """Measure the lag and log the counter line (every `stats_interval` seconds)."""
    try:
        ctx.counters.lag = await asyncio.wait_for(consumer_lag(ctx), timeout=max(5.0, ctx.settings.stats_interval))
    except Exception as error:  # the broker not answering must not stop the counter line
        log.info("could not measure consumer lag: %r", error, extra={"error": repr(error)})
        ctx.counters.lag = dict.fromkeys(_LAG_TOPICS)
    log_counters(ctx)


def log_counters(ctx: WorkerContext) -> None:
    """The counter line; at stop, with the last lag measured (the consumer is stopped by then)."""
    counters = ctx.counters
    counters.lag = counters.lag or dict.fromkeys(_LAG_TOPICS)
    log.info("counters %s", counters.describe(), extra={"counters": counters.as_dict()})
