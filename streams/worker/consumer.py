"""The worker's consumer: faust's aiokafka consumer, with fetches the broker holds for FETCH_MAX_WAIT_MS at most.

aiokafka keeps one fetch in flight per broker, and faust has the broker hold a fetch of partitions with no new
data for up to 1.5 s (its value, not a setting). Until that fetch comes back, no other partition on the broker
is fetched. So once the place stage had taken every prepared article fetched, it sat idle while a fetch of the
raw partitions, all read already, waited at the broker: in a timeline of an end-to-end run, the worker's
process idled at 12-16 % of a core for a second at a time while prepared articles piled up on the broker.
"""

from __future__ import annotations

import aiokafka
import faust
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer

# Long enough that an idle worker's fetches cost the broker next to nothing (ten a second), short enough that a
# partition whose records were all taken is fetched again soon.
FETCH_MAX_WAIT_MS = 100


class PromptConsumerThread(AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when it starts (faust passes 1,500)
        return consumer


class PromptConsumer(Consumer):
    def _new_consumer_thread(self) -> PromptConsumerThread:
        return PromptConsumerThread(self, loop=self.loop, beacon=self.beacon)


def use_prompt_consumer(app: faust.App) -> None:
    """Make the app's consumer (both agents' input and the tables' recovery) fetch promptly; call before it starts."""
    app.transport.Consumer = PromptConsumer
