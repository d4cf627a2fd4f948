"""Dataclasses <-> plain values: the one converter behind every `from_record` / `to_record` and the state codec.

The plain form is what an Avro reader returns and a writer takes: a dict per dataclass, a list per
`tuple[X, ...]` or `frozenset[X]` (sorted, when its items are plain), a dict per `dict[str, X]`, None for an empty
`X | None`, and `str`, `int`, `float`, `bool`, `bytes` and `Literal[...]` values as they are. Avro has no fixed-length
tuples, so a `tuple[X, Y]` is a record of positional fields `_0`, `_1` (`positional`); a list of its items decodes
too (the JSON state format).

Each dataclass's two conversions are compiled once, from its fields and type hints, into one function each that
reads every field once and converts only the fields needing it, as fast as hand-unrolled code. Missing keys take
the dataclass defaults; keys the dataclass does not have are ignored (a field removed since the value was written);
a missing required key raises KeyError. `shape` says what a type hint is, for code deriving schemas from the same
hints (pipeline.wire.state_schema). Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import keyword
import types
import typing
from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any, Literal, Self

Convert = Callable[[Any], Any]
Kind = Literal["plain", "literal", "optional", "array", "set", "tuple", "map", "record"]
PLAIN_TYPES: tuple[type, ...] = (str, int, float, bool, bytes)
SUPPORTED = "dataclasses, tuple[X, ...], tuple[X, Y], frozenset[X], dict[str, X], X | None, Literal, " + ", ".join(
    t.__name__ for t in PLAIN_TYPES)


def positional(i: int) -> str:
    """The record field name of item `i` of a fixed-length tuple."""
    return f"_{i}"


@dataclasses.dataclass(frozen=True, slots=True)
class FieldInfo:
    name: str
    hint: Any  # the resolved type hint
    default: Any = dataclasses.MISSING  # the default value (a factory's, built once); MISSING when required
    factory: Callable[[], Any] | None = None  # the default factory, when the dataclass has one
    kw_only: bool = False


def shape(hint: Any) -> tuple[Kind, tuple[Any, ...]]:
    """What a type hint is, and its arguments: ("array", (X,)) for tuple[X, ...], ("record", (cls,)) and so on."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return "record", (hint,)
    if hint in PLAIN_TYPES:
        return "plain", (hint,)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return "literal", args
    if origin in (typing.Union, types.UnionType) and len(args) == 2 and type(None) in args:
        return "optional", tuple(a for a in args if a is not type(None))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return "array", args[:1]
    if origin is tuple and args and Ellipsis not in args:
        return "tuple", args
    if origin is frozenset and len(args) == 1:
        return "set", args
    if origin is dict and len(args) == 2 and args[0] is str:
        return "map", args[1:]
    raise TypeError(f"{hint!r} has no plain form; records may use {SUPPORTED}")


def fields_of(cls: type) -> tuple[FieldInfo, ...]:
    """The init fields of a dataclass with their resolved type hints and defaults."""
    hints = typing.get_type_hints(cls)
    found = []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        kw_only = bool(f.kw_only)
        if f.default_factory is dataclasses.MISSING:
            found.append(FieldInfo(f.name, hints[f.name], f.default, kw_only=kw_only))
        else:
            found.append(FieldInfo(f.name, hints[f.name], f.default_factory(), f.default_factory, kw_only))
    return tuple(found)


_ENCODERS: dict[type, Convert] = {}
_DECODERS: dict[type, Convert] = {}
_COMPILING: set[type] = set()


def encoder(cls: type) -> Convert:
    """The compiled dataclass instance -> plain dict function for `cls`."""
    try:
        return _ENCODERS[cls]
    except KeyError:
        return _ENCODERS.setdefault(cls, _compiled(cls, _encode_record))


def decoder(cls: type) -> Convert:
    """The compiled plain mapping -> dataclass instance function for `cls`."""
    try:
        return _DECODERS[cls]
    except KeyError:
        return _DECODERS.setdefault(cls, _compiled(cls, _decode_record))


def to_plain(value: Any, hint: Any) -> Any:
    """Any value of type `hint` in plain form (`encoder(cls)` is the fast path for a dataclass)."""
    return (_encode(hint) or _same)(value)


class Record:
    """Base of the generated event records: `Cls.from_record(mapping)` and `record.to_record()`.

    The first call compiles the class's converter and installs it on the class itself, so every later call runs
    the compiled function with no dispatch in between (these are on the worker's hot path). Each subclass starts
    with the compiling methods again, never with its parent's compiled ones.
    """

    __slots__ = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("from_record", "to_record"):
            if name not in cls.__dict__:
                setattr(cls, name, Record.__dict__[name])  # the compiling method, not a parent's compiled one

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> Self:
        build = decoder(cls)
        if cls.__dict__.get("from_record") is _LAZY_FROM_RECORD:  # not when called through a saved reference
            cls.from_record = staticmethod(build)  # type: ignore[method-assign, assignment]
        return build(r)

    def to_record(self) -> dict[str, Any]:
        encode = encoder(type(self))
        if type(self).__dict__.get("to_record") is _LAZY_TO_RECORD:
            type(self).to_record = encode  # type: ignore[method-assign, assignment]
        return encode(self)


_LAZY_FROM_RECORD = Record.__dict__["from_record"]
_LAZY_TO_RECORD = Record.__dict__["to_record"]


def _same(v: Any) -> Any:
    return v


def _compiled(cls: type, compile_record: Callable[[type], Convert]) -> Convert:
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"{cls!r} is not a dataclass")
    if cls in _COMPILING:
        raise TypeError(f"{cls.__name__} contains itself: recursive records have no plain form")
    _COMPILING.add(cls)
    try:
        return compile_record(cls)
    except TypeError as err:
        raise TypeError(f"{cls.__name__}: {err}") from None
    finally:
        _COMPILING.discard(cls)


# Each class's two converters are one function each, compiled from source the way dataclasses compiles __init__:
# a dict display of attribute loads, and a call passing each field by position (by constant keyword when it is
# keyword-only), are about twice as fast as any generic loop (dict(zip(...)); cls(**mapping) is slow because keys
# read off the wire are not the interned names, so Python matches each keyword by comparing strings). The source
# holds only field names, checked to be identifiers, and the names of the converters and defaults it closes over:
# nothing from any value.

def _encode_record(cls: type) -> Convert:
    env: dict[str, Any] = {}
    items = []
    for i, f in enumerate(_named_fields(cls)):
        conv = _encode(f.hint)
        if conv is None:
            items.append(f"{f.name!r}: obj.{f.name}")
        else:
            env[f"_c{i}"] = conv
            items.append(f"{f.name!r}: _c{i}(obj.{f.name})")
    return _function(cls, "to_record", "obj", f"{{{', '.join(items)}}}", env)


def _decode_record(cls: type) -> Convert:
    env: dict[str, Any] = {"_cls": cls}
    args = []
    for i, f in enumerate(_named_fields(cls)):
        conv = _decode(f.hint)
        value = f"r[{f.name!r}]"
        if conv is not None:
            env[f"_c{i}"] = conv
            value = f"_c{i}({value})"
        if f.factory is not None:  # a fresh default per instance, as the dataclass makes one
            env[f"_d{i}"] = f.factory
            value = f"({value} if {f.name!r} in r else _d{i}())"
        elif f.default is not dataclasses.MISSING:
            env[f"_d{i}"] = f.default
            value = f"r.get({f.name!r}, _d{i})" if conv is None else f"({value} if {f.name!r} in r else _d{i})"
        args.append(f"{f.name}={value}" if f.kw_only else value)
    return _function(cls, "from_record", "r", f"_cls({', '.join(args)})", env)


def _named_fields(cls: type) -> tuple[FieldInfo, ...]:
    fields = fields_of(cls)
    for f in fields:
        if not f.name.isidentifier() or keyword.iskeyword(f.name):
            raise TypeError(f"field name {f.name!r} is not an identifier")
    return fields


def _function(cls: type, name: str, param: str, expression: str, env: dict[str, Any]) -> Convert:
    source = f"def {name}({param}):\n    return {expression}\n"
    exec(compile(source, f"<{name} of {cls.__qualname__}>", "exec"), env)  # noqa: S102
    return env[name]


def _encode(hint: Any) -> Convert | None:
    """The function turning a value of `hint` into its plain form; None when it already is plain."""
    kind, args = shape(hint)
    if kind == "record":
        return encoder(args[0])
    if kind in ("plain", "literal"):
        return None
    if kind == "tuple":
        return _positional_encoder(tuple(_encode(a) or _same for a in args))
    inner = _encode(args[0])
    if inner is None:  # a container of plain values: copy it in C
        return {"optional": None, "array": list, "set": sorted, "map": dict}[kind]
    return {"optional": _optional, "array": _list_of, "set": _list_of, "map": _dict_of}[kind](inner)


def _decode(hint: Any) -> Convert | None:
    """The function turning a plain value back into a value of `hint`; None when the plain value is it."""
    kind, args = shape(hint)
    if kind == "record":
        return decoder(args[0])
    if kind in ("plain", "literal"):
        return None
    if kind == "tuple":
        return _positional_decoder(tuple(_decode(a) or _same for a in args))
    inner = _decode(args[0])
    if inner is None:
        return {"optional": None, "array": tuple, "set": frozenset, "map": dict}[kind]
    return {"optional": _optional, "array": _tuple_of, "set": _frozenset_of, "map": _dict_of}[kind](inner)


def _optional(conv: Convert) -> Convert:
    return lambda v: None if v is None else conv(v)


def _list_of(conv: Convert) -> Convert:
    return lambda v: list(map(conv, v))


def _tuple_of(conv: Convert) -> Convert:
    return lambda v: tuple(map(conv, v))


def _frozenset_of(conv: Convert) -> Convert:
    return lambda v: frozenset(map(conv, v))


def _dict_of(conv: Convert) -> Convert:
    return lambda v: {k: conv(x) for k, x in v.items()}


def _positional_encoder(convs: tuple[Convert, ...]) -> Convert:
    names = tuple(positional(i) for i in range(len(convs)))
    if all(c is _same for c in convs):
        return lambda v: dict(zip(names, v, strict=True))
    return lambda v: {n: c(x) for n, c, x in zip(names, convs, v, strict=True)}


def _positional_decoder(convs: tuple[Convert, ...]) -> Convert:
    names = tuple(positional(i) for i in range(len(convs)))
    items: Callable[[Any], tuple[Any, ...]] = itemgetter(*names) if len(names) > 1 else (lambda v: (v[names[0]],))
    plain = all(c is _same for c in convs)

    def decode(v: Any) -> tuple[Any, ...]:
        values = items(v) if isinstance(v, Mapping) else tuple(v)
        if len(values) != len(convs):
            raise ValueError(f"expected {len(convs)} items, got {len(values)}")
        return values if plain else tuple([c(x) for c, x in zip(convs, values, strict=True)])

    return decode
