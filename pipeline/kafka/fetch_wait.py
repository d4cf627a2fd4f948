"""The consumer's fetch long-poll as a setting: Faust hard-codes `fetch_max_wait_ms=1500` for its worker consumer.

Why it matters: Tansu answers a waiting fetch only when the wait runs out, not when data arrives (shared/TANSU.md,
one hop: p50 about wait/4, p99 about wait/2), so 1500 ms puts a quarter of a second into every hop. Apache Kafka
answers as soon as data is there, where the wait only bounds idle polling.

How: `install_fetch_wait(ms)` wraps the one Faust method that builds the worker's aiokafka consumer
(`AIOKafkaConsumerThread._create_worker_consumer`) and sets the consumer's fetch wait before it starts (aiokafka reads
it when it builds its fetcher in `start()`). Nothing else is patched. Drop it once Faust takes the value from its
settings.
"""

from __future__ import annotations

from typing import Any

_original: Any = None
_wait_ms: int | None = None


def install_fetch_wait(ms: int) -> None:
    """Make every Faust worker consumer created from now on long-poll for at most `ms`. Idempotent; the last wins."""
    global _original, _wait_ms
    from faust.transport.drivers import aiokafka as driver

    _wait_ms = int(ms)
    if _original is not None:
        return
    original = driver.AIOKafkaConsumerThread._create_worker_consumer

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        if _wait_ms is not None:
            consumer._fetch_max_wait_ms = _wait_ms  # read by AIOKafkaConsumer.start() for its Fetcher
        return consumer

    driver.AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]
    _original = original


def uninstall_fetch_wait() -> None:
    """Restore Faust's own method (for tests). Idempotent."""
    global _original, _wait_ms
    from faust.transport.drivers import aiokafka as driver

    if _original is not None:
        driver.AIOKafkaConsumerThread._create_worker_consumer = _original  # type: ignore[method-assign]
        _original, _wait_ms = None, None
