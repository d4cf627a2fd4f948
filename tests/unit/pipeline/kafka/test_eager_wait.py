"""pipeline/kafka/eager_wait.py: Faust's consumer runs a message's callback in its own task when it needs no wait,
and still races a callback that waits against the flow event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import faust
import pytest

from pipeline.kafka.eager_wait import install_eager_wait, uninstall_eager_wait


@pytest.fixture
async def consumer(tmp_path: Any) -> AsyncIterator[Any]:
    # made inside the test's running loop: the consumer service schedules its tasks on its own loop
    app = faust.App("eager-wait-test", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False,
                    datadir=str(tmp_path))
    install_eager_wait()
    try:
        yield app.consumer  # Faust's worker consumer service; connects nothing until started
    finally:
        uninstall_eager_wait()


async def test_a_callback_that_needs_no_wait_runs_in_the_callers_task(consumer: Any) -> None:
    ran_in: list[Any] = []

    async def callback() -> str:
        ran_in.append(asyncio.current_task())
        return "put"

    flow = asyncio.Event()
    result = await consumer.wait_first(callback(), flow.wait())
    assert ran_in == [asyncio.current_task()]  # Faust's own wait_first runs it in a task of its own
    assert result.results == ["put"] and not result.stopped


async def test_a_callback_that_waits_finishes_in_a_task_of_its_own(consumer: Any) -> None:
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    tasks: list[Any] = []

    async def callback() -> str:
        tasks.append(asyncio.current_task())
        got = await gate
        tasks.append(asyncio.current_task())
        await asyncio.sleep(0)  # a bare yield, then a second wait
        return got + "!"

    flow = asyncio.Event()
    waiting = asyncio.ensure_future(consumer.wait_first(callback(), flow.wait()))
    await asyncio.sleep(0.01)
    assert not waiting.done() and len(tasks) == 1
    gate.set_result("room")
    result = await asyncio.wait_for(waiting, 1)
    assert result.results == ["room!"] and tasks[0] is not tasks[1]


async def test_a_waiting_callback_is_cancelled_when_the_flow_is_suspended(consumer: Any) -> None:
    cancelled = asyncio.Event()

    async def callback() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    flow = asyncio.Event()
    suspended = flow.wait()
    waiting = asyncio.ensure_future(consumer.wait_first(callback(), suspended))
    await asyncio.sleep(0.01)
    flow.set()
    result = await asyncio.wait_for(waiting, 1)
    assert result.done == [suspended] and not result.stopped
    await asyncio.wait_for(cancelled.wait(), 1)


async def test_a_callback_that_fails_at_once_raises_to_the_caller(consumer: Any) -> None:
    async def callback() -> None:
        raise ValueError("bad message")

    flow = asyncio.Event()
    with pytest.raises(ValueError, match="bad message"):
        await consumer.wait_first(callback(), flow.wait())


async def test_a_stopped_consumer_takes_the_general_path(consumer: Any) -> None:
    consumer._stopped.set()

    async def callback() -> str:
        return "late"

    flow = asyncio.Event()
    result = await consumer.wait_first(callback(), flow.wait())
    assert result.stopped  # as Faust's own: a stopping consumer reports no winner
