"""Faust's consumer hands each fetched message to its callback without four tasks per message.

Why: the loop that drains fetched records (`faust.transport.consumer.Consumer._drain_messages`) awaits every
message's callback through `Service.wait_first(callback(message), suspend_flow.wait())`, which wraps the callback,
the flow event and the consumer's stopped and crashed events in a task each, waits for the first, and cancels the
other three: about 23 µs of CPU per message on uvloop, for a callback that almost always finishes without waiting
(it puts the message on its stream's queue).

How: `install_eager_wait()` replaces `wait_first` on Faust's Consumer class with one that first runs the first
awaitable, when it is a coroutine, up to its first wait, in the caller's task. Finished by then (the usual case):
its result is returned as `wait_first` would return it, and no task is made. Waiting (a full stream queue): the
started coroutine goes on in a task of its own, and `wait_first` races it against the rest as before (`Started`
picks it up where it stopped), so a suspended flow or a stopping consumer still interrupts it. Nothing else is
patched. Only the consumer's own services use `wait_first` this way; drop this when Faust awaits the callback
directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

_original: Any = None


class Started:
    """A coroutine that already ran up to its first wait (it handed `yielded` to its task), awaitable from there."""

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self.coro, self.yielded = coro, yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, yielded = self.coro, self.yielded
        while True:
            try:
                sent = yield yielded  # the task waits on what the coroutine waits on, then resumes it
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as err:  # noqa: BLE001 - thrown in by the task (a cancellation): passed on
                try:
                    yielded = coro.throw(err)
                except StopIteration as done:
                    return done.value
            else:
                try:
                    yielded = coro.send(sent)
                except StopIteration as done:
                    return done.value


def install_eager_wait() -> None:
    """Make Faust's consumers run a message's callback without tasks when it needs no wait. Idempotent."""
    global _original
    from faust.transport.consumer import Consumer
    from mode.services import WaitResults

    if _original is not None:
        return
    original = Consumer.wait_first

    async def wait_first(self: Any, *coros: Any, timeout: Any = None) -> Any:
        first = coros[0] if coros else None
        if (timeout is None and asyncio.iscoroutine(first)
                and not self._stopped.is_set() and not self._crashed.is_set()):
            try:
                yielded = first.send(None)
            except StopIteration as done:
                _close(coros[1:])
                return WaitResults([first], [done.value], False)
            except BaseException:
                _close(coros[1:])  # the callback's error reaches the caller, as from Faust's own wait_first
                raise
            coros = (Started(first, yielded), *coros[1:])
        return await original(self, *coros, timeout=timeout)

    Consumer.wait_first = wait_first  # type: ignore[method-assign]
    _original = original


def _close(coros: tuple[Any, ...]) -> None:
    for other in coros:
        if asyncio.iscoroutine(other):
            other.close()  # never started: closed, so it is not reported as never awaited


def uninstall_eager_wait() -> None:
    """Restore Faust's own method (for tests). Idempotent."""
    global _original
    from faust.transport.consumer import Consumer

    if _original is not None:
        Consumer.wait_first = _original  # type: ignore[method-assign]
        _original = None
