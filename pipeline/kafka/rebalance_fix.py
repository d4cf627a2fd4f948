"""Workarounds for two Faust races that lose records of newly assigned partitions after a rebalance.

Both leave the consumer's position past records no agent ever got, with nothing to seek back: the partition waits for
the next rebalance or restart (its commits stop at the first lost offset, and the event-time alignment waits for it
until JOURNEY_ALIGN_MAX_HOLD_MS releases the other partitions' events). Seen as a takeover that never decides a killed
worker's partition (tests/integration/pipeline/worker/test_takeover.py, about 1 run in 6 on a loaded machine).

1. **The queues emptied at the end of recovery** (faust-streaming 0.15.3; upstream issue faust-streaming/faust#596).
   Every stream's input queue is a `FlowControlQueue` with `clear_on_resume=True`, and `FlowControlEvent.resume()`
   empties all of them, also when the flow already runs. Faust's recovery resumes the flow once the changelogs are
   read, and again at the end of `Recovery.on_recovery_completed` (faust/tables/recovery.py), after it has resumed
   the stream partitions and while it seeks them to their committed offsets (one request per partition: a few hundred
   ms on a loaded machine). What the fetcher delivers in that window is in an agent's queue when the second
   `resume()` empties it. Fix: `resume()` clears only when it ends a suspension (a rebalance suspends and clears
   first); what a running flow put in the queues belongs to the current assignment.
2. **No seek back for a partition without a committed offset.** A fetch in flight when a rebalance starts is handed
   the new assignment (Faust passes it its live set of active partitions), so it can return records of newly assigned
   partitions while the flow is stopped; Faust drops them and calls `perform_seek` to go back to the committed
   offsets. aiokafka's `seek_to_committed` seeks only partitions whose committed offset is above 0, so a partition
   nobody committed yet (the dead worker had not committed it) stays past the dropped records. Fix: Faust's
   `seek_to_committed` also puts such stream partitions back where a consumer starts without a commit
   (`consumer_auto_offset_reset`; offset 0 for a commit of 0). Changelog partitions are left alone: Faust positions
   them itself.

A record may so be delivered twice (the seek goes back over what the queues kept); the agents deduplicate by event id.

When to drop them: each has a test showing the library's own behaviour, which fails once the library is fixed; then
drop that fix. 1: tests/unit/pipeline/kafka/test_rebalance_fix.py::test_faust_loses_records_delivered_during_the_seek;
2: tests/integration/pipeline/kafka/test_rebalance_fix.py (aiokafka's seek_to_committed). With both gone, delete this
module, its tests and its one call (pipeline/worker/run.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

_originals: dict[str, Any] = {}  # mode's and Faust's own methods while the fix is installed


def unpositioned(committed: Mapping[Any, int | None], is_stream: Callable[[Any], bool]) -> tuple[list[Any], list[Any]]:
    """The stream partitions aiokafka's `seek_to_committed` left where the fetcher had them, as (committed at 0,
    never committed): it seeks only offsets above 0."""
    zero = [tp for tp, offset in committed.items() if offset == 0 and is_stream(tp)]
    never = [tp for tp, offset in committed.items() if offset is None and is_stream(tp)]
    return zero, never


async def seek_to_committed_or_start(consumer: Any, is_stream: Callable[[Any], bool],
                                     reset: str) -> Mapping[Any, int | None]:
    """aiokafka's `seek_to_committed`, then the partitions it left alone to where a group consumer starts them."""
    committed: Mapping[Any, int | None] = await consumer.seek_to_committed()
    zero, never = unpositioned(committed, is_stream)
    for tp in zero:
        consumer.seek(tp, 0)
    if never and reset == "earliest":
        await consumer.seek_to_beginning(*never)
    elif never and reset == "latest":
        await consumer.seek_to_end(*never)
    return committed


def install_rebalance_fix() -> None:
    """Keep Faust from losing newly assigned partitions' records in a rebalance (both fixes above). Idempotent."""
    from faust.transport.drivers import aiokafka as driver
    from mode.utils.queues import FlowControlEvent

    if _originals:
        return
    resume = FlowControlEvent.resume

    def resume_suspended(self: Any) -> None:
        if not self.is_active():  # ends a suspension: set the flow going and clear, as mode does
            resume(self)
        # else the flow runs already (its resume event is set): nothing to do, and nothing to clear

    async def seek_to_committed(self: Any) -> Mapping[Any, int | None]:
        consumer = self._ensure_consumer()
        is_stream = lambda tp: not self.consumer._is_changelog_tp(tp)  # noqa: E731 - Faust's own test
        return await self.call_thread(seek_to_committed_or_start, consumer, is_stream,
                                      str(self.app.conf.consumer_auto_offset_reset))

    _originals["resume"] = resume
    _originals["seek_to_committed"] = driver.AIOKafkaConsumerThread.seek_to_committed
    FlowControlEvent.resume = resume_suspended  # type: ignore[method-assign]
    driver.AIOKafkaConsumerThread.seek_to_committed = seek_to_committed  # type: ignore[method-assign,assignment]


def uninstall_rebalance_fix() -> None:
    """Restore mode's and Faust's own methods (for tests). Idempotent."""
    from faust.transport.drivers import aiokafka as driver
    from mode.utils.queues import FlowControlEvent

    if _originals:
        FlowControlEvent.resume = _originals.pop("resume")  # type: ignore[method-assign]
        driver.AIOKafkaConsumerThread.seek_to_committed = _originals.pop(  # type: ignore[method-assign]
            "seek_to_committed")
