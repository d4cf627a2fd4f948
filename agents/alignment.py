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
a stalled topic from stalling the rest: an event is released once the topic it waits for has been behind its high
watermark for `max_hold_s` without bringing anything (JOURNEY_ALIGN_MAX_HOLD_MS; a topic still bringing a long
backlog is waited for, however long), and a partition holds at most `max_held` events (JOURNEY_ALIGN_MAX_HELD). The
stall is timed from when the topic is first seen behind after it last brought an event or was seen read up: a topic
read up and quiet for long that gets one new record (another worker's flag for a linked account) is not stalled while
that record is on its way through the consumer. Held messages are not acknowledged, so their
offsets are not committed: a crash re-reads them.

Across partitions too: an event that reads the identity index must see every link made by an earlier event, also by
another customer on another partition (another customer's chargeback on the same card). So the events of all the
partitions this worker owns are released in one event-time order (an event at t goes once every input topic of every
owned partition has been read past t, or up to its high watermark), the batch's own links are seen at once
(agents/progress.py), and partitions other workers own are waited for through their progress marks (`gate`).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from pipeline.topics import INPUT_TOPICS

TP = tuple[str, int]
ReadUp = Callable[[TP], Awaitable[bool]]
"""read_up((topic, partition)): is that partition read up to its high watermark?"""
Gate = Callable[[int], bool]
"""gate(event_time): do the partitions other workers own allow an event at that time to go (agents/progress.py)?"""


@dataclass(order=True, slots=True)
class Held:
    at: int
    seq: int
    since: float = field(compare=False)
    msg: Any = field(compare=False)  # agents.customer_events.Incoming
    event: Any = field(compare=False)


class Aligner:
    def __init__(self, max_hold_s: float, max_held: int, topics: tuple[str, ...] = INPUT_TOPICS,
                 on_forced: Callable[[str], None] | None = None) -> None:
        self.max_hold_s, self.max_held, self.topics, self.on_forced = max_hold_s, max_held, topics, on_forced
        self.read_time: dict[TP, int] = {}  # latest event time read from each topic partition
        self.advanced: dict[TP, float] = {}  # when each topic partition last brought an event (monotonic s)
        self.behind: dict[TP, float] = {}  # since when a topic partition is seen behind, having brought nothing since
        self.held: dict[int, list[Held]] = {}
        self.owned: frozenset[int] | None = None  # the partitions assigned to this worker; None: those seen
        self._seq = itertools.count()

    def assign(self, partitions: Collection[int]) -> None:
        self.owned = frozenset(partitions)

    def add(self, msg: Any, event: Any, now_s: float) -> None:
        tp = (msg.topic, msg.partition)
        self.read_time[tp] = max(self.read_time.get(tp, event.occurred_at), event.occurred_at)
        self.advanced[tp] = now_s
        self.behind.pop(tp, None)
        heapq.heappush(self.held.setdefault(msg.partition, []),
                       Held(event.occurred_at, next(self._seq), now_s, msg, event))

    def advancing(self, tp: TP, now_s: float) -> None:
        """A record is on its way on this topic partition (one this worker sent): it is not stalled."""
        self.advanced[tp] = now_s

    def put_back(self, held: Iterable[Held]) -> None:
        """Hold again events `release` gave out but the caller did not process (their wait resumes as it was)."""
        for h in held:
            heapq.heappush(self.held.setdefault(h.msg.partition, []), h)

    def partitions_owned(self) -> frozenset[int]:
        if self.owned is not None:
            return self.owned
        return frozenset(self.held) | {p for _, p in self.read_time}

    async def release(self, read_up: ReadUp, now_s: float, gate: Gate | None = None) -> list[Held]:
        """Every held event that is safe (or held too long) now, in event-time order across the owned partitions."""
        out: list[Held] = []
        up: dict[TP, bool] = {}  # read-up answers, asked once per release
        tps = [(t, p) for p in sorted(self.partitions_owned()) for t in self.topics]
        while True:
            heads = [h[0] for h in self.held.values() if h]
            if not heads:
                break
            head = min(heads)
            blocking = await self._blocking(head, tps, read_up, up, now_s)
            if blocking is None and (gate is None or gate(head.at)):
                out.append(heapq.heappop(self.held[head.msg.partition]))
                continue
            forced = [p for p, h in self.held.items() if h and self._forced(h, blocking, now_s)]
            if not forced:
                break
            for p in forced:
                out.append(heapq.heappop(self.held[p]))
        return out

    def _forced(self, heap: list[Held], blocking: TP | None, now_s: float) -> bool:
        """Cut the wait short: held past `max_hold_s` while the topic it waits for has been behind for as long
        without bringing anything (a stalled topic, not merely a busy worker reading a long backlog, nor a quiet topic
        whose new record is on its way), or too many events held. A wait for other
        workers' progress (`blocking` None: the gate said no) is not timed here: the gate counts a partition whose
        mark stops moving as done after JOURNEY_ALIGN_IDLE_MS."""
        if blocking is None:
            reason = "held_limit" if len(heap) > self.max_held else None
        else:
            since = heap[0].since
            stalled_since = max(since, self.advanced.get(blocking, since), self.behind.get(blocking, since))
            reason = ("hold_timeout" if now_s - stalled_since >= self.max_hold_s
                      else "held_limit" if len(heap) > self.max_held else None)
        if reason is not None and self.on_forced is not None:
            self.on_forced(reason)
        return reason is not None

    async def _blocking(self, head: Held, tps: list[TP], read_up: ReadUp, up: dict[TP, bool],
                        now_s: float) -> TP | None:
        """The first topic partition the head still waits for (None: it may go, as far as this worker's topics
        are concerned). Notes since when each topic partition asked about is behind (`behind`)."""
        for tp in tps:
            if self.read_time.get(tp, -1) >= head.at:
                continue  # read past the head's time (a topic partition is in event-time order)
            if tp not in up:
                up[tp] = await read_up(tp)
                if up[tp]:
                    self.behind.pop(tp, None)
                else:
                    self.behind.setdefault(tp, now_s)  # behind from now on, unless seen behind before
            if not up[tp]:
                return tp
        return None

    async def watermark(self, partition: int, read_up: ReadUp) -> tuple[int, bool]:
        """(W, caught up) of an owned partition: every input event on it with an earlier event time than W is
        processed; caught up when every topic is read up to its high watermark and nothing is held."""
        heap = self.held.get(partition)
        bound = heap[0].at if heap else None
        caught_up = not heap
        latest = 0
        for topic in self.topics:
            tp = (topic, partition)
            read = self.read_time.get(tp, 0)
            latest = max(latest, read)
            if await read_up(tp):
                continue
            caught_up = False
            bound = read if bound is None else min(bound, read)
        return (latest if bound is None else bound), caught_up

    def lowest_held(self, tp: TP) -> int | None:
        """The lowest offset still held for a topic partition (its offsets from there on are not done)."""
        offsets = [h.msg.offset for h in self.held.get(tp[1], ()) if h.msg.topic == tp[0]]
        return min(offsets) if offsets else None

    def drop(self, keep: Callable[[int], bool]) -> list[Held]:
        """Forget held events of partitions no longer ours (a rebalance): their new owner reads them again."""
        gone = [p for p in self.held if not keep(p)]
        dropped = [h for p in gone for h in self.held.pop(p)]
        for tp in [tp for tp in self.read_time if not keep(tp[1])]:
            del self.read_time[tp]
        for tp in [tp for tp in self.behind if not keep(tp[1])]:
            del self.behind[tp]
        return dropped

    def count(self) -> int:
        return sum(len(h) for h in self.held.values())

    def partitions(self) -> Iterable[int]:
        return self.held.keys()
