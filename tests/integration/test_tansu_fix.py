"""Tansu's wrong end offsets (shared/TANSU.md) and the small workaround in pipeline/tansu_fix.py."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from pipeline.admin import ensure_topics
from pipeline.broker import EmbeddedBroker
from pipeline.tansu_fix import true_end_offsets

pytestmark = pytest.mark.integration
TP = TopicPartition("batched", 0)


async def ten_records_in_one_batch(bootstrap: str) -> dict[TopicPartition, int]:
    await ensure_topics(bootstrap, {"batched": 1})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=200)
    await producer.start()
    futures = [await producer.send("batched", f"v{i}".encode(), partition=0) for i in range(10)]
    await producer.flush()
    await asyncio.gather(*futures)
    await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets([TP]))
    finally:
        await consumer.stop()


def test_tansu_reports_a_short_end_offset(broker: EmbeddedBroker) -> None:
    """When this fails, Tansu answers ListOffsets correctly: delete pipeline/tansu_fix.py and its call."""
    reported = asyncio.run(ten_records_in_one_batch(broker.bootstrap))
    assert reported[TP] < 10


def test_the_workaround_finds_the_true_end_from_the_fetch_high_watermark(broker: EmbeddedBroker) -> None:
    async def run() -> dict[TopicPartition, int]:
        reported = await ten_records_in_one_batch(broker.bootstrap)
        return await true_end_offsets(broker.bootstrap, reported)

    assert asyncio.run(run())[TP] == 10


def test_the_workaround_keeps_an_empty_partition_at_zero(broker: EmbeddedBroker) -> None:
    async def run() -> dict[TopicPartition, int]:
        await ensure_topics(broker.bootstrap, {"empty": 1})
        return await true_end_offsets(broker.bootstrap, {TopicPartition("empty", 0): 0}, timeout_s=2)

    assert asyncio.run(run()) == {TopicPartition("empty", 0): 0}
