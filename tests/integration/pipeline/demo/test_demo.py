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


def test_demo_explore_keeps_the_worker_up_for_the_explorer_until_enter_then_stops_everything(tmp_path: Path) -> None:
    import json
    import urllib.request

    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "JOURNEY_", "SCHEMA_REGISTRY"))}
    with open(tmp_path / "demo.out", "w") as stdout:  # a file: a full pipe would block the demo's summary
        proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "demo", "--customers", "12", "--explore"],
                                env={**env, "JOURNEY_DATA_DIR": str(tmp_path / "data")}, stdin=subprocess.PIPE,
                                stdout=stdout, stderr=subprocess.PIPE, text=True)
    seen: set[Process] = set()
    try:
        url, lines = None, []
        deadline = time.monotonic() + 400
        while url is None and time.monotonic() < deadline:
            line = proc.stderr.readline()  # type: ignore[union-attr]
            assert line, "the demo ended before printing the explorer's URL:\n" + "".join(lines)
            lines.append(line)
            seen |= descendants(proc.pid)
            found = re.search(r"Explorer: (http://127\.0\.0\.1:\d+/explorer/)", line)
            url = found.group(1) if found else None
        assert url is not None, "".join(lines)
        seen |= descendants(proc.pid)
        with urllib.request.urlopen(url, timeout=10) as page:  # noqa: S310 - loopback
            assert page.status == 200 and "payment-journey explorer" in page.read().decode()
        with urllib.request.urlopen(url.replace("/explorer/", "/api/overview"), timeout=10) as answer:  # noqa: S310
            overview = json.loads(answer.read())
        assert sum(overview["decisions"].values()) > 0, "the worker still holds what the demo decided"
        assert proc.poll() is None, "the demo waits for Enter"
        _, err = proc.communicate("\n", timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        leftover = sorted(f"{p.pid} {p.command}" for p in seen if p.running)
        kill_all(seen)  # also when the test failed above: the demo's worker and broker must not outlive it
    assert proc.returncode == 0, err[-3000:]
    assert "What came out" in (tmp_path / "demo.out").read_text() and "stopping the worker and the broker" in err
    assert any(c.command.endswith("-m pipeline.cli worker") for c in seen)
    assert leftover == [], "Enter stops the worker and the broker"
