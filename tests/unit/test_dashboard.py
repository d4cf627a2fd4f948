"""deploy/grafana/payment-journey.json: loads, every panel queries Prometheus, and names only metrics we export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.unit.promql import known_series, metric_names

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "payment-journey.json"


def panels() -> list[dict[str, Any]]:
    return list(json.loads(DASHBOARD.read_text())["panels"])


def test_every_panel_names_only_metrics_declared_in_pipeline_metrics() -> None:
    known = known_series()
    for panel in panels():
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names and names <= known, (panel["title"], names - known)


def test_every_panel_uses_the_dashboards_prometheus_variable_and_has_a_unique_id() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert [v["name"] for v in dashboard["templating"]["list"] if v["type"] == "datasource"] == ["datasource"]
    ids = [p["id"] for p in panels()]
    assert len(ids) == len(set(ids))
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys()


def test_the_dashboard_shows_what_issue_11_asks_for() -> None:
    exprs = " ".join(t["expr"] for p in panels() for t in p["targets"])
    for needed in ("journey_decisions_total", "journey_batch_seconds_bucket", "journey_recoveries_total",
                   "journey_dunning_cases_opened_total", "journey_dead_letters_total", "journey_consumer_lag"):
        assert needed in exprs, needed
    assert "histogram_quantile" in exprs
