"""The worker's producer: faust's aiokafka producer with idempotence on, so the place stage can pipeline.

faust turns idempotence on only inside transactions (exactly-once), which storywire does not use (see
../shared/notes). Without it, a batch that fails and is retried may be written twice, and a batch can expire
after `request_timeout` while the ones after it are written, which would leave a gap in a story's versions
once sends no longer wait for each other. With it, aiokafka retries a batch until the broker has it, never
writes it twice, and sends one request per broker at a time with each partition's batches in order: what
is handed to the producer lands in that order, or, after a crash, as a prefix of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers.aiokafka import Producer


class IdempotentProducer(Producer):
    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


def use_idempotent_producer(app: faust.App) -> None:
    """Make the app's producer (its agents' sends and its tables' changelogs alike) idempotent; call before it
    starts."""
    app.transport.Producer = IdempotentProducer
