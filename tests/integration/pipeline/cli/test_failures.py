"""Clear failures: an unreachable broker or a busy web port is one sentence on stderr and an exit status, never a
traceback, for every command that talks to Kafka."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from pipeline.kafka.embedded import free_port
from tests.integration.support import journey, journey_env

pytestmark = pytest.mark.integration

COMMANDS = [("tail", "payments"), ("publish", "-"), ("simulate", "--customers", "2", "--days", "1"), ("worker",)]


def closed_port() -> int:
    return free_port()  # free a moment ago: nothing listens on it


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_an_unreachable_broker_is_one_sentence_and_exit_1(command: tuple[str, ...], tmp_path: Path) -> None:
    env = journey_env(f"127.0.0.1:{closed_port()}", tmp_path)
    run = journey(*command, env=env, input_text="", timeout=90)
    assert run.returncode == 1, run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines == [f"journey {command[0]}: no Kafka broker answered on {env['KAFKA_BOOTSTRAP_SERVERS']}; check "
                     "KAFKA_BOOTSTRAP_SERVERS and that the broker is running"], run.stderr


def test_a_busy_web_port_is_one_sentence_and_a_failed_exit(broker: Any, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = journey("worker", env=journey_env(broker.bootstrap, tmp_path, JOURNEY_WEB_PORT=str(port)), timeout=90)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines() == [
        f"journey worker: web port 127.0.0.1:{port} is in use; set JOURNEY_WEB_PORT to a free port "
        "(or JOURNEY_WEB_ENABLED=0)"]


def test_a_worker_on_a_real_cluster_refuses_the_development_link_secret(tmp_path: Path) -> None:
    env = journey_env(f"127.0.0.1:{closed_port()}", tmp_path, JOURNEY_TANSU="0")
    run = journey("worker", env=env, timeout=60)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "journey worker: JOURNEY_LINK_SECRET is not set: a worker on a real Kafka cluster needs its own secret for "
        "payment links (e.g. `openssl rand -hex 32`), not the public development value"]


def test_a_worker_on_a_real_cluster_refuses_the_development_pseudonym_secret(tmp_path: Path) -> None:
    env = journey_env(f"127.0.0.1:{closed_port()}", tmp_path, JOURNEY_TANSU="0", JOURNEY_LINK_SECRET="a-real-one")
    run = journey("worker", env=env, timeout=60)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "journey worker: JOURNEY_PSEUDONYM_SECRET is not set: a worker on a real Kafka cluster needs its own secret "
        "to pseudonymise identifiers (e.g. `openssl rand -hex 32`), not the public development value"]


def test_journey_erase_refuses_an_id_that_is_not_a_customer_id(tmp_path: Path) -> None:
    env = journey_env(f"127.0.0.1:{closed_port()}", tmp_path)
    run = journey("erase", "x" * 200, env=env, timeout=60)
    assert run.returncode == 2 and "is not a customer id" in run.stderr and "Traceback" not in run.stderr
