"""The two ways Faust loses newly assigned partitions' records in a rebalance, and the fixes (rebalance_fix.py).

1. Faust's own `Recovery.on_recovery_completed` runs on an app with no broker: the consumer's assignment, its seek and
   the fetcher's start are stand-ins, and the seek delivers a record into an agent's queue the way the fetcher does on
   a busy machine (the stream partitions are resumed before the seek). No timing is involved.
2. The seek back after dropped records: aiokafka's own `seek_to_committed` on a real broker is in
   tests/integration/pipeline/kafka/test_rebalance_fix.py; here, which partitions the fix positions, and how.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.types import TP

from pipeline.kafka.rebalance_fix import (
    install_rebalance_fix,
    seek_to_committed_or_start,
    uninstall_rebalance_fix,
    unpositioned,
)

RECORD = "payments[0]@1, fetched while the recovery seeks"


@pytest.fixture
def fixed() -> Iterator[None]:
    install_rebalance_fix()
    try:
        yield
    finally:
        uninstall_rebalance_fix()


def app_with_a_stream(tmp_path: Path) -> tuple[faust.App, Any]:
    app = faust.App("flow-fix-test", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False,
                    datadir=str(tmp_path))
    queue = app.topic("payments").clone(is_iterator=True).queue  # an agent's input queue, as its stream gets it
    return app, queue


async def end_of_recovery(app: faust.App, queue: Any) -> None:
    """A rebalance, the changelogs read ("Resuming flow..."), then Faust's own end of recovery."""
    consumer: Any = app.consumer
    consumer.assignment = lambda: {TP("payments", 0)}

    async def perform_seek() -> None:  # one committed-offset request per partition; the fetcher delivers meanwhile
        queue.put_nowait(RECORD)

    async def started() -> None:
        return None

    consumer.perform_seek = perform_seek
    app._fetcher.maybe_start = started  # type: ignore[attr-defined]
    app.flow_control.suspend()  # the rebalance: suspend and clear (faust/app/base.py _on_partitions_revoked)
    app.flow_control.clear()
    app.flow_control.resume()  # the changelogs are read
    await app.tables.recovery.on_recovery_completed(generation_id=app.consumer_generation_id)


async def test_faust_loses_records_delivered_during_the_seek(tmp_path: Path) -> None:
    """The reason for fix 1: when this fails, Faust keeps them itself and that fix can go."""
    app, queue = app_with_a_stream(tmp_path)
    await end_of_recovery(app, queue)
    assert queue.empty()


async def test_with_the_fix_the_record_reaches_the_agent(tmp_path: Path, fixed: None) -> None:
    app, queue = app_with_a_stream(tmp_path)
    await end_of_recovery(app, queue)
    assert queue.get_nowait() == RECORD


async def test_ending_a_suspension_still_clears_the_queues(tmp_path: Path, fixed: None) -> None:
    app, queue = app_with_a_stream(tmp_path)
    app.flow_control.resume()
    queue.put_nowait("delivered while flowing")
    app.flow_control.resume()  # flowing already: kept
    assert queue.qsize() == 1
    app.flow_control.suspend()
    assert not app.flow_control.is_active()
    app.flow_control.resume()  # ends the suspension: cleared, as mode does
    assert app.flow_control.is_active() and queue.empty()


def test_install_is_idempotent_and_uninstall_restores_mode_and_faust() -> None:
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
    from mode.utils.queues import FlowControlEvent

    own = FlowControlEvent.resume, AIOKafkaConsumerThread.seek_to_committed
    install_rebalance_fix()
    patched = FlowControlEvent.resume, AIOKafkaConsumerThread.seek_to_committed
    install_rebalance_fix()
    assert (FlowControlEvent.resume, AIOKafkaConsumerThread.seek_to_committed) == patched
    assert patched[0] is not own[0] and patched[1] is not own[1]
    uninstall_rebalance_fix()
    uninstall_rebalance_fix()
    assert (FlowControlEvent.resume, AIOKafkaConsumerThread.seek_to_committed) == own


def test_only_stream_partitions_aiokafka_does_not_seek_are_positioned() -> None:
    committed = {("payments", 0): None, ("payments", 1): 0, ("payments", 2): 5,
                 ("x-changelog", 0): None, ("x-changelog", 1): 0}
    zero, never = unpositioned(committed, lambda tp: not tp[0].endswith("-changelog"))
    assert zero == [("payments", 1)] and never == [("payments", 0)]


class RecordingConsumer:
    """The part of aiokafka's consumer the fix uses, recording what it is asked."""

    def __init__(self, committed: dict[Any, int | None]) -> None:
        self.committed, self.calls = committed, []  # type: list[tuple[str, Any]]

    async def seek_to_committed(self) -> dict[Any, int | None]:
        self.calls.append(("seek_to_committed", None))
        return self.committed

    def seek(self, tp: Any, offset: int) -> None:
        self.calls.append(("seek", (tp, offset)))

    async def seek_to_beginning(self, *tps: Any) -> bool:
        self.calls.append(("seek_to_beginning", tps))
        return True

    async def seek_to_end(self, *tps: Any) -> bool:
        self.calls.append(("seek_to_end", tps))
        return True


@pytest.mark.parametrize(("reset", "last"), [("earliest", ("seek_to_beginning", (("payments", 0),))),
                                             ("latest", ("seek_to_end", (("payments", 0),))),
                                             ("none", ("seek", (("payments", 1), 0)))])
async def test_uncommitted_stream_partitions_start_where_a_group_consumer_would(reset: str, last: Any) -> None:
    consumer = RecordingConsumer({("payments", 0): None, ("payments", 1): 0, ("payments", 2): 5})
    committed = await seek_to_committed_or_start(consumer, lambda tp: True, reset)
    assert committed == consumer.committed  # Faust's perform_seek reads them
    assert consumer.calls[:2] == [("seek_to_committed", None), ("seek", (("payments", 1), 0))]
    assert consumer.calls[-1] == last
