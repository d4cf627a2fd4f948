"""A real Prometheus (Debian's binary) scrapes a real `journey worker` on the embedded broker and sees its series.

Both processes are started here and stopped before the test ends; Prometheus listens on a free loopback port and
keeps its storage in tmp_path. The alert rules of deploy/prometheus/alerts.yml are loaded too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.kafka.embedded import free_port
from tests.integration.pipeline.worker.test_pipeline import story
from tests.integration.support import journey, journey_env, stop_process, worker, write_jsonl

pytestmark = pytest.mark.integration
PROMETHEUS = shutil.which("prometheus")
RULES = Path(__file__).resolve().parents[4] / "deploy" / "prometheus" / "alerts.yml"


@contextmanager
def prometheus(tmp_path: Path, target: str) -> Iterator[str]:
    """A Prometheus scraping `target` every second; yields its base URL; always stopped (and reaped)."""
    assert PROMETHEUS is not None
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "rule_files": [str(RULES)],
              "scrape_configs": [{"job_name": "payment-journey", "static_configs": [{"targets": [target]}]}]}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    address = f"127.0.0.1:{free_port()}"
    with open(tmp_path / "prometheus.log", "ab") as log:
        proc = subprocess.Popen([PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
                                 f"--web.listen-address={address}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        yield f"http://{address}"
    finally:
        stop_process(proc)


def api(base: str, path: str, **params: str) -> Any:
    url = f"{base}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - our own loopback Prometheus
            return json.loads(resp.read())["data"]
    except OSError:
        return None  # not listening yet


def series(base: str, query: str) -> list[dict[str, Any]]:
    data = api(base, "query", query=query)
    return list(data["result"]) if data else []


def wait_for(base: str, queries: list[str], timeout: float) -> dict[str, list[dict[str, Any]]]:
    deadline = time.monotonic() + timeout
    found: dict[str, list[dict[str, Any]]] = {}
    while time.monotonic() < deadline and len(found) < len(queries):
        for q in queries:
            if q not in found and (result := series(base, q)):
                found[q] = result
        time.sleep(0.5)
    return found


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus missing: `make test` installs it (tools/ensure_apt.sh)")
def test_prometheus_scrapes_the_worker_and_sees_events_lag_and_versions(broker: Any, tmp_path: Path) -> None:
    env = journey_env(broker.bootstrap, tmp_path)
    events = write_jsonl(tmp_path / "events.jsonl", story(3))
    events_of = {t: f'journey_events_total{{topic="{t}"}}' for t in ("payments", "devices", "orders")}
    queries = ['up{job="payment-journey"} == 1', *events_of.values(), 'journey_consumer_lag{topic="payments"}',
               "journey_build_info", "journey_policy_info", "journey_rebalances_total > 0",
               'journey_event_latency_seconds_count{topic="payments"} > 0']
    with worker(env, tmp_path / "worker.log"), prometheus(tmp_path, f"127.0.0.1:{env['JOURNEY_WEB_PORT']}") as base:
        published = journey("publish", str(events), env=env)
        assert published.returncode == 0, published.stderr
        found = wait_for(base, queries, timeout=60)
        rules = api(base, "rules")
    assert set(found) == set(queries), f"no series for {set(queries) - set(found)}"
    assert all(s["metric"]["topic"] == t for t, q in events_of.items() for s in found[q])
    assert all("customer" not in label for q in events_of.values() for s in found[q] for label in s["metric"])
    loaded = {r["name"] for g in rules["groups"] for r in g["rules"]}
    assert {"JourneyWorkerDown", "JourneyConsumerLagGrowing", "JourneyDeadLetters", "JourneyNoDecisions"} <= loaded
