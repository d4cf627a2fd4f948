"""Event-time alignment while catching up: a partition's events across the input topics, in event-time order.

Kafka orders a customer's events only within one topic. A worker that meets a backlog (after downtime, a deploy, a
rebalance) reads the input topics at whatever pace each fetch brings, so a customer's `DeviceSeen` on `devices` can
arrive before the `PaymentSucceeded` on `payments` that happened first, and the step would fire the overdue
reminder it finds due at the later event's time: dunning a customer who has paid. `journey replay` sees the events
in event-time order; the live worker must too.

So, per partition, decoded events are held in a heap by event time and released while it is safe: an event at time t
read from topic A goes once every other input topic has been read past t on that partition (an event with time >= t
was read from it: topics are in time order within a partition) or is read up to its high watermark (nothing more to
wait for). Caught up on every topic, an event is released at once, so live traffic pays no latency. Two bounds keep
a stalled topic from stalling the rest: an event is released after `max_hold_s` (JOURNEY_ALIGN_MAX_HOLD_MS) and a
partition holds at most `max_held` events (JOURNEY_ALIGN_MAX_HELD). Held messages are not acknowledged, so their
offsets are not committed: a crash re-reads them.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pipeline.topics import INPUT_TOPICS

TP = tuple[str, int]
ReadUp = Callable[[TP], Awaitable[bool]]
"""read_up((topic, partition)): is that partition read up to its high watermark?"""


@dataclass(order=True, slots=True)
class Held:
    at: int
    seq: int
    since: float = field(compare=False)
    msg: Any = field(compare=False)  # agents.customer_events.Incoming
    event: Any = field(compare=False)


class Aligner:
    def __init__(self, max_hold_s: float, max_held: int, topics: tuple[str, ...] = INPUT_TOPICS) -> None:
        self.max_hold_s, self.max_held, self.topics = max_hold_s, max_held, topics
        self.read_time: dict[TP, int] = {}  # latest event time read from each topic partition
        self.held: dict[int, list[Held]] = {}
        self._seq = itertools.count()

    def add(self, msg: Any, event: Any, now_s: float) -> None:
        tp = (msg.topic, msg.partition)
        self.read_time[tp] = max(self.read_time.get(tp, event.occurred_at), event.occurred_at)
        heapq.heappush(self.held.setdefault(msg.partition, []),
                       Held(event.occurred_at, next(self._seq), now_s, msg, event))

    async def release(self, read_up: ReadUp, now_s: float) -> list[Held]:
        """Every held event that is safe (or held too long) now, per partition in event-time order."""
        out: list[Held] = []
        for p, heap in self.held.items():
            while heap:
                head = heap[0]
                forced = now_s - head.since >= self.max_hold_s or len(heap) > self.max_held
                if not forced and not await self._safe(head, p, read_up):
                    break
                out.append(heapq.heappop(heap))
        return out

    async def _safe(self, head: Held, partition: int, read_up: ReadUp) -> bool:
        for topic in self.topics:
            tp = (topic, partition)
            if topic == head.msg.topic or self.read_time.get(tp, -1) >= head.at:
                continue
            if not await read_up(tp):
                return False
        return True

    def lowest_held(self, tp: TP) -> int | None:
        """The lowest offset still held for a topic partition (its offsets from there on are not done)."""
        offsets = [h.msg.offset for h in self.held.get(tp[1], ()) if h.msg.topic == tp[0]]
        return min(offsets) if offsets else None

    def drop(self, keep: Callable[[int], bool]) -> list[Held]:
        """Forget held events of partitions no longer ours (a rebalance): their new owner reads them again."""
        gone = [p for p in self.held if not keep(p)]
        dropped = [h for p in gone for h in self.held.pop(p)]
        for tp in [tp for tp in self.read_time if tp[1] in gone]:
            del self.read_time[tp]
        return dropped

    def count(self) -> int:
        return sum(len(h) for h in self.held.values())

    def partitions(self) -> Iterable[int]:
        return self.held.keys()
