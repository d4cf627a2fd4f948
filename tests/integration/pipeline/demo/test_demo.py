"""`journey demo`, the main job, as a user runs it: it ends with a summary and leaves no process behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.support import Process, descendants

pytestmark = pytest.mark.integration


def run_watching_descendants(command: list[str], env: dict[str, str], out: Path, err: Path,
                             timeout: float) -> tuple[int, set[Process]]:
    """Run `command` to its end, noting every process it starts (polling /proc); (exit code, processes seen).

    On a timeout the command and everything it started are killed, so a failing test leaks nothing either.
    """
    seen: set[Process] = set()
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr)
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            seen |= descendants(proc.pid)
            time.sleep(0.2)
    finally:
        finished = proc.poll() is not None
        if not finished:
            proc.kill()
            proc.wait()
            kill_all(seen)
    if not finished:
        pytest.fail(f"the demo did not finish within {timeout:g} s")
    return proc.returncode, seen


def kill_all(processes: set[Process]) -> None:
    for p in processes:
        if p.running:
            os.kill(p.pid, signal.SIGKILL)


def test_demo_decides_every_attempt_through_the_real_broker_and_cleans_up(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "JOURNEY_", "SCHEMA_REGISTRY"))}
    out, err = tmp_path / "demo.out", tmp_path / "demo.err"
    code, started = run_watching_descendants(
        [sys.executable, "-m", "pipeline.cli", "demo", "--customers", "40", "--timeout", "180"],
        {**env, "JOURNEY_DATA_DIR": str(tmp_path / "data")}, out, err, timeout=400)
    leftover = sorted(f"{p.pid} {p.command}" for p in started if p.running)
    kill_all(started)  # stop what the demo left behind before failing on it
    stdout, stderr = out.read_text(), err.read_text()
    assert code == 0, stderr[-3000:] + stdout[-3000:]
    assert "What came out" in stdout and "MISSING" not in stdout
    assert "Checkout decisions by who really made the attempt" in stdout
    assert "serial_empty_box" in stdout and "Parked, not lost" in stdout
    # redirected, rich prints the progress bar's last state: every event processed, with the elapsed time and ETA
    assert re.search(r"processed \S+ (\d+)/\1 \d+:\d\d:\d\d eta ", stderr), "the demo shows its progress to the end"
    assert "Schema Registry API on http://127.0.0.1:" in stderr, "standard tools can read the demo's topics"
    commands = [p.command for p in started]
    assert any(" broker --listener-url " in c for c in commands), commands  # the embedded Tansu was seen
    assert any(c.endswith("-m pipeline.cli worker") for c in commands), commands  # and the worker
    assert leftover == []
