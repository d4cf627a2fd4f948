"""The built wheel works on its own: installed into a fresh venv, run from a directory outside the source tree, it
finds its schemas, state schema history and policies inside the package, replays a file and runs a worker.

The fresh venv gets the wheel only (`--no-deps`, no downloads); a .pth file added after the install lets it import
the dependencies from the project venv's site-packages (an editable install's own .pth is not processed there, so
the source tree stays out of reach).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.rules.events import PaymentDecision
from pipeline.kafka.embedded import free_port
from tests.integration.support import collect, stop_process

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
# what deploy/Dockerfile copies into its build stage: enough to build the wheel
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "pipeline", "agents", "schemas",
           "policies")


@pytest.fixture
def installed(tmp_path: Path) -> Iterator[Path]:
    """bin/ of a fresh venv holding only the wheel built from this checkout."""
    dist, venv, src = tmp_path / "dist", tmp_path / "venv", tmp_path / "src"
    src.mkdir()
    for name in SOURCES:  # a copy, so that building leaves no build/ folder in the source tree
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(src)],
                   check=True, capture_output=True, timeout=300)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    wheel = next(dist.glob("payment_journey-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet",
                    str(wheel)], check=True, capture_output=True, timeout=300)
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "project-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    yield venv / "bin"


def outside_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KAFKA_", "JOURNEY_", "SCHEMA_REGISTRY", "PYTHON"))}
    return {**env, **extra}


def run(bin_dir: Path, *args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "journey"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=180)


def status(url: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_the_installed_package_reads_its_own_data_not_the_source_tree(installed: Path, tmp_path: Path) -> None:
    probe = ("import pipeline, pipeline.resources as r; "
             "print(pipeline.__file__); print(r.SCHEMAS_DIR); print(r.POLICIES_DIR)")
    out = subprocess.run([str(installed / "python"), "-c", probe], cwd=tmp_path, env=outside_env(),
                         capture_output=True, text=True, check=True).stdout.split()
    assert all(Path(p).is_relative_to(tmp_path / "venv") for p in out), out
    assert (Path(out[1]) / "state").is_dir() and (Path(out[2]) / "declines.toml").is_file()


def test_the_installed_cli_replays_events_from_outside_the_source_tree(installed: Path, tmp_path: Path) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = outside_env(JOURNEY_DATA_DIR=str(work / "data"))
    sim = run(installed, "simulate", "--customers", "6", "--days", "3", "--out", "events.jsonl", cwd=work, env=env)
    assert sim.returncode == 0, sim.stderr
    attempts = sum(json.loads(line)["type"] == "PaymentAttempted" for line in (work / "events.jsonl").open())
    done = run(installed, "replay", "events.jsonl", "--out", "out.jsonl", cwd=work, env=env)
    assert done.returncode == 0, done.stderr
    decisions = [r for r in map(json.loads, (work / "out.jsonl").open()) if r["type"] == "PaymentDecision"]
    assert attempts > 0 and len(decisions) == attempts


def test_an_installed_worker_decides_on_the_embedded_broker(installed: Path, broker: Any, tmp_path: Path) -> None:
    work, data = tmp_path / "elsewhere", tmp_path / "data"
    work.mkdir()
    env = outside_env(KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap, JOURNEY_TANSU="1", JOURNEY_DATA_DIR=str(data),
                      JOURNEY_WEB_PORT=str(free_port()), JOURNEY_SESSION_TIMEOUT="3", JOURNEY_TIMER_INTERVAL="0.5",
                      JOURNEY_API_TOKEN="t0ken", JOURNEY_LINK_SECRET="wheel-test")
    assert run(installed, "simulate", "--customers", "4", "--days", "2", "--out", "events.jsonl",
               cwd=work, env=env).returncode == 0
    payments = {json.loads(line)["value"]["payment_id"] for line in (work / "events.jsonl").open()
                if json.loads(line)["type"] == "PaymentAttempted"}
    with open(tmp_path / "worker.log", "wb") as log:
        proc = subprocess.Popen([str(installed / "journey"), "worker"], cwd=work, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        published = run(installed, "publish", "events.jsonl", cwd=work, env=env)
        assert published.returncode == 0, published.stderr
        got = collect(broker.bootstrap, data, ["decisions"], timeout=120, until=lambda rs: payments <= {
            r.payment_id for _t, r, _h in rs if isinstance(r, PaymentDecision)})
        web = f"http://127.0.0.1:{env['JOURNEY_WEB_PORT']}"
        assert [status(f"{web}/metrics"), status(f"{web}/"), status(f"{web}/table/", "t0ken"),
                status(f"{web}/", "t0ken")] == [200, 401, 404, 200]  # Faust's table pages are off, even with it
        # the explorer's pages and scripts come from the installed package; its API needs the token
        assert [status(f"{web}/explorer/"), status(f"{web}/explorer/static/customer.js"),
                status(f"{web}/api/overview"), status(f"{web}/api/overview", "t0ken")] == [200, 200, 401, 200]
    finally:
        stop_process(proc)
    log_text = (tmp_path / "worker.log").read_text()
    decided = {r.payment_id for _t, r, _h in got if isinstance(r, PaymentDecision)}
    assert payments and payments <= decided, log_text[-3000:]
    assert "dead-letter" not in log_text.lower() and "Traceback" not in log_text
