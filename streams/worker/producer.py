"""The worker's producer: faust's aiokafka producer with idempotence on, and room for a batch's changelog writes.

faust turns idempotence on only inside transactions (exactly-once), which storywire does not use (see
../shared/notes). Without it, a batch that fails and is retried may be written twice, and a batch can expire
after `request_timeout` while the ones after it are written. With it, aiokafka retries a batch until the
broker has it and never writes it twice, and each partition's batches land in the order they were sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import faust
from faust.transport.drivers.aiokafka import Producer

# faust holds back every partition's next message while its buffer of table changelog writes has more than
# `max_messages` (100 by default), until that many are handed to aiokafka. The place stage writes a batch's tables
# in phases of up to a few thousand keys and waits for each phase itself, so at 100 that pause only stalled the
# delivery of both stages' input: 73 pauses, 4.9 s of a 26 s run of 8,000 articles. It stays as a guard against a
# buffer that grows without end.
CHANGELOG_BUFFER_MESSAGES = 100_000


class IdempotentProducer(Producer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.buffer.max_messages = CHANGELOG_BUFFER_MESSAGES

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


def use_idempotent_producer(app: faust.App) -> None:
    """Make the app's producer (its agents' sends and its tables' changelogs alike) idempotent, with room for a
    batch's changelog writes; call before it starts."""
    app.transport.Producer = IdempotentProducer
