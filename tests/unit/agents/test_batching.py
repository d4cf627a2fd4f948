"""Takes are gathered into one batch while the worker is behind, and handed over as they come when it is live."""

from __future__ import annotations

from agents.batching import Gather


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_live_takes_are_processed_as_they_come() -> None:
    g: Gather[int] = Gather(10, 0.05, behind=lambda: False, clock=Clock())
    assert g.add([1, 2]) == [1, 2] and g.add([3]) == [3] and g.due() == []


def test_while_behind_takes_are_gathered_up_to_the_batch_size() -> None:
    g: Gather[int] = Gather(5, 0.05, behind=lambda: True, clock=Clock())
    assert g.add([1, 2]) == [] and g.add([3]) == []
    assert g.add([4, 5, 6]) == [1, 2, 3, 4, 5, 6], "full: processed at once (a take is never split)"
    assert g.pending == []


def test_a_gathered_batch_goes_when_its_time_is_up_or_the_backlog_is_read() -> None:
    clock, behind = Clock(), [True]
    g: Gather[int] = Gather(100, 0.05, behind=lambda: behind[0], clock=clock)
    assert g.add([1]) == [] and g.due() == []
    clock.now += 0.02
    assert g.add([2]) == [] and g.due() == []
    clock.now += 0.04  # 60 ms since the first: the next take or the timer hands it over
    assert g.due() == [1, 2]
    assert g.add([3]) == []
    behind[0] = False  # the last of the backlog was read: nothing more is coming soon
    assert g.due() == [3]


def test_gathering_off_hands_over_every_take() -> None:
    g: Gather[int] = Gather(100, 0.0, behind=lambda: True, clock=Clock())
    assert g.add([1]) == [1]


def test_events_of_partitions_gone_in_a_rebalance_are_dropped() -> None:
    g: Gather[int] = Gather(100, 0.05, behind=lambda: True, clock=Clock())
    assert g.add([1, 2, 3, 4]) == []
    g.drop(lambda e: e % 2 == 0)
    assert g.flush() == [1, 3]
