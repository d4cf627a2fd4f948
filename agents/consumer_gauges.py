"""What the consumer is doing, as gauges: lag per input partition, partitions assigned, rebalances.

Faust-free: agents/topology.py feeds `assigned` from Faust's `on_partitions_assigned` signal and calls `update`
from a timer. Lag is the high watermark the consumer's last fetch saw (correct on Tansu too, unlike ListOffsets)
minus the next offset the customer agent will process; a partition that has processed nothing since it was
assigned counts from the group's committed offset, asked once per assignment.
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable, Iterable, Mapping

from agents.alignment import TP
from pipeline.metrics import Metrics

INTERVAL_S = 3.0  # how often the lag gauges are refreshed


class ConsumerGauges:
    def __init__(self, metrics: Metrics, highwater: Callable[[TP], int | None], start: Callable[[TP], Awaitable[int]],
                 processed: Mapping[TP, int], topics: Iterable[str]) -> None:
        self.metrics = metrics
        self.highwater = highwater
        self.start = start
        self.processed = processed
        self.topics = frozenset(topics)
        self._assigned: frozenset[TP] = frozenset()
        self._started: dict[TP, int] = {}
        self._lag_series: set[TP] = set()
        self._topic_series: set[str] = set()

    def assigned(self, tps: Iterable[TP]) -> None:
        """A rebalance handed this worker `tps` (the first join included): count it and gauge the new assignment."""
        self.metrics.rebalances.inc()
        self._assigned = frozenset((tp[0], tp[1]) for tp in tps)
        self._started.clear()
        per_topic = collections.Counter(topic for topic, _ in self._assigned)
        for topic in self._topic_series - per_topic.keys():
            self.metrics.assigned_partitions.remove(topic)
        for topic, count in per_topic.items():
            self.metrics.assigned_partitions.labels(topic).set(count)
        self._topic_series = set(per_topic)

    async def update(self) -> None:
        """Refresh the lag of every assigned input partition; drop the series of partitions no longer ours."""
        seen: set[TP] = set()
        for tp in sorted(tp for tp in self._assigned if tp[0] in self.topics):
            end = self.highwater(tp)
            position = await self._position(tp)
            if end is None or position is None:
                continue
            self.metrics.consumer_lag.labels(tp[0], str(tp[1])).set(max(0, end - position))
            seen.add(tp)
        for topic, partition in self._lag_series - seen:
            self.metrics.consumer_lag.remove(topic, str(partition))
        self._lag_series = seen

    async def _position(self, tp: TP) -> int | None:
        if tp in self.processed:
            return max(self.processed[tp], self._started.get(tp, -1))
        if tp not in self._started:
            try:
                self._started[tp] = await self.start(tp)
            except Exception:  # noqa: BLE001 - revoked meanwhile or consumer stopping: no figure this round
                return None
        return self._started[tp]
