"""The CLI as a user types it (commands that need no broker)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from pipeline import topics
from pipeline.settings import ENV_VARS

COMMANDS = ("demo", "worker", "broker", "simulate", "publish", "topics", "tail", "replay")


def journey(*args: str, cwd: Path | None = None, env_extra: dict[str, str] | None = None,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "JOURNEY_"))}
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True,
                          env={**env, **(env_extra or {})}, cwd=cwd, input=stdin, timeout=120)


def test_an_invalid_policy_file_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text("")
    bad = tmp_path / "bad.toml"
    bad.write_text('version = "x"\n[checkout]\nbase_score = "lots"\n')
    run = journey("replay", str(events), "--policy", str(bad))
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and "bad.toml" in run.stderr


def test_top_level_help_lists_every_command() -> None:
    run = journey("--help")
    assert run.returncode == 0
    for cmd in COMMANDS:
        assert cmd in run.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    run = journey(command, "--help")
    assert run.returncode == 0, run.stderr
    assert "usage: journey " + command in run.stdout


def test_publish_without_a_broker_says_how_to_get_one(tmp_path: Path) -> None:
    events = tmp_path / "e.jsonl"
    events.write_text("")
    run = journey("publish", str(events), env_extra={"JOURNEY_DATA_DIR": str(tmp_path)})
    assert run.returncode == 2
    assert "journey broker" in run.stderr and "KAFKA_BOOTSTRAP_SERVERS" in run.stderr


def test_publish_reports_invalid_lines_by_number_and_publishes_nothing(tmp_path: Path) -> None:
    events = tmp_path / "bad.jsonl"
    events.write_text(
        json.dumps({"topic": "devices", "type": "DeviceSeen", "value": {"event_id": "e1"}}) + "\n"
        + "this is not json\n"
    )
    run = journey("publish", str(events), env_extra={"JOURNEY_DATA_DIR": str(tmp_path)})
    assert run.returncode == 1
    assert "line 1" in run.stderr and "line 2" in run.stderr
    assert "nothing published" in run.stderr


def test_publish_and_replay_refuse_absurd_values_by_line_as_the_worker_does(tmp_path: Path) -> None:
    good = {"event_id": "e1", "customer_id": "c1", "occurred_at": "2026-11-01T10:00:00Z", "order_id": "o1",
            "channel": "online", "amount_minor": 4200, "currency": "EUR"}
    lines = [{"topic": "orders", "type": "OrderPlaced", "value": good},
             {"topic": "orders", "type": "OrderPlaced", "value": {**good, "event_id": "e2", "amount_minor": -10}},
             {"topic": "orders", "type": "OrderPlaced", "value": {**good, "event_id": "e3", "currency": "QQQ"}}]
    events = tmp_path / "absurd.jsonl"
    events.write_text("".join(json.dumps(x) + "\n" for x in lines))
    for command in (("publish", str(events)), ("replay", str(events))):
        run = journey(*command, env_extra={"JOURNEY_DATA_DIR": str(tmp_path)})
        assert run.returncode != 0, command
        assert "line 1" not in run.stderr
        assert "line 2: OrderPlaced.amount_minor: invalid value (rule negative)" in run.stderr
        assert "line 3: OrderPlaced.currency: invalid value (rule unknown_currency)" in run.stderr


def test_simulate_writes_a_replayable_event_file(tmp_path: Path) -> None:
    out = tmp_path / "sim.jsonl"
    run = journey("simulate", "--customers", "12", "--seed", "3", "--out", str(out))
    assert run.returncode == 0, run.stderr
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines and {"topic", "type", "value"} <= set(lines[0])
    replayed = journey("replay", str(out), "--out", str(tmp_path / "out.jsonl"))
    assert replayed.returncode == 0, replayed.stderr
    outputs = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    attempts = sum(1 for x in lines if x["type"] == "PaymentAttempted")
    assert sum(1 for x in outputs if x["type"] == "PaymentDecision") == attempts


def strict_policy(tmp_path: Path) -> Path:
    default = Path(__file__).resolve().parents[4] / "policies" / "default.toml"
    strict = tmp_path / "strict.toml"
    strict.write_text(default.read_text().replace('version = "', 'version = "strict-', 1)
                      .replace("challenge_from = 65", "challenge_from = 20", 1)
                      .replace("decline_from = 75", "decline_from = 21", 1))
    return strict


def test_replay_compare_prints_the_outcome_matrix_and_every_change_naming_both_policies(tmp_path: Path) -> None:
    events = tmp_path / "sim.jsonl"
    assert journey("simulate", "--customers", "15", "--seed", "4", "--out", str(events)).returncode == 0
    strict = strict_policy(tmp_path)
    run = journey("replay", str(events), "--compare", str(strict))
    assert run.returncode == 0, run.stderr
    first_line = run.stdout.splitlines()[0]
    assert "decisions change under strict-" in first_line and "strict.toml" in first_line, first_line
    assert "compared with" in first_line and "default.toml" in first_line, first_line
    assert not first_line.startswith("0 of"), first_line
    assert "PaymentDecision: outcome before (rows) -> after (columns)" in run.stdout
    assert "Every change" in run.stdout and "left out" not in run.stdout
    assert not [line for line in run.stdout.splitlines() if line.startswith("{")], "no records without --out"
    changed = int(first_line.split()[0])
    limited = journey("replay", str(events), "--compare", str(strict), "--limit", "2",
                      "--out", str(tmp_path / "out.jsonl"))
    assert limited.returncode == 0, limited.stderr
    assert f"{changed - 2} more change(s) left out by --limit 2" in limited.stdout
    assert (tmp_path / "out.jsonl").read_text().startswith("{"), "--out still gets the records"


def test_replay_without_compare_or_out_writes_records_to_standard_output(tmp_path: Path) -> None:
    events = tmp_path / "sim.jsonl"
    assert journey("simulate", "--customers", "5", "--seed", "4", "--out", str(events)).returncode == 0
    run = journey("replay", str(events))
    assert run.returncode == 0, run.stderr
    assert run.stdout and all(json.loads(line)["topic"] for line in run.stdout.splitlines())


def test_version_names_the_package_version() -> None:
    run = journey("--version")
    assert run.returncode == 0 and run.stdout.strip() == f"journey {version('payment-journey')}"


def test_help_ends_with_every_setting_and_its_environment_variable() -> None:
    run = journey("--help")
    assert run.returncode == 0
    epilog = run.stdout[run.stdout.index("Settings, from the environment"):]
    assert [var for var, _ in ENV_VARS.values() if var not in epilog] == []


def test_topics_lists_every_topic_with_its_records() -> None:
    run = journey("topics")
    assert run.returncode == 0, run.stderr
    for t in topics.TOPICS:
        assert t.name in run.stdout
        assert all(name in run.stdout for name in topics.records_on(t.name))
    assert "customer_id" in run.stdout


def test_replay_reads_events_with_the_schemas_of_journey_schemas(tmp_path: Path) -> None:
    only_devices = tmp_path / "schemas"
    only_devices.mkdir()
    repo_schemas = Path(__file__).resolve().parents[4] / "schemas"
    (only_devices / "DeviceSeen.avsc").write_text((repo_schemas / "DeviceSeen.avsc").read_text())
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps({"topic": "orders", "type": "OrderPlaced", "value": {}}) + "\n")
    run = journey("replay", str(events), env_extra={"JOURNEY_SCHEMAS": str(only_devices)})
    assert run.returncode == 2
    assert "line 1: unknown record type 'OrderPlaced'; known: DeviceSeen" in run.stderr
