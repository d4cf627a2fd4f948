from __future__ import annotations

from dataclasses import dataclass

from agents.rules.identity import IdentityNode, Mark
from pipeline.wire import state_codec


@dataclass(frozen=True, slots=True)
class Inner:
    name: str
    seen: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Outer:
    inner: Inner
    maybe: Inner | None
    counts: dict[str, int]
    items: tuple[Inner, ...]
    flag: bool = False
    ratio: float = 0.5


def test_nested_state_round_trips_to_equal_frozen_values() -> None:
    value = Outer(inner=Inner("a", (("x", 1),)), maybe=None, counts={"k": 2},
                  items=(Inner("b"), Inner("c", (("y", 3), ("z", 4)))), flag=True)
    back = state_codec.loads(Outer, state_codec.dumps(value))
    assert back == value
    assert isinstance(back.items, tuple) and isinstance(back.items[1].seen[0], tuple)


def test_identity_node_survives_the_changelog_encoding() -> None:
    node = IdentityNode(identifier="device:d1", customers=(("c1", 5),),
                        chargebacks=(Mark(customer_id="c1", ref="p1", reason="fraud", at=4),))
    assert state_codec.loads(IdentityNode, state_codec.dumps(node)) == node


def test_encoding_is_plain_json_without_code() -> None:
    data = state_codec.dumps(Inner("a"))
    assert data == b'{"name":"a","seen":[]}'
