"""Acks in offset order per partition, whatever order the broker confirms outputs in. Plain asyncio, no faust."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable


class InOrderAcks:
    """Acks each partition's messages in offset order, as their outputs are confirmed in whatever order.

    faust commits past an unacked message once the message after it is acked (its gap check is off by
    one, and skipped for a new group), so no message may be acked before every earlier one of its partition.
    """

    def __init__(self, stream, on_acked: Callable[[object], None] = lambda event: None) -> None:
        self.stream = stream
        self.on_acked = on_acked
        self.waiting: dict = defaultdict(deque)  # partition -> [event, confirmed] in offset order

    def expect(self, event) -> list:
        entry = [event, False]
        self.waiting[event.message.tp].append(entry)
        return entry

    async def confirmed(self, entry: list) -> None:
        entry[1] = True
        queue = self.waiting[entry[0].message.tp]
        while queue and queue[0][1]:
            event, _ = queue.popleft()
            await self.stream.ack(event)
            self.on_acked(event)

    def forget(self, partitions) -> None:
        """Revoked partitions: their unconfirmed messages are another worker's (or the next start's) to redo."""
        for tp in partitions:
            self.waiting.pop(tp, None)
