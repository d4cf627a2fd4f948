"""pipeline.sim.simulation_start: a seed's population does not depend on the hour it is generated."""

from __future__ import annotations

from pipeline.sim import DAY, generate, simulation_start

MIDNIGHT = 1_764_547_200_000  # 2025-12-01 00:00 UTC


def test_a_history_starts_at_a_utc_midnight_and_ends_over_two_weeks_ago() -> None:
    now_ms = MIDNIGHT + 13 * 3_600_000 + 123  # some afternoon
    start = simulation_start(30, now_ms)
    assert start % DAY == 0
    assert now_ms - (start + 30 * DAY) >= 15 * DAY


def test_the_same_seed_gives_the_same_population_at_any_hour_of_the_day() -> None:
    populations = [[x.event for x in generate(11, 30, simulation_start(30, MIDNIGHT + hour * 3_600_000), 30)]
                   for hour in (1, 10, 21)]
    assert populations[0] == populations[1] == populations[2]


def test_without_a_time_it_starts_from_the_clock() -> None:
    import time

    now_ms = time.time_ns() // 1_000_000
    assert simulation_start(30) in {simulation_start(30, now_ms), simulation_start(30, now_ms + DAY)}
