"""The decision policy and its one strict loader. Pure: the files are read at the edge (pipeline.policies).

A policy document (policies/default.toml) has a `version`, one [fx] table of exchange rates and a section per rule
family ([checkout], [dunning], [refunds], [reviews]); the decline table (policies/declines.toml) comes parsed
alongside. Every section is a frozen dataclass built by `parse_table`, driven by its fields and type hints, so that
thresholds live in the file, not in code, and a replay can run another policy over the same events.

Strict everywhere: an unknown key, a missing required key or a value of the wrong type is a PolicyError naming its
dotted path (`checkout.sca.tra_bands[1].max_fraud_rate: expected a number, got "x"`). A field's default, where it
has one, stands in for a missing key. Field metadata says where a value comes from when it is not the key of the
same name: `from_key("trust_after_hours", scale=HOUR_MS)` reads another key (dotted for a sub-table, as in
"perks.first_online_order") in another unit; `GIVEN` marks a value the caller passes in (the one [fx] table).
After a section is built, its `validate()` (if it has one) runs the semantic checks; a ValueError it raises becomes
a PolicyError at the section's path.
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, Union, get_args, get_origin, get_type_hints

from agents.rules.fx import Fx

if TYPE_CHECKING:
    from agents.rules.checkout.policy import CheckoutPolicy
    from agents.rules.declines import KnowledgeBase
    from agents.rules.dunning.policy import DunningPolicy
    from agents.rules.refunds.policy import RefundPolicy
    from agents.rules.reviews.policy import ReviewPolicy

T = TypeVar("T")
_KEY, _SCALE, _GIVEN = "policy.key", "policy.scale", "policy.given"
GIVEN: Mapping[str, Any] = types.MappingProxyType({_GIVEN: True})
"""Field metadata: the value is passed to `parse_table` in `given`, never read from the table."""
SECTIONS = ("version", "fx", "checkout", "dunning", "refunds", "reviews")


class PolicyError(ValueError):
    """A policy file that cannot be read or does not hold a valid policy."""


@dataclass(frozen=True, slots=True)
class Policy:
    """The whole decision policy: one typed section per rule family, the exchange rates they share, what decline
    codes mean, and the version stamped on every decision."""

    version: str
    fx: Fx
    checkout: CheckoutPolicy
    dunning: DunningPolicy
    refunds: RefundPolicy
    reviews: ReviewPolicy
    declines: KnowledgeBase


def parse_policy(doc: Mapping[str, Any], declines: KnowledgeBase) -> Policy:
    """The policy in a parsed policy document, with the decline table already parsed from its own file."""
    # Imported here: the section modules import this module's loader.
    from agents.rules.checkout.policy import CheckoutPolicy
    from agents.rules.dunning.policy import DunningPolicy
    from agents.rules.refunds.policy import RefundPolicy
    from agents.rules.reviews.policy import ReviewPolicy

    _reject_unknown(doc, dict.fromkeys(SECTIONS), "")
    fx = parse_table(Fx, required(doc, "fx"), "fx")
    return Policy(
        version=parse_value(str, required(doc, "version"), "version"),
        fx=fx,
        checkout=parse_table(CheckoutPolicy, required(doc, "checkout"), "checkout", given={"fx": fx}),
        dunning=parse_table(DunningPolicy, required(doc, "dunning"), "dunning"),
        refunds=parse_table(RefundPolicy, required(doc, "refunds"), "refunds", given={"fx": fx}),
        reviews=parse_table(ReviewPolicy, required(doc, "reviews"), "reviews"),
        declines=declines,
    )


def from_key(key: str, *, scale: int = 1) -> Mapping[str, Any]:
    """Field metadata: read the field from `key` (dotted for a sub-table), multiplied by `scale` (a unit)."""
    return types.MappingProxyType({_KEY: key, _SCALE: scale})


def required(table: Mapping[str, Any], key: str, path: str = "") -> Any:
    if key not in table:
        raise PolicyError(f"{_join(path, key)}: required key is missing")
    return table[key]


def parse_table(cls: type[T], table: Any, path: str, *, given: Mapping[str, Any] | None = None) -> T:
    """An instance of the dataclass `cls` from the parsed TOML `table` found at the dotted `path`."""
    table = _as_table(table, path)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    keys = {f.name: tuple(f.metadata.get(_KEY, f.name).split(".")) for f in fields if not f.metadata.get(_GIVEN)}
    _reject_unknown(table, _key_tree(keys.values()), path)
    values = {f.name: _given(cls, f.name, given) for f in fields if f.metadata.get(_GIVEN)}
    hints = get_type_hints(cls)
    for f in fields:
        if f.name not in keys:
            continue
        where, value = _join(path, ".".join(keys[f.name])), _lookup(table, keys[f.name])
        if value is not None:
            values[f.name] = _scaled(parse_value(hints[f.name], value, where), f.metadata.get(_SCALE, 1))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise PolicyError(f"{where}: required key is missing")
    built = cls(**values)
    try:
        getattr(built, "validate", lambda: None)()
    except PolicyError:
        raise
    except ValueError as err:
        raise PolicyError(f"{path}: {err}") from None
    return built


def parse_value(hint: Any, value: Any, where: str) -> Any:
    """`value` as the type `hint` says, or a PolicyError at `where`. TOML has no null: `X | None` reads an X."""
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType) and len(inner := [a for a in args if a is not type(None)]) == 1:
        return parse_value(inner[0], value, where)
    if hint is bool:
        return _expect(value, isinstance(value, bool), "true or false", where)
    if hint is int:
        return _expect(value, isinstance(value, int) and not isinstance(value, bool), "an integer", where)
    if hint is float:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return float(_expect(value, number, "a number", where))
    if hint is str:
        return _expect(value, isinstance(value, str), "a string", where)
    if (origin is tuple and args[1:] == (Ellipsis,)) or origin is frozenset:
        items = _expect(value, isinstance(value, list), "an array", where)
        parsed = [parse_value(args[0], item, f"{where}[{i}]") for i, item in enumerate(items)]
        return tuple(parsed) if origin is tuple else frozenset(parsed)
    if origin in (Mapping, dict) and args[0] is str:
        return {k: parse_value(args[1], v, _join(where, k)) for k, v in _as_table(value, where).items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return parse_table(hint, value, where)
    raise TypeError(f"{where}: the policy loader cannot read a {hint!r}")


def _reject_unknown(table: Mapping[str, Any], tree: Mapping[str, Any], path: str) -> None:
    """Every key of `table` must be in `tree`; a sub-tree is a sub-table whose keys are checked in turn."""
    for key, value in table.items():
        if key not in tree:
            raise PolicyError(f"{_join(path, key)}: unknown key")
        if tree[key] is not None:
            _reject_unknown(_as_table(value, _join(path, key)), tree[key], _join(path, key))


def _key_tree(keys: Iterable[tuple[str, ...]]) -> dict[str, Any]:
    """The keys a table may hold: None for a value, a nested tree for a sub-table that groups fields."""
    tree: dict[str, Any] = {}
    for key in keys:
        node = tree
        for part in key[:-1]:
            node = node.setdefault(part, {})
        node[key[-1]] = None
    return tree


def _given(cls: type, name: str, given: Mapping[str, Any] | None) -> Any:
    if given is None or name not in given:
        raise TypeError(f"{cls.__name__}.{name} is not in the table: the caller must give it")
    return given[name]


def _lookup(table: Mapping[str, Any], key: tuple[str, ...]) -> Any:
    """The value at `key` (sub-tables already checked to be tables), or None where it is absent."""
    for part in key[:-1]:
        table = table.get(part, {})
    return table.get(key[-1])


def _scaled(value: Any, scale: int) -> Any:
    if scale != 1 and not isinstance(value, int | float):
        raise TypeError("from_key(scale=...) applies to numbers only")
    return value if scale == 1 else value * scale


def _as_table(value: Any, where: str) -> Mapping[str, Any]:
    return _expect(value, isinstance(value, Mapping), "a table", where)


def _expect(value: Any, ok: bool, what: str, where: str) -> Any:
    if not ok:
        raise PolicyError(f"{where}: expected {what}, got {_shown(value)}")
    return value


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    return str(value)  # numbers, and TOML dates and times


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
