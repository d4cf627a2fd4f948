"""pipeline/kafka/push.py on a real producer and broker: a pushed batch goes out without waiting for the linger, and
records sent after a push are delivered too."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.embedded import EmbeddedBroker
from pipeline.kafka.push import push_open_batches

pytestmark = pytest.mark.integration
LINGER_MS = 60_000  # far beyond any wait below: only a push gets the records out early


async def deliver(bootstrap: str, push: bool, rounds: int = 2, wait_s: float = 20.0) -> tuple[bool, float]:
    """Send rounds of 50 records with a minute's linger; (all delivered within `wait_s`, seconds taken)."""
    await ensure_topics(bootstrap, {"pushed": 2})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=LINGER_MS)
    await producer.start()
    started = time.monotonic()
    try:
        for r in range(rounds):
            futures = [await producer.send("pushed", f"v{r}-{i}".encode(), key=str(i).encode()) for i in range(50)]
            if push:
                assert push_open_batches(producer)
            done, _ = await asyncio.wait(futures, timeout=wait_s)
            if len(done) < len(futures):
                return False, time.monotonic() - started
            assert all(f.exception() is None for f in futures)
        return True, time.monotonic() - started
    finally:
        push_open_batches(producer)  # what still lingers goes now, or stop() would wait out the linger
        await producer.stop()


async def values_on(bootstrap: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        tps = [TopicPartition("pushed", p) for p in range(2)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        out: list[bytes] = []
        while sum(ends.values()) > len(out):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                out += [r.value for r in records if r.value is not None]
        return out
    finally:
        await consumer.stop()


def test_a_pushed_batch_is_delivered_without_waiting_for_the_linger(broker: EmbeddedBroker) -> None:
    delivered, seconds = asyncio.run(deliver(broker.bootstrap, push=True))
    assert delivered, f"not delivered within {seconds:.1f} s of a push"
    assert sorted(asyncio.run(values_on(broker.bootstrap))) == sorted(
        f"v{r}-{i}".encode() for r in range(2) for i in range(50))  # every record, once, after two pushes


def test_without_a_push_the_records_wait_for_the_linger(broker: EmbeddedBroker) -> None:
    delivered, _ = asyncio.run(deliver(broker.bootstrap, push=False, rounds=1, wait_s=3.0))
    assert not delivered  # the linger holds them: what the push above saves


def test_a_producer_that_is_not_aiokafkas_is_left_alone() -> None:
    assert push_open_batches(None) is False
    assert push_open_batches(object()) is False
