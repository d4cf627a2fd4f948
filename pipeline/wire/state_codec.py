"""JSON encoding of the rules' frozen state dataclasses, for Faust table values and their changelogs.

Decoding is driven by the type hints of the root class, so stored JSON carries no type tags and no code: a changelog
record can never execute anything on load (unlike pickle). State types may use dataclasses, tuples, dicts with str
keys, Literal/str/int/float/bool and None (see agents/rules/*).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import Any

Decoder = Callable[[Any], Any]


def to_plain(obj: Any) -> Any:
    """Dataclasses to dicts, tuples to lists, recursively."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [to_plain(x) for x in obj]
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj


def _identity(v: Any) -> Any:
    return v


def _decoder_for(tp: Any) -> Decoder:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _dataclass_decoder(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        dec = _decoder_for(inner[0]) if len(inner) == 1 else _identity
        return lambda v: None if v is None else dec(v)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            item = _decoder_for(args[0])
            return lambda v: tuple(item(x) for x in v)
        decs = [_decoder_for(a) for a in args]
        return lambda v: tuple(d(x) for d, x in zip(decs, v, strict=True))
    if origin is dict:
        val = _decoder_for(args[1])
        return lambda v: {k: val(x) for k, x in v.items()}
    if origin is frozenset:
        item = _decoder_for(args[0])
        return lambda v: frozenset(item(x) for x in v)
    return _identity


@cache
def _dataclass_decoder(cls: type) -> Decoder:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    decs = {n: _decoder_for(hints[n]) for n in names}

    def decode(v: dict[str, Any]) -> Any:
        return cls(**{n: decs[n](v[n]) for n in names if n in v})

    return decode


def dumps(obj: Any) -> bytes:
    return json.dumps(to_plain(obj), separators=(",", ":"), ensure_ascii=False).encode()


def loads(cls: type, data: bytes) -> Any:
    return _dataclass_decoder(cls)(json.loads(data))
