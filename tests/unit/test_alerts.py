"""deploy/prometheus/alerts.yml: valid for promtool, documented, naming only our metrics, and each alert fires
when it should and not otherwise (`promtool test rules` over synthetic series, built here from the rules file).

promtool comes from Debian's `prometheus` package; `make test` installs it when missing (tools/ensure_apt.sh).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.promql import known_series, metric_names

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: `make test` installs it as root (tools/ensure_apt.sh)")
WORKER = 'job="payment-journey",instance="w0"'


def rules() -> dict[str, dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {r["alert"]: r for g in groups for r in g["rules"]}


def fires(alert: str, at: str, **labels: str) -> dict[str, Any]:
    rule = rules()[alert]
    return {"eval_time": at, "alertname": alert, "exp_alerts": [
        {"exp_labels": {**labels, **rule["labels"]}, "exp_annotations": rule["annotations"]}]}


def silent(alert: str, at: str) -> dict[str, Any]:
    return {"eval_time": at, "alertname": alert, "exp_alerts": []}


def case(series: dict[str, str], *checks: dict[str, Any]) -> dict[str, Any]:
    return {"interval": "1m", "input_series": [{"series": s, "values": v} for s, v in series.items()],
            "alert_rule_test": list(checks)}


def latencies(slow: bool) -> dict[str, str]:
    """journey_event_latency_seconds of payments: 10 decisions a minute, all between 1 and 2.5 s (slow) or all
    within 50 ms."""
    name = f'journey_event_latency_seconds_bucket{{{WORKER},topic="payments"'
    counts = {"0.05": "0x40" if slow else "0+10x40", "1.0": "0x40" if slow else "0+10x40", "2.5": "0+10x40",
              "+Inf": "0+10x40"}
    return {f'{name},le="{le}"}}': values for le, values in counts.items()}


CASES = [
    case({f"up{{{WORKER}}}": "1 1 0x10"},
         silent("JourneyWorkerDown", "2m"), fires("JourneyWorkerDown", "6m", job="payment-journey", instance="w0")),
    case({f'journey_consumer_lag{{{WORKER},topic="payments",partition="0"}}': "0+100x40",
          f'journey_consumer_lag{{{WORKER},topic="orders",partition="0"}}': "5000x40"},  # large but not growing
         silent("JourneyConsumerLagGrowing", "12m"), fires("JourneyConsumerLagGrowing", "30m", topic="payments")),
    case({f'journey_dead_letters_total{{{WORKER},topic="payments",reason="undecodable"}}': "0 0 0 1 1x20"},
         silent("JourneyDeadLetters", "2m"),
         fires("JourneyDeadLetters", "5m", topic="payments", reason="undecodable"),
         silent("JourneyDeadLetters", "20m")),
    case({f'journey_events_total{{{WORKER},topic="payments",type="PaymentAttempted"}}': "0+10x40",
          f'journey_decisions_total{{{WORKER},outcome="approve",sca_strategy="none"}}': "0+10x5 50x35"},
         silent("JourneyNoDecisions", "10m"), fires("JourneyNoDecisions", "30m")),
    case({f'journey_consumer_lag{{{WORKER},topic="payments",partition="0"}}': "0+50x40"},  # stuck: no series at all
         fires("JourneyNoDecisions", "30m")),
    case({f'journey_events_total{{{WORKER},topic="payments",type="PaymentAttempted"}}': "0+10x40",
          f'journey_decisions_total{{{WORKER},outcome="approve",sca_strategy="none"}}': "0+10x40"},
         silent("JourneyNoDecisions", "30m")),
    case({f"journey_changelog_failures_total{{{WORKER}}}": "0 0 0 0 2 2x30"},
         silent("JourneyChangelogWritesFailing", "3m"),
         fires("JourneyChangelogWritesFailing", "6m", instance="w0"),
         silent("JourneyChangelogWritesFailing", "25m")),
    case(latencies(slow=True), silent("JourneyDecisionsSlow", "8m"), fires("JourneyDecisionsSlow", "20m")),
    case(latencies(slow=False), silent("JourneyDecisionsSlow", "20m")),
    case({f"journey_rebalances_total{{{WORKER}}}": "1 1 1 2 3 4 5 6 7 8 9 10 11 12"},
         silent("JourneyRebalanceStorm", "4m"), fires("JourneyRebalanceStorm", "12m")),
]


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60)


@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    run = promtool("check", "rules", str(RULES))
    assert run.returncode == 0, run.stdout + run.stderr


@needs_promtool
def test_each_alert_fires_when_it_should_and_only_then(tmp_path: Path) -> None:
    spec = {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": CASES}
    (tmp_path / "alerts_test.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    run = promtool("test", "rules", str(tmp_path / "alerts_test.yml"))
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_alert_is_tested_documented_and_names_only_our_metrics() -> None:
    tested = {c["alertname"] for t in CASES for c in t["alert_rule_test"] if c["exp_alerts"]}
    known = known_series()
    for name, rule in rules().items():
        assert name in tested, f"{name} has no case where it fires"
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert len(rule["annotations"]["description"]) > 80 and rule["annotations"]["summary"]
        assert metric_names(rule["expr"]) <= known, (name, metric_names(rule["expr"]) - known)


def test_the_issue_11_alerts_are_there() -> None:
    wanted = {"JourneyWorkerDown", "JourneyConsumerLagGrowing", "JourneyDeadLetters", "JourneyNoDecisions"}
    assert wanted <= set(rules())
