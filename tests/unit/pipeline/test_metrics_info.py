"""The info metrics say what runs: the package version and the policy version, as labels of a constant 1."""

from __future__ import annotations

from pipeline.metrics import Metrics, series_names


def test_build_and_policy_versions_are_exposed_as_info_series() -> None:
    m = Metrics()
    m.describe("1.2.3", "2026-11-a")
    assert m.registry.get_sample_value("journey_build_info", {"version": "1.2.3"}) == 1
    assert m.registry.get_sample_value("journey_policy_info", {"version": "2026-11-a"}) == 1


def test_series_names_use_the_exposed_suffixes() -> None:
    names = series_names(Metrics())
    assert {"journey_events_total", "journey_batch_seconds_bucket", "journey_consumer_lag",
            "journey_build_info", "journey_rebalances_total"} <= names
    assert "journey_events" not in names
