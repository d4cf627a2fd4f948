"""The PromQL name finder the dashboard and alert tests rely on."""

from __future__ import annotations

from tests.unit.promql import metric_names


def test_functions_labels_ranges_and_grouping_are_not_metric_names() -> None:
    expr = 'histogram_quantile(0.95, sum by (le) (rate(journey_batch_seconds_bucket{job="x"}[$__rate_interval])))'
    assert metric_names(expr) == {"journey_batch_seconds_bucket"}


def test_both_sides_of_a_binary_operation_are_found() -> None:
    expr = ("sum by (variant) (increase(journey_recoveries_total[1d])) / sum(journey_cases) by (variant) "
            "and on () (sum(increase(x_total[15m] offset 5m)) or vector(0)) == 1e3")
    assert metric_names(expr) == {"journey_recoveries_total", "journey_cases", "x_total"}
