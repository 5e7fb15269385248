"""zstd with kept contexts: put in place of aiokafka's codec where its record batches call it, frames any zstd
reader reads (cramjam's, and the broker's), read back as cramjam reads them, one context per thread."""

from __future__ import annotations

import asyncio
import threading

import aiokafka.record.default_records as records
import cramjam
import pytest
import zstandard
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.kafka import compression
from streams.kafka.connection import client_options
from streams.settings import Settings

ZSTD = 4  # Kafka's codec number for zstd in a record batch's attributes
PAYLOAD = b'{"story_id": "s-1", "version": 3, "label": "A council meets"}' * 40


@pytest.mark.parametrize(
    "builder, reader",
    [
        (records._DefaultRecordBatchBuilderCython, records._DefaultRecordBatchCython),  # the ones aiokafka uses
        (records._DefaultRecordBatchBuilderPy, records._DefaultRecordBatchPy),  # AIOKAFKA_NO_EXTENSIONS
    ],
)
def test_every_client_compresses_and_reads_record_batches_with_kept_contexts(builder, reader):
    """In a thread of its own, so that the contexts it finds made are the ones aiokafka's batches used."""
    client_options(Settings())
    found: dict = {}

    def build_and_read() -> None:
        batch = builder(
            magic=2, compression_type=ZSTD, is_transactional=False, producer_id=-1, producer_epoch=-1, base_sequence=-1,
            batch_size=1 << 20,
        )
        for offset in range(30):
            batch.append(offset, timestamp=None, key=b"k%d" % offset, value=PAYLOAD + b"%d" % offset, headers=[])
        read = reader(bytes(batch.build()))
        found["compression"], found["values"] = read.compression_type, [record.value for record in read]
        found["contexts"] = dict(compression._contexts.__dict__)

    thread = threading.Thread(target=build_and_read)
    thread.start()
    thread.join()
    assert found["compression"] == ZSTD
    assert found["values"] == [PAYLOAD + b"%d" % offset for offset in range(30)]
    assert set(found["contexts"]) == {"compressors", "decompressor"}


def test_frames_are_zstd_as_cramjam_reads_it():
    assert bytes(cramjam.zstd.decompress(compression.zstd_encode(PAYLOAD))) == PAYLOAD
    assert bytes(cramjam.zstd.decompress(compression.zstd_encode(PAYLOAD, level=9))) == PAYLOAD
    assert len(compression.zstd_encode(PAYLOAD)) < len(PAYLOAD) / 10


def test_reads_what_cramjam_reads_frames_without_their_size_and_several_frames():
    unsized = zstandard.ZstdCompressor(write_content_size=False).compress(PAYLOAD)
    two = bytes(cramjam.zstd.compress(PAYLOAD)) + bytes(cramjam.zstd.compress(b"and more"))
    for frames in (unsized, two, bytes(cramjam.zstd.compress(b""))):
        assert compression.zstd_decode(frames) == bytes(cramjam.zstd.decompress(frames))
    assert compression.zstd_decode(two) == PAYLOAD + b"and more"


@pytest.mark.parametrize("cut", [b"", bytes(cramjam.zstd.compress(PAYLOAD))[:-3], bytes(cramjam.zstd.compress(PAYLOAD))[:5]])
def test_an_incomplete_frame_is_refused_as_cramjam_refuses_it(cut: bytes):
    with pytest.raises(cramjam.DecompressionError):
        cramjam.zstd.decompress(cut)
    with pytest.raises(zstandard.ZstdError, match="incomplete"):
        compression.zstd_decode(cut)


def test_each_thread_has_its_own_contexts():
    used: dict[str, tuple] = {}

    def work(name: str) -> None:
        for number in range(200):
            data = PAYLOAD + name.encode() * number
            assert compression.zstd_decode(compression.zstd_encode(data)) == data
        used[name] = (compression._contexts.compressors[compression.LEVEL], compression._contexts.decompressor)

    threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(used) == 4
    assert len({id(pair[0]) for pair in used.values()}) == 4 and len({id(pair[1]) for pair in used.values()}) == 4


async def test_the_broker_takes_and_serves_its_batches(settings: Settings):
    """The broker checks every record of a compressed batch it is sent (it reads the frames in Java)."""
    topic = settings.topic("zstd")
    producer = AIOKafkaProducer(**client_options(settings), compression_type="zstd", linger_ms=20)
    await producer.start()
    try:
        sent = [PAYLOAD + b"%d" % n for n in range(300)]
        for value in sent:
            await producer.send(topic, value)
        await producer.flush()
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, **client_options(settings), auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        read: list[bytes] = []
        async with asyncio.timeout(60):
            while len(read) < len(sent):
                for batch in (await consumer.getmany(timeout_ms=10_000)).values():
                    read.extend(record.value for record in batch)
    finally:
        await consumer.stop()
    assert read == sent
