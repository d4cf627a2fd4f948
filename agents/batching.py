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

**Busy.** Live traffic near what the worker can take makes a queue long before the partitions hold a batch's worth:
at 500 attempts/s on a slower core, batches of ten events each paid their fixed costs (a delivery round trip, the
index agent's write of a hot node, the table writes, the marks) until the worker used all of its core and the p50
went from tens of milliseconds to seconds. So while the process uses more than BUSY_LOAD of a core (`Load`, over
the last second), takes are gathered for up to JOURNEY_BATCH_BUSY_MS (15 ms) too: the batches a busy worker makes
are larger and cheaper per event, and an idle worker still takes each event as it comes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


BUSY_LOAD = 0.8  # of one core: above it the worker is busy


class Load:
    """Is this process busy? Its CPU time (every thread's) over the wall-clock time, measured over `window_s` at
    least, as a fraction of one core."""

    def __init__(self, window_s: float = 1.0, threshold: float = BUSY_LOAD,
                 cpu: Callable[[], float] = time.process_time, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s, self.threshold, self.cpu, self.clock = window_s, threshold, cpu, clock
        self._at, self._used = clock(), cpu()
        self.load = 0.0

    def busy(self) -> bool:
        now = self.clock()
        if now - self._at >= self.window_s:
            used = self.cpu()
            self.load = (used - self._used) / (now - self._at)
            self._at, self._used = now, used
        return self.load >= self.threshold


class Gather(Generic[T]):
    def __init__(self, max_events: int, catchup_s: float, behind: Callable[[], bool],
                 clock: Callable[[], float] = time.monotonic, busy_s: float = 0.0,
                 busy: Callable[[], bool] = lambda: False) -> None:
        self.max_events, self.catchup_s, self.behind, self.clock = max_events, catchup_s, behind, clock
        self.busy_s, self.busy = busy_s, busy
        self.pending: list[T] = []
        self._since = 0.0

    def add(self, taken: list[T]) -> list[T]:
        """The batch to process now (empty: keep gathering)."""
        if not self.pending:
            self._since = self.clock()
        self.pending += taken
        if len(self.pending) < self.max_events:
            waited = self.clock() - self._since
            if self.catchup_s > 0 and waited < self.catchup_s and self.behind():
                return []
            if self.busy_s > 0 and waited < self.busy_s and self.busy():
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
