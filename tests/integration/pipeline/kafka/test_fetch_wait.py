"""The fetch wait at rest (pipeline/kafka/fetch_wait.py) on a real consumer against the embedded broker: the fetcher
polls with the long wait once nothing has arrived for a while, and with the short one again from the first record."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.embedded import EmbeddedBroker
from pipeline.kafka.fetch_wait import IdleWait, adapt_when_idle

pytestmark = pytest.mark.integration
TP = TopicPartition("rest", 0)


async def waits_seen(bootstrap: str) -> tuple[int, int, int, float]:
    """(wait while starting, wait after a quiet second, wait right after a record arrived, seconds to that record)"""
    await ensure_topics(bootstrap, {"rest": 1})
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                fetch_max_wait_ms=10)
    adapt_when_idle(consumer, IdleWait(busy_ms=10, idle_ms=400, quiet_s=0.3))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await consumer.start()
    await producer.start()
    try:
        fetcher = consumer._fetcher
        consumer.assign([TP])
        await consumer.seek_to_end(TP)
        starting = fetcher._fetch_max_wait_ms
        await asyncio.sleep(1.5)  # nothing arrives: the fetcher moves to the long wait
        at_rest = fetcher._fetch_max_wait_ms
        sent = time.monotonic()
        await producer.send_and_wait("rest", b"after a rest", partition=0)
        record = await asyncio.wait_for(consumer.getone(TP), 10)
        took = time.monotonic() - sent
        assert record.value == b"after a rest"
        return starting, at_rest, fetcher._fetch_max_wait_ms, took
    finally:
        await producer.stop()
        await consumer.stop()


def test_a_consumer_at_rest_polls_with_the_long_wait_and_a_record_brings_back_the_short_one(
        broker: EmbeddedBroker) -> None:
    starting, at_rest, after, took = asyncio.run(waits_seen(broker.bootstrap))
    assert (starting, at_rest, after) == (10, 400, 10)
    assert took < 5  # the record still arrives: the long wait only bounds how long an empty poll waits
