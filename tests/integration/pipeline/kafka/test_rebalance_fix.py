"""aiokafka's `seek_to_committed` leaves a partition nobody committed where the fetcher took it, past records Faust
dropped; `seek_to_committed_or_start` (pipeline/kafka/rebalance_fix.py) puts it back at the start, on a real broker."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.rebalance_fix import seek_to_committed_or_start

pytestmark = pytest.mark.integration
TP = TopicPartition("taken-over", 0)


async def consumer_past_two_records(bootstrap: str) -> AIOKafkaConsumer:
    """A group member's consumer that fetched both records of a partition its group never committed (as the
    survivor's fetch in flight did for the dead worker's partition, records Faust then dropped)."""
    await ensure_topics(bootstrap, {TP.topic: 1})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for n in range(2):
            await producer.send_and_wait(TP.topic, b"v%d" % n, key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id="rebalance-fix", enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    consumer.assign([TP])
    got: list[Any] = []
    while len(got) < 2:
        got += (await consumer.getmany(TP, timeout_ms=1000)).get(TP, [])
    assert await consumer.position(TP) == 2
    return consumer


async def test_aiokafka_does_not_seek_back_a_partition_without_a_committed_offset(broker: Any) -> None:
    """The reason for fix 2: when this fails, aiokafka seeks it itself and that fix can go."""
    consumer = await consumer_past_two_records(broker.bootstrap)
    try:
        assert await consumer.seek_to_committed() == {TP: None}
        assert await consumer.position(TP) == 2  # the two records are never read again
    finally:
        await consumer.stop()


async def test_the_fix_puts_it_back_at_the_start(broker: Any) -> None:
    consumer = await consumer_past_two_records(broker.bootstrap)
    try:
        assert await seek_to_committed_or_start(consumer, lambda tp: True, "earliest") == {TP: None}
        assert await consumer.position(TP) == 0
        records = (await consumer.getmany(TP, timeout_ms=5000)).get(TP, [])
        assert [r.offset for r in records][:1] == [0]
    finally:
        await consumer.stop()
