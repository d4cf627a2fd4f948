"""Schema compatibility as Confluent Schema Registry defines it, decided by Avro's schema resolution rules.

`problems(reader, writer)` lists why data written with `writer` cannot be read with `reader` (empty: it can). It
walks the two schemas by the rules of the Avro specification ("Schema Resolution"), so the answer does not depend
on which values happen to be tried, and then confirms it with fastavro itself: sample values generated from the
writer's schema are written with it and read back with the reader's through fastavro's resolution.

The levels (`check`) are Confluent's: BACKWARD means the new schema reads data written with the latest version,
FORWARD the latest reads data written with the new one, FULL both; the _TRANSITIVE forms compare against every
version, NONE against none.
"""

from __future__ import annotations

import io
import json
from typing import Any

import fastavro
from fastavro.read import SchemaResolutionError
from fastavro.schema import SchemaParseException, UnknownType, expand_schema
from fastavro.utils import generate_many

LEVELS = ("NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE")
DEFAULT_LEVEL = "BACKWARD"  # Confluent's default
_PROMOTIONS = {"int": {"long", "float", "double"}, "long": {"float", "double"}, "float": {"double"},
               "string": {"bytes"}, "bytes": {"string"}}
_SAMPLES = 16


class InvalidSchema(ValueError):
    """Not an Avro schema fastavro can parse."""


def parse(schema: str) -> Any:
    """The schema parsed and fully expanded (named types inlined); InvalidSchema when it is not Avro."""
    try:
        return expand_schema(fastavro.parse_schema(json.loads(schema), _write_hint=False))
    except (ValueError, TypeError, KeyError, SchemaParseException, UnknownType) as err:
        raise InvalidSchema(f"{type(err).__name__}: {err}") from None


def check(level: str, new: str, versions: list[str]) -> list[str]:
    """Why `new` may not follow `versions` (oldest first) under a compatibility level; empty when it may."""
    if level not in LEVELS:
        raise ValueError(f"unknown compatibility level {level!r}")
    if level == "NONE" or not versions:
        return []
    against = versions if level.endswith("_TRANSITIVE") else versions[-1:]
    found: list[str] = []
    for old in against:
        if level.startswith(("BACKWARD", "FULL")):
            found += [f"the new schema cannot read data written with an existing one: {p}" for p in problems(new, old)]
        if level.startswith(("FORWARD", "FULL")):
            found += [f"an existing schema cannot read data written with the new one: {p}" for p in problems(old, new)]
    return found


def problems(reader: str, writer: str) -> list[str]:
    """Why data written with `writer` cannot be read with `reader`; empty when it can."""
    r, w = parse(reader), parse(writer)
    found = _walk(r, w, "")
    if not found:
        found = _confirm(r, w)
    return found


def _type(s: Any) -> str:
    if isinstance(s, list):
        return "union"
    if isinstance(s, dict):
        return _type(s["type"])
    return str(s)


def _walk(r: Any, w: Any, at: str) -> list[str]:
    where = at or "the top level"
    rt, wt = _type(r), _type(w)
    if wt == "union":
        return [p for branch in w for p in _walk(r, branch, at)]
    if rt == "union":
        if any(not _walk(branch, w, at) for branch in r):
            return []
        return [f"{where}: no branch of the reader's union reads the writer's {wt}"]
    if rt != wt:
        if rt in _PROMOTIONS.get(wt, ()):
            return []
        return [f"{where}: the writer's {wt} cannot be read as {rt}"]
    if rt in ("record", "enum", "fixed") and r["name"] != w["name"] and w["name"] not in r.get("aliases", ()):
        return [f"{where}: the writer's {wt} {w['name']} is not the reader's {r['name']}"]
    if rt == "record":
        return _record(r, w, at)
    if rt == "enum":
        missing = [s for s in w["symbols"] if s not in r["symbols"]]
        if missing and "default" not in r:
            return [f"{where}: the reader's enum {r['name']} lacks symbols {missing} and has no default"]
    if rt == "fixed" and r["size"] != w["size"]:
        return [f"{where}: fixed sizes differ ({w['size']} written, {r['size']} read)"]
    if rt == "array":
        return _walk(r["items"], w["items"], f"{at}[]")
    if rt == "map":
        return _walk(r["values"], w["values"], f"{at}{{}}")
    return []


def _record(r: dict[str, Any], w: dict[str, Any], at: str) -> list[str]:
    written = {f["name"]: f for f in w["fields"]}
    found: list[str] = []
    for field in r["fields"]:
        path = f"{at}.{field['name']}" if at else field["name"]
        names = [field["name"], *field.get("aliases", ())]
        source = next((written[n] for n in names if n in written), None)
        if source is not None:
            found += _walk(field["type"], source["type"], path)
        elif "default" not in field:
            found.append(f"{path}: the writer has no such field and the reader gives it no default")
    return found


def _confirm(r: Any, w: Any) -> list[str]:
    """fastavro's own resolution over values generated from the writer's schema."""
    reader, writer = fastavro.parse_schema(r), fastavro.parse_schema(w)
    try:
        for value in generate_many(writer, _SAMPLES):
            buf = io.BytesIO()
            fastavro.schemaless_writer(buf, writer, value)
            buf.seek(0)
            fastavro.schemaless_reader(buf, writer, reader)
    except SchemaResolutionError as err:
        return [f"fastavro cannot resolve the schemas: {err}"]
    return []
