"""Tansu's wrong end offsets (shared/TANSU.md) and the workaround in pipeline/kafka/tansu_fix.py: the bug, the fix,
and a real Faust table recovery with and without it."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faust.tables import TableManager
from faust.types import TableT

from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.embedded import EmbeddedBroker
from pipeline.kafka.tansu_fix import install_end_offsets_fix, true_end_offsets, uninstall_end_offsets_fix

pytestmark = pytest.mark.integration
TP = TopicPartition("batched", 0)
PARTITIONS = 2
KEYS = 20
ROUNDS = 5  # every key is updated once per round: the table must end with the last round's values
SESSION_S = 3.0  # Tansu's group join takes about half the session timeout


async def raw_end_offsets(bootstrap: str, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def ten_records_in_one_batch(bootstrap: str) -> dict[TopicPartition, int]:
    await ensure_topics(bootstrap, {"batched": 1})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=200)
    await producer.start()
    try:
        batch = producer.create_batch()
        for i in range(10):
            batch.append(key=None, value=f"v{i}".encode(), timestamp=None)
        await (await producer.send_batch(batch, "batched", partition=0))
    finally:
        await producer.stop()
    return await raw_end_offsets(bootstrap, [TP])


def test_tansu_reports_a_short_end_offset(broker: EmbeddedBroker) -> None:
    """When this fails, Tansu answers ListOffsets correctly: delete pipeline/kafka/tansu_fix.py, its tests, its call."""
    reported = asyncio.run(ten_records_in_one_batch(broker.bootstrap))
    assert reported[TP] < 10


def test_the_workaround_finds_the_true_end_from_the_fetch_high_watermark(broker: EmbeddedBroker) -> None:
    async def run() -> dict[TopicPartition, int]:
        reported = await ten_records_in_one_batch(broker.bootstrap)
        return await true_end_offsets(broker.bootstrap, reported)

    assert asyncio.run(run()) == {TP: 10}


def test_the_workaround_keeps_an_empty_partition_at_zero(broker: EmbeddedBroker) -> None:
    async def run() -> dict[TopicPartition, int]:
        await ensure_topics(broker.bootstrap, {"empty": 1})
        return await true_end_offsets(broker.bootstrap, {TopicPartition("empty", 0): 0})

    assert asyncio.run(run()) == {TopicPartition("empty", 0): 0}


@pytest.mark.parametrize("records", [0, 10])
def test_an_end_reported_past_what_any_fetch_reads_is_lowered_to_the_high_watermark(
        broker: EmbeddedBroker, records: int, caplog: pytest.LogCaptureFixture) -> None:
    """Tansu once reported end offset 1 for partitions no fetch could read a record from (a restarted worker's
    first writes; the fetch high watermark stayed 0): recovery waited for that record forever. The report here is
    made up, as high as that one; what the broker holds is real."""
    topic = f"phantom-{records}"
    tp = TopicPartition(topic, 0)

    async def run() -> dict[TopicPartition, int]:
        await ensure_topics(broker.bootstrap, {topic: 1})
        if records:
            producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
            await producer.start()
            try:
                for i in range(records):
                    await producer.send_and_wait(topic, f"v{i}".encode(), partition=0)
            finally:
                await producer.stop()
        return await true_end_offsets(broker.bootstrap, {tp: records + 1})

    with caplog.at_level(logging.WARNING, logger="pipeline.kafka.tansu_fix"):
        assert asyncio.run(run()) == {tp: records}
    assert f"{topic}[0] ({records + 1} > {records})" in caplog.text


@pytest.fixture
def quiet_faust(caplog: pytest.LogCaptureFixture) -> None:
    for name in ("faust", "mode", "aiokafka"):
        caplog.set_level(logging.WARNING, logger=name)  # restored after the test


@pytest.fixture
def end_offsets_fix() -> Iterator[None]:
    install_end_offsets_fix()  # no bootstrap: the fix takes the Faust app's own
    try:
        yield
    finally:
        uninstall_end_offsets_fix()


def latest_values_app(app_id: str, bootstrap: str, datadir: Path) -> tuple[faust.App, TableT[str, int]]:
    """A minimal worker: one agent writes each update into a memory-store table (its changelog is the only copy)."""
    app = faust.App(
        app_id, broker=f"kafka://{bootstrap}", store="memory://", datadir=str(datadir), web_enabled=False,
        topic_partitions=PARTITIONS, topic_replication_factor=1, table_standby_replicas=0,
        broker_session_timeout=SESSION_S, broker_heartbeat_interval=SESSION_S / 6,
        broker_rebalance_timeout=SESSION_S * 2, broker_commit_interval=0.5, consumer_auto_offset_reset="earliest",
        stream_wait_empty=False, producer_linger_ms=50,  # linger: several changelog records per batch, as in real use
        key_serializer="raw", value_serializer="json",
    )
    table = app.Table("latest", default=int, partitions=PARTITIONS, key_type=str, value_type=int)
    updates = app.topic("updates", key_type=str, partitions=PARTITIONS)  # json values: ints

    @app.agent(updates)
    async def apply_updates(stream: faust.StreamT[int]) -> None:
        async for key, value in stream.items():
            table[key] = value

    return app, table


async def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return False


async def write_updates_through_a_worker(app_id: str, bootstrap: str, datadir: Path) -> dict[str, int]:
    """Run one worker over ROUNDS x KEYS updates, wait until its table holds the last values, stop it."""
    await ensure_topics(bootstrap, {"updates": PARTITIONS})
    expected: dict[str, int] = {}
    app, table = latest_values_app(app_id, bootstrap, datadir)
    await app.start()
    try:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
        await producer.start()
        try:
            for round_no in range(1, ROUNDS + 1):
                for i in range(KEYS):
                    expected[f"k{i}"] = round_no * 100 + i
                    await producer.send("updates", key=f"k{i}".encode(), value=str(round_no * 100 + i).encode(),
                                        partition=i % PARTITIONS)
                await producer.flush()
        finally:
            await producer.stop()
        assert await wait_until(lambda: dict(table.items()) == expected, 30), "the first worker did not catch up"
    finally:
        await app.stop()  # flushes the changelog
    return expected


async def recover_with_a_fresh_worker(app_id: str, bootstrap: str, datadir: Path) -> dict[str, int]:
    app, table = latest_values_app(app_id, bootstrap, datadir)
    await app.start()
    try:
        await asyncio.wait_for(cast(TableManager, app.tables).recovery.completed.wait(), 60)
        return dict(table.items())
    finally:
        await app.stop()


async def changelog_offsets(app_id: str, bootstrap: str) -> tuple[int, int]:
    """(sum of raw end offsets, sum of fetch high watermarks) over the table's changelog partitions."""
    tps = [TopicPartition(f"{app_id}-latest-changelog", p) for p in range(PARTITIONS)]
    raw = await raw_end_offsets(bootstrap, tps)
    return sum(raw.values()), sum((await true_end_offsets(bootstrap, raw)).values())


@pytest.mark.usefixtures("quiet_faust", "end_offsets_fix")
async def test_a_fresh_worker_recovers_every_latest_table_value_with_the_fix(broker: EmbeddedBroker,
                                                                             tmp_path: Path) -> None:
    app_id = f"recovery-{uuid.uuid4().hex[:8]}"
    expected = await write_updates_through_a_worker(app_id, broker.bootstrap, tmp_path / "first")
    raw, true = await changelog_offsets(app_id, broker.bootstrap)
    assert true == ROUNDS * KEYS and raw < true, "the changelog must end in multi-record batches to show anything"
    assert await recover_with_a_fresh_worker(app_id, broker.bootstrap, tmp_path / "second") == expected


@pytest.mark.usefixtures("quiet_faust")
async def test_without_the_fix_a_fresh_worker_misses_the_latest_table_values(broker: EmbeddedBroker,
                                                                             tmp_path: Path) -> None:
    """Shows why the fix exists; when this fails, Tansu's end offsets are right and the fix can go."""
    app_id = f"recovery-{uuid.uuid4().hex[:8]}"
    expected = await write_updates_through_a_worker(app_id, broker.bootstrap, tmp_path / "first")
    raw, true = await changelog_offsets(app_id, broker.bootstrap)
    assert true == ROUNDS * KEYS and raw < true
    recovered = await recover_with_a_fresh_worker(app_id, broker.bootstrap, tmp_path / "second")
    assert recovered != expected
