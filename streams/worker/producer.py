"""The worker's producer: faust's aiokafka producer with idempotence on.

faust turns idempotence on only inside transactions (exactly-once), which storywire does not use (see
../shared/notes). Without it, a batch that fails and is retried may be written twice, and a batch can expire
after `request_timeout` while the ones after it are written. With it, aiokafka retries a batch until the
broker has it and never writes it twice, and each partition's batches land in the order they were sent: the
place stage's changelog batches (streams/worker/context.py) as well as its messages.
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
