"""Generate agents/rules/events.py from schemas/*.avsc.

The .avsc files are the contract; this script keeps the Python types in step with them. Run `make events` after
editing a schema; tests/unit/pipeline/wire/test_schemas.py fails when the generated file is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
TARGET = ROOT / "agents" / "rules" / "events.py"

PRIMITIVES = {"string": "str", "long": "int", "int": "int", "boolean": "bool", "double": "float", "float": "float"}


class Gen:
    def __init__(self) -> None:
        self.enums: dict[str, list[str]] = {}
        self.nested: dict[str, dict[str, Any]] = {}
        self.lines: list[str] = []

    def py_type(self, t: Any) -> str:
        if isinstance(t, str):
            if t in PRIMITIVES:
                return PRIMITIVES[t]
            if t in self.enums:
                return t
            return t
        if isinstance(t, list):
            inner = [x for x in t if x != "null"]
            return f"{self.py_type(inner[0])} | None"
        kind = t["type"]
        if kind == "enum":
            self.enums.setdefault(t["name"], t["symbols"])
            return t["name"]
        if kind == "record":
            self.nested.setdefault(t["name"], t)
            return t["name"]
        if kind == "array":
            return f"tuple[{self.py_type(t['items'])}, ...]"
        if kind == "map":
            return f"dict[str, {self.py_type(t['values'])}]"
        if "logicalType" in t:
            return PRIMITIVES[kind]
        return PRIMITIVES[kind]

    def conv_in(self, t: Any, expr: str) -> str:
        """Expression converting a decoded Avro value to the dataclass field value."""
        if isinstance(t, list):
            inner = [x for x in t if x != "null"][0]
            conv = self.conv_in(inner, "_v")
            if conv == "_v":
                return expr
            return f"(None if (_v := {expr}) is None else {conv})"
        if isinstance(t, dict):
            if t["type"] == "record":
                return f"{t['name']}.from_record({expr})"
            if t["type"] == "array":
                item = self.conv_in(t["items"], "_x")
                return f"tuple({expr})" if item == "_x" else f"tuple({item} for _x in {expr})"
            if t["type"] == "map":
                return f"dict({expr})"
        if isinstance(t, str) and t in self.nested:
            return f"{t}.from_record({expr})"
        return expr

    def conv_out(self, t: Any, expr: str) -> str:
        if isinstance(t, list):
            inner = [x for x in t if x != "null"][0]
            conv = self.conv_out(inner, "_v")
            if conv == "_v":
                return expr
            return f"(None if (_v := {expr}) is None else {conv})"
        if isinstance(t, dict):
            if t["type"] == "record":
                return f"{expr}.to_record()"
            if t["type"] == "array":
                item = self.conv_out(t["items"], "_x")
                return f"list({expr})" if item == "_x" else f"[{item} for _x in {expr}]"
            if t["type"] == "map":
                return f"dict({expr})"
        if isinstance(t, str) and t in self.nested:
            return f"{expr}.to_record()"
        return expr

    def record(self, schema: dict[str, Any], topic: str | None) -> list[str]:
        name = schema["name"]
        doc = f'    """{schema["doc"]}"""'
        out = ["", "", "@dataclass(frozen=True, slots=True, kw_only=True)", f"class {name}:", doc, ""]
        if topic:
            out.append(f'    TOPIC: ClassVar[str] = "{topic}"')
        out.append(f'    SCHEMA: ClassVar[str] = "{name}"')
        for fld in schema["fields"]:
            typ = self.py_type(fld["type"])
            default = ""
            if "default" in fld:
                d = fld["default"]
                if d is None:
                    default = " = None"
                elif isinstance(d, list):
                    default = " = ()"
                elif isinstance(d, dict):
                    default = " = field(default_factory=dict)"
                else:
                    default = f" = {d!r}"
            out.append(f"    {fld['name']}: {typ}{default}")
        out += ["", "    @classmethod", f"    def from_record(cls, r: Mapping[str, Any]) -> {name}:"]
        out += ["        return cls("]
        for fld in schema["fields"]:
            name_ = fld["name"]
            getter = f'r["{name_}"]' if "default" not in fld else f'r.get("{name_}", {self.default_expr(fld)})'
            out.append(f"            {fld['name']}={self.conv_in(fld['type'], getter)},")
        out += ["        )", "", "    def to_record(self) -> dict[str, Any]:", "        return {"]
        for fld in schema["fields"]:
            out.append(f'            "{fld["name"]}": {self.conv_out(fld["type"], "self." + fld["name"])},')
        out += ["        }"]
        return out

    @staticmethod
    def default_expr(fld: dict[str, Any]) -> str:
        d = fld["default"]
        if isinstance(d, list):
            return "()"
        if isinstance(d, dict):
            return "{}"
        return repr(d)


def generate() -> str:
    gen = Gen()
    schemas = [json.loads(p.read_text()) for p in sorted(SCHEMAS.glob("*.avsc"))]
    bodies: list[str] = []
    for s in schemas:
        for fld in s["fields"]:
            gen.py_type(fld["type"])
    for nested in gen.nested.values():
        bodies += gen.record(nested, None)
    for s in schemas:
        bodies += gen.record(s, s.get("topic"))
    head = [
        '"""Typed events: one frozen dataclass per Avro record in schemas/.',
        "",
        "GENERATED by tools/gen_events.py from schemas/*.avsc; do not edit by hand (run `make events`).",
        "Timestamps are epoch milliseconds (UTC); money is integer minor units plus an ISO 4217 currency.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping",
        "from dataclasses import dataclass, field",
        "from typing import Any, ClassVar, Literal",
        "",
    ]
    for name, symbols in gen.enums.items():
        head.append(f"{name} = Literal[{', '.join(repr(s) for s in symbols)}]")
    names = [s["name"] for s in schemas]
    inputs = [s["name"] for s in schemas if s.get("topic") in {"payments", "devices", "orders", "refunds", "customers"}]
    tail = [
        "",
        "",
        "RECORD_TYPES: dict[str, type[Any]] = {",
        *[f'    "{n}": {n},' for n in names],
        "}",
        "",
        f"InputEvent = {' | '.join(inputs)}",
        f"INPUT_TYPES: tuple[type[Any], ...] = ({', '.join(inputs)},)",
        "",
    ]
    return "\n".join(head + bodies + tail)


def main() -> int:
    text = generate()
    if "--check" in sys.argv:
        return 0 if TARGET.exists() and TARGET.read_text() == text else 1
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
