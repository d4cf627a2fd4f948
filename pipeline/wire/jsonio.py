"""JSON <-> records for people and scripts: `journey publish` input, `journey tail` and `replay` output.

A line is `{"topic": "payments", "type": "PaymentAttempted", "value": {...}}`; other keys (the partition and
offset `journey tail` prints) are ignored. In values, timestamps are ISO-8601 UTC strings (`...T10:00:00Z`) or
epoch milliseconds; money is integer minor units; enum values are the lower-case words of the schemas;
optional fields may be left out and take their schema defaults. Errors name the field (also as
`InputError.field`) and never echo personal data.

The schemas come from `schemas_dir` (Settings.schemas_dir where a caller has one; the repository's schemas/ by
default), each directory read once.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import fastavro
from fastavro.validation import ValidationError, validate

from agents.rules.events import RECORD_TYPES
from agents.rules.timeunits import iso_utc
from pipeline.errors import InputError
from pipeline.wire.codec import SCHEMAS_DIR, load_schemas, physical

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}


@cache
def _schemas(schemas_dir: Path) -> dict[str, dict[str, Any]]:
    return load_schemas(schemas_dir)


@cache
def _named(name: str, schemas_dir: Path) -> dict[str, Any]:
    """Named types (records, enums) of one schema file by short and full name: references like `Channel`."""
    found: dict[str, Any] = {}

    def walk(t: Any, namespace: str) -> None:
        if isinstance(t, list):
            for branch in t:
                walk(branch, namespace)
        elif isinstance(t, dict):
            if t.get("type") in ("record", "enum", "fixed"):
                ns = t.get("namespace", namespace)
                found[t["name"]] = found[f"{ns}.{t['name']}"] = t
                namespace = ns
            for f in t.get("fields", ()):
                walk(f["type"], namespace)
            walk(t.get("items"), namespace)
            walk(t.get("values"), namespace)

    walk(_schemas(schemas_dir)[name], "")
    return found


@cache
def _parsed(name: str, schemas_dir: Path) -> Any:
    return fastavro.parse_schema(physical(_schemas(schemas_dir)[name]))


def parse_timestamp(value: Any, field: str) -> int:
    """An ISO-8601 UTC string or epoch milliseconds -> epoch milliseconds (sub-millisecond digits dropped)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str):
        wanted = "an ISO-8601 UTC timestamp or epoch milliseconds"
        raise InputError(f"{field}: expected {wanted}, got {_kind(value)}", field=field)
    shown = value[:40]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"{field}: {shown!r} is not an ISO-8601 timestamp", field=field) from None
    if parsed.tzinfo is None:
        advice = "write UTC with a Z, e.g. 2026-11-01T10:00:00Z"
        raise InputError(f"{field}: {shown!r} has no time zone; {advice}", field=field)
    if parsed.utcoffset() != timedelta(0):
        raise InputError(f"{field}: {shown!r} must be UTC (end it with Z or +00:00)", field=field)
    return (parsed - EPOCH) // _MS  # integers: float seconds * 1000 loses a millisecond now and then


def format_timestamp(ms: int) -> str | int:
    """Epoch milliseconds -> `2026-11-01T10:00:00.000Z`; a value outside years 1-9999 stays a number."""
    try:
        return iso_utc(ms)
    except OverflowError:
        return ms


def _kind(value: Any) -> str:
    """What a JSON value is, without saying what it holds."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "an object"


def _is_timestamp(t: Any) -> bool:
    return isinstance(t, dict) and t.get("logicalType") == "timestamp-millis"


def _from_json(t: Any, value: Any, path: str, names: Mapping[str, Any]) -> Any:
    """One JSON value -> the Avro datum fastavro writes (timestamps as epoch ms), checked against type t."""
    if isinstance(t, str) and t in names:
        return _from_json(names[t], value, path, names)
    if isinstance(t, list):
        if value is None and "null" in t:
            return None
        branches = [b for b in t if b != "null"]
        for branch in branches[:-1]:  # a union of several types: the first that takes the value wins
            try:
                return _from_json(branch, value, path, names)
            except InputError:
                continue
        return _from_json(branches[-1], value, path, names)
    if _is_timestamp(t):
        return parse_timestamp(value, path)
    if isinstance(t, dict):
        kind = t["type"]
        if kind == "record":
            return _record_from_json(t, value, path, names)
        if kind == "enum":
            if isinstance(value, str) and value in t["symbols"]:
                return value
            got = repr(value[:40]) if isinstance(value, str) else _kind(value)
            raise InputError(f"{path}: {got} is not one of {', '.join(t['symbols'])}", field=path)
        if kind == "array":
            _expect(isinstance(value, list), "a list", value, path)
            return [_from_json(t["items"], v, f"{path}[{i}]", names) for i, v in enumerate(value)]
        if kind == "map":
            _expect(isinstance(value, dict), "an object", value, path)
            return {k: _from_json(t["values"], v, f"{path}.{k}", names) for k, v in value.items()}
        return _from_json(kind, value, path, names)
    return _primitive(t, value, path)


def _primitive(t: str, value: Any, path: str) -> Any:
    if t in _RANGES:
        _expect(isinstance(value, int) and not isinstance(value, bool), "an integer", value, path)
        low, high = _RANGES[t]
        if not low <= value <= high:
            raise InputError(f"{path}: out of range for an Avro {t}", field=path)
    elif t in ("double", "float"):
        _expect(isinstance(value, int | float) and not isinstance(value, bool), "a number", value, path)
    elif t == "string":
        _expect(isinstance(value, str), "a string", value, path)
    elif t == "boolean":
        _expect(isinstance(value, bool), "true or false", value, path)
    elif t == "null":
        _expect(value is None, "null", value, path)
    else:
        raise InputError(f"{path}: the schema's type {t!r} is not supported in JSON input", field=path)
    return value


def _expect(ok: bool, wanted: str, value: Any, path: str) -> None:
    if not ok:
        raise InputError(f"{path}: expected {wanted}, got {_kind(value)}", field=path)


def _record_from_json(schema: Mapping[str, Any], value: Any, path: str,
                      names: Mapping[str, Any]) -> dict[str, Any]:
    _expect(isinstance(value, Mapping), "an object", value, path)
    known = {f["name"] for f in schema["fields"]}
    extra = sorted(map(str, set(value) - known))
    if extra:
        raise InputError(f"{path}: unknown field(s) {', '.join(extra)}", field=f"{path}.{extra[0]}")
    out: dict[str, Any] = {}
    for f in schema["fields"]:
        here = f"{path}.{f['name']}"
        if f["name"] in value:
            out[f["name"]] = _from_json(f["type"], value[f["name"]], here, names)
        elif "default" in f:
            out[f["name"]] = copy.deepcopy(f["default"])
        else:
            raise InputError(f"{here}: missing, and it is required", field=here)
    return out


def record_from_json(type_name: str, value: Mapping[str, Any], schemas_dir: Path = SCHEMAS_DIR) -> Any:
    """`{"type": type_name, "value": value}` -> the events.py record.

    InputError names the bad field as a dotted path from the type: `PaymentDecision.reasons[0].code`.
    """
    schemas = _schemas(schemas_dir)
    if type_name not in schemas:
        raise _unknown_type(type_name, schemas_dir)
    data = _record_from_json(schemas[type_name], value, type_name, _named(type_name, schemas_dir))
    try:  # belt and braces: the walk above should already have caught everything fastavro would
        validate(data, _parsed(type_name, schemas_dir), raise_errors=True)
    except ValidationError as err:
        named = [e.field for e in err.errors if getattr(e, "field", "")]
        fields = sorted({f"{type_name}.{f.rpartition('.')[2]}" for f in named})
        raise InputError(f"invalid value for {', '.join(fields) or type_name}",
                         field=fields[0] if fields else None) from None
    return RECORD_TYPES[type_name].from_record(data)


def _to_json(t: Any, value: Any, names: Mapping[str, Any]) -> Any:
    if value is None:
        return None
    if isinstance(t, str) and t in names:
        return _to_json(names[t], value, names)
    if isinstance(t, list):
        branches = [b for b in t if b != "null"]
        return _to_json(branches[0], value, names) if len(branches) == 1 else value
    if _is_timestamp(t):
        return format_timestamp(value)
    if isinstance(t, dict):
        kind = t["type"]
        if kind == "record":
            return {f["name"]: _to_json(f["type"], value.get(f["name"]), names) for f in t["fields"]}
        if kind == "array":
            return [_to_json(t["items"], v, names) for v in value]
        if kind == "map":
            return {k: _to_json(t["values"], v, names) for k, v in value.items()}
    return value


def record_to_json(record: Any, schemas_dir: Path = SCHEMAS_DIR) -> dict[str, Any]:
    """{"type": Name, "value": {...}} with timestamps as ISO-8601 UTC strings (`...T10:00:00.000Z`)."""
    name = type(record).SCHEMA
    schema = _schemas(schemas_dir)[name]
    return {"type": name, "value": _to_json(schema, record.to_record(), _named(name, schemas_dir))}


def parse_line(line: str, lineno: int, schemas_dir: Path = SCHEMAS_DIR) -> tuple[str, Any]:
    """One `journey publish` line -> (topic, record). InputError carries `lineno`; callers print the line."""
    try:
        return _parse_line(line, schemas_dir)
    except InputError as err:
        err.lineno = lineno
        raise


def _parse_line(line: str, schemas_dir: Path) -> tuple[str, Any]:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise InputError(f"not JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(obj, dict) or not {"topic", "type", "value"} <= set(obj):
        raise InputError('expected an object with "topic", "type" and "value"')
    type_name = obj["type"]
    schemas = _schemas(schemas_dir)
    if not isinstance(type_name, str) or type_name not in schemas:
        raise _unknown_type(type_name, schemas_dir)
    expected = schemas[type_name]["topic"]
    if obj["topic"] != expected:
        got = str(obj["topic"])[:60]
        raise InputError(f"{type_name} belongs on topic {expected!r}, not {got!r}", field="topic")
    return expected, record_from_json(type_name, obj["value"], schemas_dir)


def _unknown_type(type_name: Any, schemas_dir: Path) -> InputError:
    known = ", ".join(sorted(_schemas(schemas_dir)))
    return InputError(f"unknown record type {str(type_name)[:60]!r}; known: {known}", field="type")
