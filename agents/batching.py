"""Larger batches while the customer agent catches up, the stream's own batches when it is live.

Faust's `take` hands over what its stream buffer gathered within JOURNEY_BATCH_LINGER_MS (5 ms): right for live
traffic, where waiting longer only adds latency. During a backlog (after downtime, a deploy, a burst) the buffer
fills only as fast as Faust's per-message machinery runs while the agent waits, so takes stay small (about 50
events) and every batch pays its fixed costs (a delivery round trip, the state and index writes, progress marks) for
few events. While the worker is behind, `Gather` keeps adding takes to one batch until it holds
JOURNEY_BATCH_CATCHUP_MAX events (2000) or JOURNEY_BATCH_CATCHUP_MS (300 ms) have passed, whichever comes first: a
customer's state is written once per batch however many of their events it holds, so a backlog of a few busy
customers costs a fraction of what it costs event by event. The at-least-once order of agents/customer_events.py
does not change: gathered messages are neither processed nor acknowledged until their batch is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Gather(Generic[T]):
    def __init__(self, max_events: int, catchup_s: float, behind: Callable[[], bool],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_events, self.catchup_s, self.behind, self.clock = max_events, catchup_s, behind, clock
        self.pending: list[T] = []
        self._since = 0.0

    def add(self, taken: list[T]) -> list[T]:
        """The batch to process now (empty: keep gathering)."""
        if not self.pending:
            self._since = self.clock()
        self.pending += taken
        if (self.catchup_s > 0 and len(self.pending) < self.max_events
                and self.clock() - self._since < self.catchup_s and self.behind()):
            return []
        return self.flush()

    def due(self) -> list[T]:
        """What a timer should process now: a gathered batch whose time is up, or that no backlog follows."""
        if self.pending and (self.clock() - self._since >= self.catchup_s or not self.behind()):
            return self.flush()
        return []

    def drop(self, gone: Callable[[T], bool]) -> None:
        """Forget gathered events `gone` says are no longer this worker's (their partition went in a rebalance)."""
        self.pending = [e for e in self.pending if not gone(e)]

    def flush(self) -> list[T]:
        batch, self.pending = self.pending, []
        return batch
