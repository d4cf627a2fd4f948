"""`make bench` in miniature: a quick run of the pass-through and the plain loop on a real embedded broker prints a
table with numbers, and stops every process it started (broker included) before it exits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.procs import alive

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]
LABELS = ("raw aiokafka pass-through", "plain aiokafka loop (pure step)")


def _summary_cells(stdout: str, label: str) -> list[str]:
    row = next(line for line in stdout.splitlines() if label in line)  # the summary table comes first
    return [c.strip() for c in row.split("│")[1:-1]]


def test_quick_bench_prints_numbers_for_each_system_and_leaves_no_process_running(tmp_path: Path) -> None:
    results = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.e2e", "--quick", "--systems", "passthrough,loop", "--json", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]

    for label in LABELS:
        cells = _summary_cells(run.stdout, label)
        burst, sim, latencies = cells[1], cells[4], cells[5:9]
        assert all(float(c.replace(",", "")) > 0 for c in (burst, sim, *latencies)), cells
    loop_state = _summary_cells(run.stdout, LABELS[1])[9:11]
    assert all(float(c.replace(",", "")) > 0 for c in loop_state)  # the loop reports its states' sizes
    for label in LABELS:  # at rest the broker still answers the polls of the system and of the measuring consumer
        idle_system, idle_broker = (float(c) for c in _summary_cells(run.stdout, label)[11:13])
        assert idle_system >= 0 and idle_broker > 0, _summary_cells(run.stdout, label)

    data = json.loads(results.read_text())
    assert {r["system"] for r in data["results"]} == {"passthrough", "loop"}
    assert all(p["received"] == p["expected"] for r in data["results"] for p in r["phases"].values())
    started = [data["pids"]["broker"], *(pid for pids in data["pids"]["systems"].values() for pid in pids)]
    assert len(started) == 3 and all(started)
    assert [pid for pid in started if alive(pid)] == []


def test_quick_bench_of_the_worker_reads_its_own_latency_histogram_beside_the_measured_one(tmp_path: Path) -> None:
    """The worker's own journey_event_latency_seconds, scraped from its /metrics around each rate phase, appears in
    the Every phase table; it stops short of the measuring consumer's hop, so it cannot exceed the bench's figure by
    more than a bucket's interpolation."""
    results = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, "-m", "bench.e2e", "--quick", "--systems", "worker", "--rates", "500", "--json", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "no latency histogram" not in run.stdout + run.stderr

    phase = json.loads(results.read_text())["results"][0]["phases"]["500/s"]
    own50, own99 = phase["worker_p50_ms"], phase["worker_p99_ms"]
    assert own50 is not None and own99 is not None and 0 < own50 <= own99, phase
    measured99 = sorted(phase["latencies_ms"])[int(0.99 * len(phase["latencies_ms"]))]
    assert own99 <= 2 * measured99 + 10, (own99, measured99)
    # each second of sending, the CPU of the worker (it decides) and of the broker (it serves both sides)
    assert len(phase["cpu_series"]) >= 2 and all(c[1] > 0 and c[2] > 0 for c in phase["cpu_series"]), phase
    row = next(line for line in run.stdout.splitlines() if "journey worker" in line and "500/s" in line)
    assert f"{own50:,.1f} /" in row or f"{own50:,.0f} /" in row, row
    started = json.loads(results.read_text())["pids"]["systems"].values()
    assert [pid for pids in started for pid in pids if alive(pid)] == []


def test_the_tansu_reads_bench_prints_the_brokers_cpu_as_its_partitions_grow() -> None:
    run = subprocess.run([sys.executable, "-m", "bench.tansu_reads", "--rate", "200", "--seconds", "2", "--every", "1"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in run.stdout.splitlines() if line.startswith("│")]
    assert [r[0] for r in rows] == ["1", "2"], run.stdout
    assert [r[1] for r in rows] == ["50", "100"] and [r[3] for r in rows] == ["150", "200"], run.stdout
    assert all(float(r[2]) > 0 and float(r[4]) > 0 for r in rows), run.stdout
