"""Avro bodies of the state dataclasses written straight from the objects, re-encoding only what changed.

The worker writes each changed customer's state once per batch, and most of a state does not change from one
batch to the next: the step builds the new state with `dataclasses.replace`, so every record it did not touch (a
device seen before, an earlier payment, the dunning state of a customer without a case) is the very object the
previous state held. Avro's binary form of a record is the concatenation of its fields' forms, with no framing, and
an array's is its count, its items' forms and a zero. So a record's bytes can be kept and reused for as long as the
object lives, and only the records the step rebuilt are encoded again.

`compile_writer(cls)` turns the same type hints pipeline.wire.state_schema derives the schema from into one
function per dataclass (compiled from source, as agents.rules.records does), returning the record's Avro body:
byte for byte what fastavro writes for that schema (tests/unit/pipeline/wire/test_state_writer.py checks it over a
simulated population). Records and arrays of records are remembered by identity in `MEMO`; that is sound because
every state type is a frozen dataclass of immutable values (tuples, strings, numbers and other frozen dataclasses),
which `compile_writer` checks, refusing anything else. An entry keeps its object alive, so its id cannot be reused
while the entry exists; the memo is two generations, the older dropped when the newer fills, so it holds about the
records of the states written last.

Values that do not fit the schema raise (TypeError, AttributeError, KeyError, OverflowError...): the state codec
turns that into an EncodeError that names the field, never the value.
"""

from __future__ import annotations

import dataclasses
import keyword
import struct
from collections.abc import Callable
from typing import Any

from agents.rules.records import fields_of, shape
from pipeline.wire.state_schema import literal_form, union_value_first

Write = Callable[[Any], bytes]
_SMALL = tuple(bytes([z]) for z in range(128))  # a long whose zig-zag form is one byte
_NULL, _SECOND, _EMPTY = b"\x00", b"\x02", b"\x00"  # union branch 0, branch 1; an empty array (count 0)
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1
_pack_double = struct.Struct("<d").pack
_VALUES_KEPT = 50_000  # encoded longs and strings remembered by value (timestamps and ids recur within a state)
_LONGS: dict[int, bytes] = {}
_STRINGS: dict[str, bytes] = {}


def write_long(n: int) -> bytes:
    """Avro long: zig-zag, then base-128 varint, low group first."""
    z = (n << 1) ^ (n >> 63)
    if 0 <= z < 128:
        return _SMALL[z]
    found = _LONGS.get(n)
    if found is not None and type(n) is int:
        return found
    if not _LONG_MIN <= n <= _LONG_MAX:
        raise OverflowError("long out of range")
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    data = bytes(out)
    if len(_LONGS) >= _VALUES_KEPT:
        _LONGS.clear()
    _LONGS[n] = data
    return data


def write_string(s: str) -> bytes:
    found = _STRINGS.get(s)
    if found is not None and type(s) is str:
        return found
    b = s.encode()
    data = write_long(len(b)) + b
    if len(_STRINGS) >= _VALUES_KEPT:
        _STRINGS.clear()
    _STRINGS[s] = data
    return data


def write_bytes(b: bytes) -> bytes:
    return write_long(len(b)) + bytes(b)


def write_boolean(v: bool) -> bytes:
    if v is True:
        return b"\x01"
    if v is False:
        return b"\x00"
    raise TypeError("boolean expected")


def write_double(v: float) -> bytes:
    return _pack_double(v)


_PLAIN: dict[type, Write] = {str: write_string, int: write_long, float: write_double, bool: write_boolean,
                             bytes: write_bytes}


class Memo:
    """Encoded records and arrays by the identity of their (immutable) objects, in two generations."""

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self.young: dict[int, tuple[Any, bytes]] = {}
        self.old: dict[int, tuple[Any, bytes]] = {}

    def rotate_if_full(self) -> None:
        if len(self.young) >= self.limit:
            self.old, self.young = self.young, {}

    def clear(self) -> None:
        self.young, self.old = {}, {}


MEMO = Memo()
_WRITERS: dict[type, Write] = {}
_COMPILING: set[type] = set()


def compile_writer(cls: type) -> Write:
    """The compiled obj -> Avro body function of a frozen state dataclass (TypeError for anything else)."""
    found = _WRITERS.get(cls)
    if found is not None:
        return found
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"{cls!r} is not a dataclass")
    if not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__} is not frozen: its encoding cannot be remembered by identity")
    if cls in _COMPILING:
        raise TypeError(f"{cls.__name__} contains itself")
    _COMPILING.add(cls)
    try:
        writer = _record_writer(cls)
    finally:
        _COMPILING.discard(cls)
    _WRITERS[cls] = writer
    return writer


def _record_writer(cls: type) -> Write:
    env: dict[str, Any] = {"memo": MEMO, "_id": id}
    parts = []
    for i, f in enumerate(fields_of(cls)):
        if not f.name.isidentifier() or keyword.iskeyword(f.name):
            raise TypeError(f"{cls.__name__}: field name {f.name!r} is not an identifier")
        kind, args = shape(f.hint)
        if kind == "optional":
            # the schema puts a union's default branch first: null, unless the field defaults to a value
            env[f"_w{i}"] = _writer(args[0], f"{cls.__name__}_{f.name}")
            none, some = (_SECOND, _NULL) if union_value_first(f) else (_NULL, _SECOND)
            env[f"_n{i}"], env[f"_s{i}"] = none, some
            parts.append(f"(_n{i} if (v{i} := obj.{f.name}) is None else _s{i} + _w{i}(v{i}))")
        else:
            env[f"_w{i}"] = _writer(f.hint, f"{cls.__name__}_{f.name}")
            parts.append(f"_w{i}(obj.{f.name})")
    body = f"b''.join(({', '.join(parts)},))" if parts else "b''"
    source = (
        "def write(obj):\n"
        "    k = _id(obj)\n"
        "    hit = memo.young.get(k)\n"
        "    if hit is None:\n"
        "        hit = memo.old.get(k)\n"
        "        if hit is not None and hit[0] is obj:\n"
        "            memo.young[k] = hit\n"
        "    if hit is not None and hit[0] is obj:\n"
        "        return hit[1]\n"
        f"    data = {body}\n"
        "    memo.young[k] = (obj, data)\n"
        "    return data\n"
    )
    exec(compile(source, f"<avro writer of {cls.__qualname__}>", "exec"), env)  # noqa: S102 - names only
    return env["write"]


def _writer(hint: Any, name: str) -> Write:
    kind, args = shape(hint)
    if kind == "record":
        return compile_writer(args[0])
    if kind == "plain":
        return _PLAIN[args[0]]
    if kind == "literal":
        return _literal(args)
    if kind == "optional":
        inner = _writer(args[0], name)
        return lambda v: _NULL if v is None else _SECOND + inner(v)
    if kind == "array":
        item_kind = shape(args[0])[0]
        return _array(_writer(args[0], name), remembered=item_kind in ("record", "tuple"))
    if kind == "tuple":
        items = tuple(_writer(a, f"{name}_{i}") for i, a in enumerate(args))
        return _positional(items)
    raise TypeError(f"{hint!r}: no state writer for {kind} values (only frozen values can be remembered)")


def _literal(symbols: tuple[Any, ...]) -> Write:
    form = literal_form(symbols)  # the schema's own rule
    if form == "enum":
        index = {s: write_long(i) for i, s in enumerate(symbols)}
        return index.__getitem__  # KeyError for a value not among the symbols
    return write_string if form == "string" else write_long


def _array(item: Write, remembered: bool) -> Write:
    def plain_array(v: tuple[Any, ...]) -> bytes:
        if not v:
            return _EMPTY
        return b"".join((write_long(len(v)), *map(item, v), _EMPTY))

    if not remembered:
        return plain_array

    memo = MEMO

    def array(v: tuple[Any, ...]) -> bytes:
        if not v:
            return _EMPTY
        if type(v) is not tuple:
            raise TypeError("a tuple expected")
        k = id(v)
        hit = memo.young.get(k)
        if hit is None:
            hit = memo.old.get(k)
            if hit is not None and hit[0] is v:
                memo.young[k] = hit
        if hit is not None and hit[0] is v:
            return hit[1]
        data = b"".join((write_long(len(v)), *map(item, v), _EMPTY))
        memo.young[k] = (v, data)
        return data

    return array


def _positional(items: tuple[Write, ...]) -> Write:
    def positional(v: tuple[Any, ...]) -> bytes:
        return b"".join([w(x) for w, x in zip(items, v, strict=True)])  # ValueError for another length

    return positional
