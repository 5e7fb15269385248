"""zstd for storywire's Kafka clients, with its contexts kept from one record batch to the next.

aiokafka compresses and decompresses each record batch with cramjam's one-shot `zstd.compress` and
`zstd.decompress`, which set up a zstd context on every call: about 18 µs before the first byte, whatever the
batch's size. A worker at full speed compresses a batch per topic partition in every produce request, and a
quiet one sends batches of one or two messages, where setting up is most of the compressing. python-zstandard's
compressor and decompressor keep their contexts: under 1 µs for a small batch, the same level (3, aiokafka's,
Kafka's default), and frames any zstd reader reads.

aiokafka has no setting for it (users of its LZ4 replace its codec functions: aio-libs/aiokafka#1028), so
`keep_zstd_contexts` puts the two functions below where aiokafka's record batch builders and readers look theirs up.
"""

from __future__ import annotations

import importlib
import threading

import zstandard

LEVEL = 3  # aiokafka's level when none is given, after Kafka's default (KIP-390)
# The modules that call zstd_encode and zstd_decode by name: aiokafka's compiled record batches (the ones it uses
# where they are built for the platform), its pure-Python ones (AIOKAFKA_NO_EXTENSIONS, or none built) and its
# reader of the old message sets.
_USERS = ("aiokafka.record._crecords.default_records", "aiokafka.record.default_records", "aiokafka.protocol.message")
_contexts = threading.local()  # a context serves one call at a time: each thread has its own


def zstd_encode(payload, level: int | None = None) -> bytes:
    """aiokafka's `zstd_encode`, through this thread's compressor for the level."""
    compressors = _contexts.__dict__.setdefault("compressors", {})
    level = LEVEL if level is None else level
    compressor = compressors.get(level)
    if compressor is None:
        compressor = compressors[level] = zstandard.ZstdCompressor(level=level)
    return compressor.compress(payload)


def zstd_decode(payload) -> bytes:
    """aiokafka's `zstd_decode`, through this thread's decompressor, as cramjam reads: frame after frame, a frame
    written without its size (by a streaming writer, as some clients and tools are) too, and an incomplete frame
    (an empty payload, a cut one) refused."""
    decompressor = _contexts.__dict__.get("decompressor")
    if decompressor is None:
        decompressor = _contexts.decompressor = zstandard.ZstdDecompressor()
    read, rest = [], payload
    while True:
        frame = decompressor.decompressobj()  # one frame: its `eof` says whether the frame was whole
        read.append(frame.decompress(rest))
        if not frame.eof:
            raise zstandard.ZstdError("incomplete zstd frame")
        rest = frame.unused_data
        if not rest:
            return b"".join(read)


def keep_zstd_contexts() -> None:
    """Make aiokafka compress and decompress zstd batches with the functions above (once is enough; again is harmless)."""
    for name in _USERS:
        try:
            module = importlib.import_module(name)
        except ImportError:  # aiokafka's compiled record batches, where it has none for the platform
            continue
        module.zstd_encode = zstd_encode
        module.zstd_decode = zstd_decode
