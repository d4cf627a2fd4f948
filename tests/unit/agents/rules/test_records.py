from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from agents.rules.events import RECORD_TYPES, Notification, PaymentDecision, Reason
from agents.rules.records import Record, decoder, encoder, fields_of, shape

Colour = Literal["red", "green"]


@dataclass(frozen=True, slots=True)
class Leaf:
    name: str
    colour: Colour = "red"


@dataclass(frozen=True, slots=True)
class Tree:
    leaf: Leaf
    maybe: Leaf | None
    leaves: tuple[Leaf, ...] = ()
    tags: frozenset[str] = frozenset()
    pairs: tuple[tuple[str, int], ...] = ()
    by_name: dict[str, Leaf] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    ratio: float = 0.5
    blob: bytes = b""


TREE = Tree(leaf=Leaf("a"), maybe=Leaf("b", "green"), leaves=(Leaf("c"), Leaf("d", "green")),
            tags=frozenset({"y", "x"}), pairs=(("p", 1), ("q", 2)), by_name={"e": Leaf("e")}, counts={"k": 3},
            ratio=0.25, blob=b"\x00\x01")


def sample(hint: Any, n: int = 1) -> Any:
    """A value of any type a record may hold, with every optional and container filled."""
    kind, args = shape(hint)
    if kind == "record":
        return args[0](**{f.name: sample(f.hint, n + i) for i, f in enumerate(fields_of(args[0]))})
    if kind == "literal":
        return args[n % len(args)]
    if kind == "optional":
        return sample(args[0], n)
    if kind == "array":
        return tuple(sample(args[0], n + i) for i in range(2))
    if kind == "set":
        return frozenset(sample(args[0], n + i) for i in range(2))
    if kind == "tuple":
        return tuple(sample(a, n + i) for i, a in enumerate(args))
    if kind == "map":
        return {f"k{i}": sample(args[0], n + i) for i in range(2)}
    return {str: f"s-é-{n}", int: n * 7, float: n / 4, bool: n % 2 == 0, bytes: bytes([n % 256])}[args[0]]


@pytest.mark.parametrize("name", sorted(RECORD_TYPES))
def test_every_event_record_round_trips_through_its_plain_form(name: str) -> None:
    cls = RECORD_TYPES[name]
    record = sample(cls)
    plain = record.to_record()
    assert cls.from_record(plain) == record
    assert set(plain) == {f.name for f in fields_of(cls)}


def test_the_plain_form_is_what_avro_reads_and_writes() -> None:
    decision = sample(PaymentDecision)
    plain = decision.to_record()
    assert isinstance(plain["method_ranking"], list)
    assert plain["reasons"] == [{"code": r.code, "detail": r.detail} for r in decision.reasons]
    back = PaymentDecision.from_record(plain)
    assert isinstance(back.reasons, tuple) and isinstance(back.reasons[0], Reason)


def test_nested_containers_and_fixed_tuples_round_trip_to_equal_frozen_values() -> None:
    plain = encoder(Tree)(TREE)
    assert plain["tags"] == ["x", "y"]  # sorted: the same set always encodes to the same bytes
    assert plain["pairs"] == [{"_0": "p", "_1": 1}, {"_0": "q", "_1": 2}]
    assert plain["maybe"] == {"name": "b", "colour": "green"}
    back = decoder(Tree)(plain)
    assert back == TREE
    assert isinstance(back.tags, frozenset) and isinstance(back.pairs[0], tuple)


def test_fixed_tuples_also_decode_from_lists_as_the_json_state_format_wrote_them() -> None:
    plain = {**encoder(Tree)(TREE), "pairs": [["p", 1], ["q", 2]]}
    assert decoder(Tree)(plain) == TREE
    with pytest.raises(ValueError, match="expected 2 items"):
        decoder(Tree)({**plain, "pairs": [["p", 1, 2]]})


def test_missing_keys_take_the_defaults_and_unknown_keys_are_ignored() -> None:
    tree = decoder(Tree)({"leaf": {"name": "a"}, "maybe": None, "removed_since": 1})
    assert tree == Tree(leaf=Leaf("a"), maybe=None)
    other = decoder(Tree)({"leaf": {"name": "a"}, "maybe": None})
    assert other.by_name is not tree.by_name  # a fresh default per instance, as the dataclass makes one


def test_a_missing_required_key_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="maybe"):
        decoder(Tree)({"leaf": {"name": "a"}})
    with pytest.raises(KeyError, match="code"):
        PaymentDecision.from_record({**sample(PaymentDecision).to_record(), "reasons": [{"detail": "x"}]})


def test_map_defaults_are_not_shared_between_decoded_records() -> None:
    value = sample(Notification).to_record()
    del value["params"]
    first, second = Notification.from_record(value), Notification.from_record(value)
    assert first.params == {} and first.params is not second.params


def test_a_hint_with_no_plain_form_is_refused_naming_the_class() -> None:
    @dataclass(frozen=True)
    class Bad:
        items: list[int]

    with pytest.raises(TypeError, match=r"Bad: list\[int\] has no plain form"):
        encoder(Bad)


@dataclass(frozen=True)
class Node:
    child: Node | None


def test_a_recursive_record_is_refused() -> None:
    with pytest.raises(TypeError, match="Node contains itself"):
        decoder(Node)


def test_a_subclass_gets_its_own_converters_not_its_parents() -> None:
    @dataclass(frozen=True, slots=True, kw_only=True)
    class Base(Record):
        a: int

    @dataclass(frozen=True, slots=True, kw_only=True)
    class Derived(Base):
        b: str = "x"

    assert Base(a=1).to_record() == {"a": 1}
    assert Base.from_record({"a": 1}) == Base(a=1)
    assert Derived(a=1, b="y").to_record() == {"a": 1, "b": "y"}
    assert Derived.from_record({"a": 2}) == Derived(a=2)
