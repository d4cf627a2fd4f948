"""The due-action timer: publishes due retries and reminders onto dunning-due, never from a stale picture.

Tables cannot be written from a timer, so the timer only publishes `DueAction`s; the customer agent applies them
with the same pure step as any event, which re-checks the case (a case closed by a payment fires nothing).

A partition's due actions are published only once the worker has caught up on that partition of every input topic:
its next offset to process has reached the high watermark the last fetch reported (the fetch's high watermark is
right even on Tansu, whose ListOffsets answer is not). A worker meeting a backlog after downtime therefore reads the
`PaymentSucceeded` in it before it could retry that payment. The clock is the wall clock in production, or each
partition's own event-time watermark when past history is replayed onto the topics (`JOURNEY_TIMER_CLOCK=event`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from agents.alignment import TP
from agents.customer_events import CustomerEvents, Outgoing, Producer
from agents.rules import dunning
from agents.rules.journey import CustomerState
from agents.runtime import Runtime
from pipeline.topics import INPUT_TOPICS
from pipeline.wire import state_codec
from pipeline.wire.headers import cloudevent_headers, event_source

log = logging.getLogger(__name__)
REPUBLISH_AFTER_MS = 30_000  # a due action not applied by then (its message lost in a crash) is published again

@dataclass(slots=True)
class CatchUp:
    """Is a partition read up to its high watermark on every input topic?

    `highwater(tp)` is the end the last fetch saw (None before any fetch); `processed` the next offset the customer
    agent will process; `start(tp)` the group's committed offset (or the log start), asked while a partition looks
    behind, because a partition that receives nothing new after an assignment never shows up in `processed`.
    """

    highwater: Callable[[TP], int | None]
    start: Callable[[TP], Awaitable[int]]
    processed: Mapping[TP, int]
    topics: tuple[str, ...] = INPUT_TOPICS
    ask_every_s: float = 0.5  # while a partition is behind, its start is asked again at most this often
    _started: dict[TP, int] = field(default_factory=dict)
    _asked: dict[TP, tuple[float, int]] = field(default_factory=dict)  # tp -> (when, start) while behind

    def reset(self) -> None:
        """Forget where partitions started: call on every change of assignment."""
        self._started.clear()
        self._asked.clear()

    async def caught_up(self, partition: int) -> bool:
        """Is the partition processed up to its high watermark on every input topic?"""
        for topic in self.topics:
            if not await self.read_up((topic, partition), self.processed):
                return False
        return True

    async def read_up(self, tp: TP, offsets: Mapping[TP, int]) -> bool:
        """Has `offsets` (next offset, per topic partition) reached the partition's high watermark?"""
        end = self.highwater(tp)
        if end is None:
            return False
        done = max(offsets.get(tp, -1), self._started.get(tp, -1))
        if done < end:
            asked = self._asked.get(tp)
            now = time.monotonic()
            if asked is None or now - asked[0] >= self.ask_every_s:
                asked = self._asked[tp] = (now, await self.start(tp))  # asked again while behind: a commit moves it
            started = asked[1]
            if started >= end:
                self._started[tp] = started
            done = max(done, started)
        return done >= end


class DueTimer:
    def __init__(self, rt: Runtime, events: CustomerEvents, due_index: Mapping[str, bytes | None],
                 producer: Producer, catch_up: CatchUp, partition_of: Callable[[str], int]) -> None:
        self.rt, self.events, self.due_index, self.producer = rt, events, due_index, producer
        self.catch_up, self.partition_of = catch_up, partition_of
        self.published: dict[str, int] = {}  # DueAction event_id -> wall time published

    async def tick(self, wall_ms: int) -> int:
        """Publish every due action of caught-up partitions; returns how many were published."""
        ready: dict[int, bool] = {}
        out: list[Outgoing] = []
        for cid, due_bytes in list(self.due_index.items()):
            if due_bytes is None:
                continue
            due_at = int(due_bytes)
            p = self.partition_of(cid)
            now = wall_ms if self.rt.settings.timer_clock == "wall" else self.events.watermarks.get(p, 0)
            if due_at > now:
                continue
            if p not in ready:
                ready[p] = await self.catch_up.caught_up(p)
            if not ready[p]:
                continue
            data = self.events.customers.get(cid)
            if data is None:
                continue
            state: CustomerState = state_codec.loads(CustomerState, data)
            for due in dunning.due_actions(state.dunning, cid, now):
                if wall_ms - self.published.get(due.event_id, -REPUBLISH_AFTER_MS) < REPUBLISH_AFTER_MS:
                    continue
                self.published[due.event_id] = wall_ms
                headers = cloudevent_headers(due, event_source(self.rt.settings.app_id))
                out.append(Outgoing(due.TOPIC, cid.encode(), self.rt.codec.encode(due), headers))
        await self.producer.deliver(out)
        self.rt.metrics.due_published.inc(len(out))
        held = sum(not ok for ok in ready.values())
        if held:
            self.rt.metrics.due_held.inc(held)
        self._forget(wall_ms)
        return len(out)

    def _forget(self, wall_ms: int) -> None:
        for event_id, at in list(self.published.items()):
            if wall_ms - at > REPUBLISH_AFTER_MS:
                del self.published[event_id]
