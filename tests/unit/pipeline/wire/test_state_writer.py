"""The state writer writes what fastavro writes, byte for byte, and re-encodes only what changed."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from typing import Any, Literal

import fastavro
import pytest

from agents.rules.identity import IdentityNode
from agents.rules.journey import Context, CustomerState
from agents.rules.records import encoder
from agents.rules.replay import replay
from pipeline.errors import EncodeError
from pipeline.policies import load_policy
from pipeline.sim import generate
from pipeline.wire import state_codec, state_writer
from pipeline.wire.state_schema import schema_for
from pipeline.wire.state_writer import MEMO, compile_writer, write_long

START = 1_760_000_000_000


def by_fastavro(obj: Any) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema_for(type(obj))), encoder(type(obj))(obj))
    return buf.getvalue()


class Recording(dict[str, Any]):
    """A dict that keeps every value assigned to it: each state as the replay wrote it, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[Any] = []

    def __setitem__(self, key: str, value: Any) -> None:
        self.written.append(value)
        super().__setitem__(key, value)


@pytest.fixture(scope="module")
def written() -> tuple[list[CustomerState], list[IdentityNode]]:
    states, index = Recording(), Recording()
    events = [x.event for x in generate(7, 80, START, 30)]
    for _ in replay(events, load_policy(None), Context(link_secret=b"test"), states=states, index=index):
        pass
    return states.written, index.written


def test_every_state_a_replay_writes_is_encoded_as_fastavro_encodes_it(written: Any) -> None:
    states, nodes = written
    assert len(states) > 1_000 and len(nodes) > 500
    MEMO.clear()
    for value in (*states, *nodes):  # in the order written: later states reuse the records of earlier ones
        assert compile_writer(type(value))(value) == by_fastavro(value)


def test_a_changed_record_is_encoded_again_and_the_unchanged_ones_are_reused(written: Any) -> None:
    state = max(written[0], key=lambda s: len(s.profile.devices))
    write = compile_writer(CustomerState)
    before = write(state)
    first = state.profile.devices[0]
    changed = replace(state, profile=replace(state.profile, devices=(replace(first, count=first.count + 1),
                                                                     *state.profile.devices[1:])))
    after = write(changed)
    assert after != before and after == by_fastavro(changed)
    assert write(state) == before, "the old state's bytes are unchanged"
    assert id(state.profile.devices[1]) in MEMO.young or len(state.profile.devices) == 1


def test_the_memo_rotates_and_stays_correct(written: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MEMO, "limit", 50)
    MEMO.clear()
    for value in written[0][:300]:
        assert state_codec.dumps(value)[10:] == by_fastavro(value)
        assert len(MEMO.young) < 50 + 200  # one state's records at most beyond the limit
    assert MEMO.old, "it rotated"


@pytest.mark.parametrize("n", [0, 1, -1, 63, 64, -64, -65, 127, 128, 8191, 8192, -8193, 1_760_000_000_000,
                               2**62, 2**63 - 1, -(2**63)])
def test_longs_are_zigzag_varints_as_fastavro_writes_them(n: int) -> None:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, "long", n)
    assert write_long(n) == buf.getvalue()
    assert write_long(n) == buf.getvalue(), "and again, from the memo"


@dataclass(frozen=True, slots=True)
class Inner:
    name: str
    kind: Literal["a", "b"] = "a"
    score: float = 0.5


@dataclass(frozen=True, slots=True)
class Outer:
    inner: Inner
    amount: int
    maybe: Inner | None = None
    defaulted: int | None = 3  # a union whose default is a value: the value branch comes first
    items: tuple[Inner, ...] = ()
    pair: tuple[str, int] = ("x", 1)
    flag: bool = False
    raw: bytes = b""


def test_every_kind_of_field_matches_fastavro() -> None:
    values = [
        Outer(inner=Inner("a"), amount=5),
        Outer(inner=Inner("é", "b", -1.25), amount=-(2**40), maybe=Inner("m"), defaulted=None,
              items=(Inner("i"), Inner("j", "b")), pair=("y", -3), flag=True, raw=b"\x00\xff"),
    ]
    for v in values:
        assert compile_writer(Outer)(v) == by_fastavro(v)
        assert state_codec.dumps(v)[10:] == by_fastavro(v)
        assert state_codec.loads(Outer, state_codec.dumps(v)) == v


@pytest.mark.parametrize("bad", [
    Outer(inner=Inner("a"), amount=2**63),  # past a long
    Outer(inner=Inner("a"), amount="5"),  # type: ignore[arg-type]
    Outer(inner=Inner("a", "c"), amount=1),  # type: ignore[arg-type] - not a symbol
    Outer(inner=Inner(None), amount=1),  # type: ignore[arg-type]
    Outer(inner=Inner("a"), amount=1, flag=1),  # type: ignore[arg-type]
])
def test_a_value_that_does_not_fit_raises_an_encode_error_that_does_not_quote_it(bad: Outer) -> None:
    with pytest.raises(EncodeError, match="does not fit its state schema") as err:
        state_codec.dumps(bad)
    assert str(2**63) not in str(err.value) and "'c'" not in str(err.value)


def test_types_whose_encoding_cannot_be_remembered_are_refused() -> None:
    @dataclass(slots=True)
    class Mutable:
        x: int

    @dataclass(frozen=True, slots=True)
    class WithMap:
        m: dict[str, int]

    for cls in (Mutable, WithMap):
        with pytest.raises(TypeError):
            state_writer.compile_writer(cls)
