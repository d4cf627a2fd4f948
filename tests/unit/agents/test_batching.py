"""Takes are gathered into one batch while the worker is behind, and handed over as they come when it is live."""

from __future__ import annotations

from agents.batching import Gather, Load


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


def test_while_the_worker_is_busy_live_takes_are_gathered_for_a_few_milliseconds() -> None:
    clock, busy = Clock(), [True]
    g: Gather[int] = Gather(100, 0.3, behind=lambda: False, clock=clock, busy_s=0.015, busy=lambda: busy[0])
    assert g.add([1]) == [] and g.add([2]) == []
    clock.now += 0.016  # 16 ms since the first take: the next one hands the batch over
    assert g.add([3]) == [1, 2, 3]
    busy[0] = False  # the worker has cores to spare again: each take as it comes
    assert g.add([4]) == [4]


def test_a_busy_batch_is_handed_over_by_the_timer_when_no_take_follows() -> None:
    g: Gather[int] = Gather(100, 0.3, behind=lambda: False, clock=Clock(), busy_s=0.015, busy=lambda: True)
    assert g.add([1]) == []
    assert g.due() == [1], "nothing behind: the release timer does not let it wait for a take that may not come"


def test_a_busy_batch_never_grows_past_the_batch_size() -> None:
    g: Gather[int] = Gather(3, 0.3, behind=lambda: False, clock=Clock(), busy_s=0.015, busy=lambda: True)
    assert g.add([1, 2]) == [] and g.add([3]) == [1, 2, 3]


def test_the_load_is_the_processes_cpu_time_over_the_wall_clock_time_of_the_last_window() -> None:
    clock, cpu = Clock(), [10.0]
    load = Load(window_s=1.0, threshold=0.8, cpu=lambda: cpu[0], clock=clock)
    assert not load.busy()
    clock.now += 0.5
    cpu[0] += 0.5
    assert not load.busy(), "half a window: not measured yet"
    clock.now += 0.5
    cpu[0] += 0.4  # 0.9 s of CPU in 1 s
    assert load.busy() and abs(load.load - 0.9) < 1e-9
    clock.now += 1.0
    cpu[0] += 0.3
    assert not load.busy() and abs(load.load - 0.3) < 1e-9
