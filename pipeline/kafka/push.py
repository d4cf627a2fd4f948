"""Send what the producer holds now, without waiting for its linger: for a caller that has handed over a whole batch
and is about to wait for its delivery anyway.

Why: the producer's linger (JOURNEY_PRODUCER_LINGER_MS) lets records sent one by one share a produce request. The
customer agent hands every record of a batch to the producer before it waits (agents/customer_events.py), so the
request is as full as it will get at that moment, and lingering on only adds the linger to every decision's latency.
Faust's own records (table changelogs, sent one by one from its buffer) keep lingering.

How: aiokafka (0.14) sends a partition's open batch when it is full or its linger is over; a closed batch counts as
ready. `push_open_batches` closes the accumulator's open batches and wakes the sender, the first half of what
aiokafka's own `flush_for_commit` does, without waiting for every batch. Records sent afterwards start new batches.
Private attributes, in this one place; without them (another aiokafka) it does nothing, and the linger applies.
"""

from __future__ import annotations

from typing import Any


def push_open_batches(producer: Any) -> bool:
    """Make an aiokafka producer send its open batches now. False when it could not (not started, unknown layout)."""
    accumulator = getattr(producer, "_message_accumulator", None)
    batches = getattr(accumulator, "_batches", None)
    waiter = getattr(accumulator, "_waiter_future", None)
    if not isinstance(batches, dict) or waiter is None:
        return False
    for queued in batches.values():
        for batch in queued:
            builder = getattr(batch, "_builder", None)
            if builder is not None and not builder.closed():
                builder.close()
    if not waiter.done():
        waiter.set_result(None)  # the sender waits on this future for data or the linger's end
    return True


def faust_push(app: Any) -> bool:
    """`push_open_batches` for a Faust app's producer (its aiokafka producer, once started)."""
    return push_open_batches(getattr(app.producer, "_producer", None))
