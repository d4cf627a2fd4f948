"""The Avro contract in schemas/: conventions every file keeps, and the generated event types in step."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import avro.schema
import fastavro
import pytest

from agents.rules.events import INPUT_TYPES, RECORD_TYPES
from pipeline.wire.codec import SCHEMAS_DIR

ROOT = Path(__file__).resolve().parents[4]
FILES = sorted(SCHEMAS_DIR.glob("*.avsc"))
INPUTS = sorted(t.SCHEMA for t in INPUT_TYPES)


def load(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def named_types(t: Any) -> list[dict[str, Any]]:
    """Every record and enum defined (not merely referenced) inside type t, t itself included."""
    if isinstance(t, list):
        return [n for branch in t for n in named_types(branch)]
    if not isinstance(t, dict):
        return []
    found = [t] if t.get("type") in ("record", "enum", "fixed") else []
    for f in t.get("fields", ()):
        found += named_types(f["type"])
    return found + named_types(t.get("items")) + named_types(t.get("values"))


def test_there_is_a_schema_for_every_record_type_and_a_record_type_for_every_schema() -> None:
    assert sorted(p.stem for p in FILES) == sorted(RECORD_TYPES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_schema_names_its_namespace_doc_topic_and_file(path: Path) -> None:
    schema = load(path)
    assert schema["type"] == "record"
    assert schema["name"] == path.stem
    assert schema["namespace"] == "paymentjourney"
    assert schema["doc"].strip()
    assert isinstance(schema["topic"], str) and schema["topic"] == RECORD_TYPES[path.stem].TOPIC


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_field_has_a_doc_and_pii_is_a_plain_true_flag(path: Path) -> None:
    for t in named_types(load(path)):
        for f in t.get("fields", ()):
            assert f.get("doc", "").strip(), f"{t['name']}.{f['name']} has no doc"
            assert f.get("pii", True) is True, f"{t['name']}.{f['name']}: pii must be true or absent"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_both_avro_implementations_accept_every_schema(path: Path) -> None:
    text = path.read_text()
    fastavro.parse_schema(json.loads(text))  # also checks that defaults fit their types
    assert avro.schema.parse(text).fullname == f"paymentjourney.{path.stem}"


@pytest.mark.parametrize("name", INPUTS)
def test_every_input_starts_with_event_id_customer_id_and_occurred_at(name: str) -> None:
    fields = load(SCHEMAS_DIR / f"{name}.avsc")["fields"]
    assert [f["name"] for f in fields[:3]] == ["event_id", "customer_id", "occurred_at"]
    assert fields[2]["type"] == {"type": "long", "logicalType": "timestamp-millis"}


def test_named_types_used_in_several_files_are_defined_identically_everywhere() -> None:
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    shared = set()
    for path in FILES:
        for t in named_types(load(path))[1:]:
            if t["name"] in seen:
                shared.add(t["name"])
                first_file, first = seen[t["name"]]
                assert t == first, f"{t['name']} differs between {first_file} and {path.name}"
            else:
                seen[t["name"]] = (path.name, t)
    assert {"Reason", "Channel", "Initiator"} <= shared


def test_notifications_carry_no_personal_data() -> None:
    for t in named_types(load(SCHEMAS_DIR / "Notification.avsc")):
        assert not [f["name"] for f in t.get("fields", ()) if f.get("pii")]


def test_the_generated_event_types_are_fresh() -> None:
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_events.py"), "--check"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert run.returncode == 0, "agents/rules/events.py is stale: run tools/gen_events.py"
