"""`journey demo`, the main job, as a user runs it: it ends with a summary and leaves no process behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_demo_decides_every_attempt_through_the_real_broker_and_cleans_up(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "JOURNEY_", "SCHEMA_REGISTRY"))}
    run = subprocess.run([sys.executable, "-m", "pipeline.cli", "demo", "--customers", "40", "--timeout", "180"],
                         env={**env, "JOURNEY_DATA_DIR": str(tmp_path)}, capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stderr[-3000:] + run.stdout[-3000:]
    out = run.stdout
    assert "What came out" in out and "MISSING" not in out
    assert "Checkout decisions by who really made the attempt" in out
    assert "serial_empty_box" in out and "Parked, not lost" in out
    leftover = subprocess.run(["pgrep", "-f", f"JOURNEY_DATA_DIR={tmp_path}|{tmp_path}/demo"], capture_output=True)
    assert leftover.stdout == b""
    assert "processed [" in run.stderr, "the demo shows progress"
