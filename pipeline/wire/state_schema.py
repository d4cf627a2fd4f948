"""Avro schemas of the rules' state dataclasses, derived from their type hints, and the history of those shipped.

`schema_for(cls)` maps the hints agents.rules.records converts onto Avro: a dataclass is a record (named after
the class, in namespace `paymentjourney.state`), `tuple[X, ...]` and `frozenset[X]` arrays, `dict[str, X]` maps,
`X | None` a union with null, a `Literal` of names an enum, `tuple[X, Y]` a record of fields `_0`, `_1`; int is
long, float double. Dataclass defaults become Avro defaults, so Avro resolution fills a field added since a
value was written. Enums and fixed tuples are named `<Record>_<field>`.

The history is one file per shipped schema, `schemas/state/<Class>.<fingerprint>.avsc`, written by
`make state-schemas`: values in RocksDB and changelogs name the schema they were written with by its fingerprint
(the CRC-64-AVRO of its Parsing Canonical Form), and decoding finds that schema here.
`incompatibilities(writer, reader)` says, by field path, what would stop old values from resolving.
"""

from __future__ import annotations

import json
import re
from dataclasses import MISSING
from pathlib import Path
from typing import Any

from fastavro.schema import fingerprint as avro_fingerprint
from fastavro.schema import to_parsing_canonical_form

from agents.rules.identity import IdentityNode
from agents.rules.journey import CustomerState
from agents.rules.records import FieldInfo, fields_of, positional, shape, to_plain
from agents.rules.reviews import OpenReviews
from pipeline.wire.codec import SCHEMAS_DIR

NAMESPACE = "paymentjourney.state"
HISTORY_DIR = SCHEMAS_DIR / "state"
STORED: tuple[type, ...] = (CustomerState, IdentityNode, OpenReviews)
"""The state types the worker's tables store (pipeline.worker.app registers a codec for each)."""

_AVRO_PLAIN = {str: "string", int: "long", float: "double", bool: "boolean", bytes: "bytes"}
_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PROMOTIONS = {"int": {"long", "float", "double"}, "long": {"float", "double"}, "float": {"double"},
               "string": {"bytes"}, "bytes": {"string"}}


def schema_for(cls: type) -> dict[str, Any]:
    """The Avro record schema of a state dataclass."""
    root = _Derivation().record(cls)
    assert isinstance(root, dict)  # the first definition of a name is the full record
    return {"type": "record", "name": root["name"], "namespace": NAMESPACE, "fields": root["fields"]}


def fingerprint(schema: Any) -> bytes:
    """The schema's 8-byte CRC-64-AVRO fingerprint (as Avro's single-object encoding writes it)."""
    return bytes.fromhex(avro_fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


def history_path(cls: type, fp: bytes, history_dir: Path = HISTORY_DIR) -> Path:
    return history_dir / f"{cls.__name__}.{fp.hex()}.avsc"


def write_history(cls: type, history_dir: Path = HISTORY_DIR) -> Path | None:
    """Add the current schema of `cls` to the history: the path written, or None when it already was there."""
    schema = schema_for(cls)
    path = history_path(cls, fingerprint(schema), history_dir)
    if path.exists():
        return None
    history_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, indent=2) + "\n")
    return path


def history(cls: type, history_dir: Path = HISTORY_DIR) -> dict[bytes, dict[str, Any]]:
    """Every shipped schema of `cls` by fingerprint. ValueError when a file's name is not its fingerprint."""
    found = {}
    for path in sorted(history_dir.glob(f"{cls.__name__}.*.avsc")):
        schema = json.loads(path.read_text())
        fp = fingerprint(schema)
        if path != history_path(cls, fp, history_dir):
            raise ValueError(f"{path} holds the schema with fingerprint {fp.hex()}: the file was edited or renamed")
        found[fp] = schema
    return found


class _Derivation:
    """One schema's worth of named types: each record, enum and fixed tuple is defined once, then referenced."""

    def __init__(self) -> None:
        self.defined: dict[str, object] = {}

    def define(self, name: str, what: object) -> bool:
        """True the first time `name` is seen; TypeError when two different things want the same name."""
        if name not in self.defined:
            self.defined[name] = what
            return True
        if self.defined[name] != what:
            raise TypeError(f"two state types are named {name}: {self.defined[name]!r} and {what!r}")
        return False

    def record(self, cls: type) -> dict[str, Any] | str:
        if not self.define(cls.__name__, cls):
            return cls.__name__
        fields = []
        for f in fields_of(cls):
            avro = self.type(f.hint, f"{cls.__name__}_{f.name}")
            field: dict[str, Any] = {"name": f.name, "type": avro}
            if f.default is not MISSING:
                field["default"] = _json_default(to_plain(f.default, f.hint))
                if isinstance(avro, list) and union_value_first(f):
                    field["type"] = avro[::-1]  # a union's default must be of its first branch
            fields.append(field)
        return {"type": "record", "name": cls.__name__, "fields": fields}

    def type(self, hint: Any, name: str) -> Any:
        kind, args = shape(hint)
        if kind == "record":
            return self.record(args[0])
        if kind == "plain":
            return _AVRO_PLAIN[args[0]]
        if kind == "literal":
            return self.literal(args, name)
        if kind == "optional":
            return ["null", self.type(args[0], name)]
        if kind in ("array", "set"):
            return {"type": "array", "items": self.type(args[0], name)}
        if kind == "map":
            return {"type": "map", "values": self.type(args[0], name)}
        if not self.define(name, ("tuple", args)):
            return name
        fields = [{"name": positional(i), "type": self.type(a, f"{name}_{i}")} for i, a in enumerate(args)]
        return {"type": "record", "name": name, "fields": fields}

    def literal(self, symbols: tuple[Any, ...], name: str) -> Any:
        form = literal_form(symbols)
        if form != "enum":
            return form
        if not self.define(name, ("enum", symbols)):
            return name
        return {"type": "enum", "name": name, "symbols": list(symbols)}


def literal_form(symbols: tuple[Any, ...]) -> str:
    """How a `Literal[...]` is written: "enum" (every symbol a name), "string" or "long"."""
    if all(isinstance(s, str) and _AVRO_NAME.fullmatch(s) for s in symbols):
        return "enum"
    if all(isinstance(s, str) for s in symbols):
        return "string"
    if all(type(s) is int for s in symbols):
        return "long"
    raise TypeError(f"Literal{list(symbols)!r} has no Avro form: use strings or ints")


def union_value_first(f: FieldInfo) -> bool:
    """Does an optional field's union put the value's branch first? Yes when it defaults to a value: Avro wants a
    union's default to be of its first branch."""
    return f.default is not MISSING and f.default is not None


def _json_default(value: Any) -> Any:
    """A plain default as Avro's JSON writes it (bytes are a string of code points 0-255)."""
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, dict):
        return {k: _json_default(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_default(v) for v in value]
    return value


def incompatibilities(writer: Any, reader: Any, path: str) -> list[str]:
    """Why values written under `writer` would not resolve as `reader` (both parsed), by field path from `path`."""
    found: list[str] = []
    _Resolution(writer, reader, found).check(writer, reader, path)
    return found


class _Resolution:
    """Avro's resolution rules, checked on the schemas alone: what fastavro would refuse while reading."""

    def __init__(self, writer: Any, reader: Any, found: list[str]) -> None:
        self.wnamed = writer.get("__named_schemas", {})
        self.rnamed = reader.get("__named_schemas", {})
        self.found = found
        self.seen: set[tuple[str, str]] = set()

    def check(self, w: Any, r: Any, path: str) -> None:
        w, r = _named(self.wnamed, w), _named(self.rnamed, r)
        if isinstance(w, list):
            for branch in w:
                self.check(branch, r, path)
            return
        if isinstance(r, list):
            match = next((b for b in r if self.matches(w, _named(self.rnamed, b))), None)
            if match is None:
                self.found.append(f"{path}: {_kind(w)} values are not in the union of the current schema")
            else:
                self.check(w, match, path)
            return
        if not self.matches(w, r):
            self.found.append(f"{path}: {_describe(w)} values cannot be read as {_describe(r)}")
        elif _kind(r) == "record":
            self.record(w, r, path)
        elif _kind(r) == "enum":
            gone = [s for s in w["symbols"] if s not in r["symbols"]]
            if gone and "default" not in r:
                self.found.append(f"{path}: {gone} are stored values and no longer in the Literal")
        elif _kind(r) == "array":
            self.check(w["items"], r["items"], f"{path}[]")
        elif _kind(r) == "map":
            self.check(w["values"], r["values"], f"{path}{{}}")

    def record(self, w: dict[str, Any], r: dict[str, Any], path: str) -> None:
        if (w["name"], r["name"]) in self.seen:
            return
        self.seen.add((w["name"], r["name"]))
        written = {f["name"]: f for f in w["fields"]}
        for f in r["fields"]:
            here = f"{path}.{f['name']}"
            if f["name"] in written:
                self.check(written[f["name"]]["type"], f["type"], here)
            elif "default" not in f:
                self.found.append(f"{here} is new and has no default, so stored values cannot fill it: give the "
                                  "dataclass field a default (resolution fills it from that), or migrate the tables")

    @staticmethod
    def matches(w: Any, r: Any) -> bool:
        wk, rk = _kind(w), _kind(r)
        if wk in ("record", "enum", "fixed") or rk in ("record", "enum", "fixed"):
            return wk == rk and _short(w["name"]) == _short(r["name"])
        return wk == rk or rk in _PROMOTIONS.get(wk, ())


def _named(named: dict[str, Any], t: Any) -> Any:
    """A reference to a named type -> its definition."""
    return named.get(t, t) if isinstance(t, str) else t


def _kind(t: Any) -> str:
    return t if isinstance(t, str) else "union" if isinstance(t, list) else str(t["type"])


def _describe(t: Any) -> str:
    return f"{_kind(t)} {_short(t['name'])}" if isinstance(t, dict) and "name" in t else _kind(t)


def _short(name: str) -> str:
    return name.rpartition(".")[2]
