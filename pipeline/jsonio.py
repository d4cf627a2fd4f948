"""JSON <-> records for people and scripts: `journey publish` input, `journey tail` and `journey replay` output.

In JSON, timestamps are ISO-8601 UTC strings (`2026-11-01T10:00:00Z`) or epoch milliseconds; money is integer minor
units; enum values are the lower-case words of the schemas. Errors name the line and the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

import fastavro
from fastavro.validation import ValidationError

from agents.rules.events import RECORD_TYPES
from pipeline.codec import load_schemas, physical
from pipeline.errors import InputError


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    return load_schemas()


@cache
def _parsed(name: str) -> Any:
    return fastavro.parse_schema(physical(_schemas()[name]))


def parse_timestamp(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise InputError(f"{field}: expected a timestamp, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"{field}: {value!r} is not an ISO-8601 timestamp") from None
        if parsed.tzinfo is None or parsed.utcoffset() != UTC.utcoffset(None):
            raise InputError(f"{field}: {value!r} must be UTC (end it with Z or +00:00)")
        return int(parsed.timestamp() * 1000)
    raise InputError(f"{field}: expected an ISO-8601 UTC string or epoch milliseconds, got {type(value).__name__}")


def _is_timestamp(t: Any) -> bool:
    return isinstance(t, dict) and t.get("logicalType") == "timestamp-millis"


def _convert(t: Any, value: Any, path: str) -> Any:
    """Timestamps to epoch ms, recursively through unions, records and arrays."""
    if value is None:
        return None
    if _is_timestamp(t):
        return parse_timestamp(value, path)
    if isinstance(t, list):
        for branch in t:
            if branch != "null":
                return _convert(branch, value, path)
    if isinstance(t, dict) and t.get("type") == "record" and isinstance(value, Mapping):
        return _fields(t, value, path)
    if isinstance(t, dict) and t.get("type") == "array" and isinstance(value, list):
        return [_convert(t["items"], v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _fields(schema: Mapping[str, Any], value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    known = {f["name"] for f in schema["fields"]}
    extra = sorted(set(value) - known)
    if extra:
        raise InputError(f"{schema['name']}: unknown field(s) {', '.join(prefix + e for e in extra)}")
    for f in schema["fields"]:
        path = prefix + f["name"]
        if f["name"] in value:
            out[f["name"]] = _convert(f["type"], value[f["name"]], path)
        elif "default" in f:
            out[f["name"]] = f["default"]
        else:
            raise InputError(f"{schema['name']}: missing required field {path}")
    return out


def record_from_json(type_name: str, value: Mapping[str, Any]) -> Any:
    schemas = _schemas()
    if type_name not in schemas:
        raise InputError(f"unknown record type {type_name!r}; known: {', '.join(sorted(schemas))}")
    if not isinstance(value, Mapping):
        raise InputError(f"{type_name}: value must be a JSON object")
    data = _fields(schemas[type_name], value)
    try:
        fastavro.validation.validate(data, _parsed(type_name), raise_errors=True)
    except ValidationError as err:
        fields = sorted({str(e).split(" ")[0] for e in err.errors}) if err.errors else []
        raise InputError(f"{type_name}: invalid value for {', '.join(fields) or 'a field'}") from None
    return RECORD_TYPES[type_name].from_record(data)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _to_json(t: Any, value: Any) -> Any:
    if value is None:
        return None
    if _is_timestamp(t):
        return _iso(value)
    if isinstance(t, list):
        for branch in t:
            if branch != "null":
                return _to_json(branch, value)
    if isinstance(t, dict) and t.get("type") == "record":
        return {f["name"]: _to_json(f["type"], value.get(f["name"])) for f in t["fields"]}
    if isinstance(t, dict) and t.get("type") == "array":
        return [_to_json(t["items"], v) for v in value]
    return value


def record_to_json(record: Any) -> dict[str, Any]:
    """{"type": Name, "value": {...}} with ISO-8601 UTC timestamps."""
    schema = _schemas()[type(record).SCHEMA]
    return {"type": schema["name"], "value": _to_json(schema, record.to_record())}


def parse_line(line: str, lineno: int) -> tuple[str, Any]:
    """One `journey publish` line -> (topic, record)."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise InputError(f"not JSON ({err.msg})") from None
    if not isinstance(obj, dict) or not {"topic", "type", "value"} <= set(obj):
        raise InputError('expected an object with "topic", "type" and "value"')
    record = record_from_json(str(obj["type"]), obj["value"])
    expected = _schemas()[obj["type"]]["topic"]
    if obj["topic"] != expected:
        raise InputError(f"{obj['type']} belongs on topic {expected!r}, not {obj['topic']!r}")
    return expected, record
