"""pipeline.sim.simulation_start: a seed's population does not depend on the hour it is generated."""

from __future__ import annotations

import pytest

import pipeline.sim as sim
from pipeline.sim import DAY, generate, simulation_start


def test_a_history_starts_at_a_utc_midnight_and_ends_over_two_weeks_ago(monkeypatch: pytest.MonkeyPatch) -> None:
    now_ms = 1_764_620_000_000 + 13 * 3_600_000 + 123  # some afternoon
    monkeypatch.setattr(sim.time, "time_ns", lambda: now_ms * 1_000_000)
    start = simulation_start(30)
    assert start % DAY == 0
    assert now_ms - (start + 30 * DAY) >= 15 * DAY


def test_the_same_seed_gives_the_same_population_at_any_hour_of_the_day(monkeypatch: pytest.MonkeyPatch) -> None:
    populations = []
    for hour in (1, 10, 21):
        now_ms = 1_764_547_200_000 + hour * 3_600_000  # a UTC midnight, then that hour
        monkeypatch.setattr(sim.time, "time_ns", lambda now_ms=now_ms: now_ms * 1_000_000)
        populations.append([x.event for x in generate(11, 30, simulation_start(30), 30)])
    assert populations[0] == populations[1] == populations[2]
