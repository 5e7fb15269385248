"""The prepare stage's acks: in offset order per partition, whatever order the broker confirms in."""

from types import SimpleNamespace

from streams.worker.acks import InOrderAcks


class RecordingStream:
    def __init__(self) -> None:
        self.acked: list[tuple[str, int]] = []

    async def ack(self, event) -> None:
        self.acked.append((event.message.tp, event.message.offset))


def event(tp: str, offset: int):
    return SimpleNamespace(message=SimpleNamespace(tp=tp, offset=offset))


async def test_a_message_is_acked_only_after_every_earlier_one_of_its_partition():
    stream = RecordingStream()
    acks = InOrderAcks(stream)
    first, second, third = (acks.expect(event("p0", n)) for n in (0, 1, 2))
    other = acks.expect(event("p1", 0))
    await acks.confirmed(third)
    await acks.confirmed(second)
    await acks.confirmed(other)
    assert stream.acked == [("p1", 0)]  # p0's first output is not confirmed: nothing of p0 is acked
    await acks.confirmed(first)
    assert stream.acked == [("p1", 0), ("p0", 0), ("p0", 1), ("p0", 2)]


async def test_a_revoked_partition_is_forgotten_and_its_late_confirmations_ack_nothing():
    stream = RecordingStream()
    acks = InOrderAcks(stream)
    stale = acks.expect(event("p0", 5))
    acks.forget(["p0"])
    fresh = acks.expect(event("p0", 3))  # reassigned: redelivered from the committed offset
    await acks.confirmed(stale)
    assert stream.acked == []
    await acks.confirmed(fresh)
    assert stream.acked == [("p0", 3)]
