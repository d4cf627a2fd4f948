"""The consumer's fetch long-poll as a setting: Faust hard-codes `fetch_max_wait_ms=1500` for its worker consumer.

Why it matters: Tansu answers a waiting fetch only when the wait runs out, not when data arrives (shared/TANSU.md,
one hop: p50 about wait/4, p99 about wait/2), so 1500 ms puts a quarter of a second into every hop. Apache Kafka
answers as soon as data is there, where the wait only bounds idle polling.

How: `install_fetch_wait(ms)` wraps the one Faust method that builds the worker's aiokafka consumer
(`AIOKafkaConsumerThread._create_worker_consumer`) and sets the consumer's fetch wait before it starts (aiokafka reads
it when it builds its fetcher in `start()`). Nothing else is patched. Drop it once Faust takes the value from its
settings.

**At rest** (`idle_ms`): a short wait is a poll every 10 ms whether or not anything arrives, and each poll names
every assigned partition (about 40): a resting worker used 16-19% of a core and its Tansu 21-23% (bench/e2e.py's
idle phase), most of it polling. Once no fetch has returned a record for QUIET_S, the fetcher asks with `idle_ms`
instead (`IdleWait`), and goes back to `ms` with the first fetch that returns one: measured at rest, 13% and 13%
with 100 ms. QUIET_S is shorter than the progress heartbeats (agents/progress.py, every 0.67 s by default), which
a resting worker also reads; on Tansu the first record after a rest waits up to about idle_ms / 2 more.

The wait is read by aiokafka's Fetcher each time it builds a request (`Fetcher._fetch_max_wait_ms`), so after the
consumer has started, its fetcher's `_proc_fetch_request` is wrapped to set it from the answer: that one fetcher, no
class is patched.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

QUIET_S = 0.25  # no record for this long: the consumer is at rest (progress heartbeats come every 0.67 s)

_original: Any = None
_wait_ms: int | None = None
_idle_ms: int | None = None


@dataclass
class IdleWait:
    """The fetch wait for the next request: `busy_ms` while fetches return records, `idle_ms` once none has for
    `quiet_s` (a pure clock: `now` is time.monotonic())."""

    busy_ms: int
    idle_ms: int
    quiet_s: float = QUIET_S
    last_records: float | None = None  # when a fetch last returned a record (or the first answer came)

    def after_fetch(self, got_records: bool, now: float) -> int:
        if got_records or self.last_records is None:
            self.last_records = now
            return self.busy_ms
        return self.idle_ms if now - self.last_records >= self.quiet_s else self.busy_ms


def install_fetch_wait(ms: int, idle_ms: int | None = None) -> None:
    """Make every Faust worker consumer created from now on long-poll for at most `ms`, and `idle_ms` once at rest
    (None, or not above `ms`: always `ms`). Idempotent; the last wins."""
    global _original, _wait_ms, _idle_ms
    from faust.transport.drivers import aiokafka as driver

    _wait_ms, _idle_ms = int(ms), None if idle_ms is None else int(idle_ms)
    if _original is not None:
        return
    original = driver.AIOKafkaConsumerThread._create_worker_consumer

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        if _wait_ms is not None:
            consumer._fetch_max_wait_ms = _wait_ms  # read by AIOKafkaConsumer.start() for its Fetcher
            if _idle_ms is not None and _idle_ms > _wait_ms:
                adapt_when_idle(consumer, IdleWait(_wait_ms, _idle_ms))
        return consumer

    driver.AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]
    _original = original


def adapt_when_idle(consumer: Any, wait: IdleWait) -> None:
    """Once `consumer` (an aiokafka consumer, not started) has started, set its fetcher's wait after each answer."""
    start = consumer.start

    async def start_then_adapt() -> None:
        await start()
        fetcher = consumer._fetcher
        proc = fetcher._proc_fetch_request

        async def proc_fetch_request(assignment: Any, node_id: Any, request: Any) -> bool:
            got = await proc(assignment, node_id, request)  # True when it buffered records (or an error to raise)
            fetcher._fetch_max_wait_ms = wait.after_fetch(bool(got), time.monotonic())
            return bool(got)

        fetcher._proc_fetch_request = proc_fetch_request

    consumer.start = start_then_adapt


def uninstall_fetch_wait() -> None:
    """Restore Faust's own method (for tests). Idempotent."""
    global _original, _wait_ms, _idle_ms
    from faust.transport.drivers import aiokafka as driver

    if _original is not None:
        driver.AIOKafkaConsumerThread._create_worker_consumer = _original  # type: ignore[method-assign]
        _original, _wait_ms, _idle_ms = None, None, None
