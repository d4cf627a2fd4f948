"""The stored state: Avro with a schema fingerprint, a committed schema history, migration by Avro resolution, the
JSON of earlier versions still readable, and nothing that cannot be read ever misread."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import random
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import avro.io
import avro.schema
import fastavro
import pytest

from agents.rules.identity import IdentityNode, Mark
from agents.rules.journey import Context, CustomerState
from agents.rules.ledger import Ledger
from agents.rules.records import decoder
from agents.rules.replay import replay
from pipeline.errors import EncodeError, StateSchemaError
from pipeline.policies import load_policy
from pipeline.sim import generate
from pipeline.wire import state_codec
from pipeline.wire.state_codec import MARKER, StateCodec
from pipeline.wire.state_migrations import MIGRATIONS, Migration
from pipeline.wire.state_schema import (
    HISTORY_DIR,
    STORED,
    fingerprint,
    history,
    incompatibilities,
    schema_for,
    write_history,
)

T0 = 1_760_000_000_000


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


@cache
def final_tables() -> tuple[tuple[CustomerState, ...], tuple[IdentityNode, ...]]:
    """A small simulated population's customer states and identity nodes after its last event."""
    states: dict[str, CustomerState] = {}
    index: dict[str, IdentityNode] = {}
    events = [x.event for x in generate(3, 25, T0, 30)]
    for _ in replay(events, load_policy(), Context(link_secret=b"test"), states=states, index=index):
        pass
    return tuple(states.values()), tuple(index.values())


def same_state(a: CustomerState, b: CustomerState) -> bool:
    """Equal but perhaps for where the ledgers keep their identifiers: the same payments, identifiers and all."""
    return a.payments.refs() == b.payments.refs() and dataclasses.replace(a, payments=b.payments) == b


def richest(values: tuple[Any, ...]) -> Any:
    return max(values, key=lambda v: len(json_as_earlier_versions_wrote(v)))


def json_as_earlier_versions_wrote(obj: Any) -> bytes:
    """The encoder this codec replaced: dataclasses to dicts, tuples (fixed ones too) to lists, as compact JSON.
    The payment ledger was a tuple of PaymentRef then, each with its identifiers in full."""
    def plain(o: Any) -> Any:
        if isinstance(o, Ledger):
            return plain(o.refs())
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return {f.name: plain(getattr(o, f.name)) for f in dataclasses.fields(o)}
        if isinstance(o, tuple | list):
            return [plain(x) for x in o]
        if isinstance(o, dict):
            return {k: plain(v) for k, v in o.items()}
        return o

    return json.dumps(plain(obj), separators=(",", ":"), ensure_ascii=False).encode()


# ---------------------------------------------------------------- round trips

def test_a_rich_customer_state_round_trips() -> None:
    states, _ = final_tables()
    state = richest(states)
    assert state.dunning.closed and state.refunds.claims and state.profile.devices and state.payments.entries
    assert len(state.recent_event_ids) > 20
    assert state_codec.loads(CustomerState, state_codec.dumps(state)) == state
    assert all(state_codec.loads(CustomerState, state_codec.dumps(s)) == s for s in states)


def test_identity_nodes_round_trip() -> None:
    _, nodes = final_tables()
    node = IdentityNode(identifier="device:d1", customers=(("c1", 5), ("c2", 3)),
                        chargebacks=(Mark(customer_id="c1", ref="p1", reason="fraud", at=4),),
                        claims=(Mark(customer_id="c2", ref="r1", reason="not_received", at=2),))
    for value in (node, *nodes):
        assert state_codec.loads(IdentityNode, state_codec.dumps(value)) == value


def test_nested_state_round_trips_to_equal_frozen_values() -> None:
    value = Outer(inner=Inner("a", (("x", 1),)), maybe=None, counts={"k": 2},
                  items=(Inner("b"), Inner("c", (("y", 3), ("z", 4)))), flag=True)
    back = state_codec.loads(Outer, state_codec.dumps(value))
    assert back == value
    assert isinstance(back.items, tuple) and isinstance(back.items[1].seen[0], tuple)


def test_a_value_is_the_avro_single_object_encoding_of_the_current_schema() -> None:
    data = state_codec.dumps(Inner("a", (("x", 1),)))
    assert data[:2] == MARKER == b"\xc3\x01"
    assert data[2:10] == fingerprint(schema_for(Inner))
    body = fastavro.schemaless_reader(io.BytesIO(data[10:]), fastavro.parse_schema(schema_for(Inner)))
    assert body == {"name": "a", "seen": [{"_0": "x", "_1": 1}]}


def test_the_avro_form_is_a_third_of_the_json_or_less() -> None:
    states, _ = final_tables()
    state = richest(states)
    assert len(state_codec.dumps(state)) * 3 < len(json_as_earlier_versions_wrote(state))


# ---------------------------------------------------------------- the JSON of earlier versions

def test_customer_states_written_as_json_by_earlier_versions_still_decode() -> None:
    states, _ = final_tables()
    assert all(same_state(state_codec.loads(CustomerState, json_as_earlier_versions_wrote(v)), v) for v in states)


def test_identity_nodes_written_before_pseudonymisation_are_refused_naming_what_to_do() -> None:
    """JSON-era nodes and nodes under the last schema before pseudonyms are keyed by raw identifiers: no re-keying
    can save them, so reading one is an error, and the index's recovery skips them (pre_pseudonym)."""
    as_json = (b'{"identifier":"device:d1","customers":[["c1",5]],'
               b'"chargebacks":[{"customer_id":"c1","ref":"p1","reason":"fraud","at":4}],"claims":[]}')
    old_fp = bytes.fromhex("5c6955a0571f18a1")
    old_schema = fastavro.parse_schema(history(IdentityNode)[old_fp])
    body = io.BytesIO()
    fastavro.schemaless_writer(body, old_schema, {"identifier": "device:d1", "customers": [{"_0": "c1", "_1": 5}],
                                                  "chargebacks": [], "claims": []})
    as_avro = MARKER + old_fp + body.getvalue()
    for old in (as_json, as_avro):
        assert state_codec.pre_pseudonym(IdentityNode, old)
        with pytest.raises(StateSchemaError, match="before identifiers were pseudonymised"):
            state_codec.loads(IdentityNode, old)
    _, nodes = final_tables()
    assert not any(state_codec.pre_pseudonym(IdentityNode, state_codec.dumps(n)) for n in nodes)
    assert not state_codec.pre_pseudonym(CustomerState, json_as_earlier_versions_wrote(final_tables()[0][0]))


def test_only_the_avro_form_is_written() -> None:
    states, nodes = final_tables()
    assert {state_codec.dumps(v)[:2] for v in (*states, *nodes)} == {MARKER}


# ---------------------------------------------------------------- the history and migration

def test_the_stored_state_types_current_schemas_are_in_the_committed_history() -> None:
    missing = [cls.__name__ for cls in STORED if fingerprint(schema_for(cls)) not in history(cls)]
    assert not missing, (f"the current schema of {', '.join(missing)} is not in {HISTORY_DIR}: run "
                         "`make state-schemas` (.venv/bin/python tools/state_schemas.py) and commit the new file")


def test_every_shipped_state_schema_still_resolves_to_the_current_dataclasses_or_to_its_migration() -> None:
    for cls in STORED:
        shipped = history(cls)
        current = fingerprint(schema_for(cls))
        migration = MIGRATIONS.get(cls)
        for fp, schema in shipped.items():
            target = migration.pivot if migration is not None and fp in migration.before else current
            problems = incompatibilities(fastavro.parse_schema(schema), fastavro.parse_schema(shipped[target]),
                                         cls.__name__)
            assert problems == [], fp.hex()


def test_each_migration_names_committed_schemas_and_its_result_resolves_to_the_current_one() -> None:
    for cls, m in MIGRATIONS.items():
        shipped = history(cls)
        current = fingerprint(schema_for(cls))
        assert m.pivot in m.before and m.result not in m.before and current not in m.before, cls.__name__
        assert m.before <= shipped.keys() and m.result in shipped, cls.__name__
        assert incompatibilities(fastavro.parse_schema(shipped[m.result]), fastavro.parse_schema(schema_for(cls)),
                                 cls.__name__) == []


Tier = Literal["basic", "gold"]


def account_v1() -> Any:
    @dataclass(frozen=True, slots=True)
    class Account:
        customer_id: str
        visits: int
        tier: Tier = "basic"
        dropped_since: str = "gone"
        tags: tuple[str, ...] = ()

    return Account


def account_v2() -> Any:
    """v1 with a field removed, a Literal widened and fields added, every new one with a default."""
    @dataclass(frozen=True, slots=True)
    class Account:
        customer_id: str
        visits: int
        tier: Literal["basic", "gold", "platinum"] = "basic"
        tags: tuple[str, ...] = ()
        inner: Inner = Inner("none")
        nickname: str | None = None
        ratio: float = 0.5
        limits: dict[str, int] = field(default_factory=dict)

    return Account


def account_v3() -> Any:
    """v1 with a new field that has no default: old values cannot fill it."""
    @dataclass(frozen=True, slots=True)
    class Account:
        customer_id: str
        visits: int
        segment: str
        tier: Tier = "basic"
        tags: tuple[str, ...] = ()
        opened_at: int | None = None

    return Account


def written_by_v1(tmp_path: Path) -> bytes:
    v1 = account_v1()
    assert write_history(v1, tmp_path) is not None
    assert write_history(v1, tmp_path) is None  # already there: files are never rewritten
    return StateCodec(tmp_path).dumps(v1(customer_id="c1", visits=3, tier="gold", tags=("x",)))


def test_a_value_of_an_older_shape_migrates_and_new_fields_take_their_defaults(tmp_path: Path) -> None:
    old = written_by_v1(tmp_path)
    v2 = account_v2()
    assert StateCodec(tmp_path).loads(v2, old) == v2(customer_id="c1", visits=3, tier="gold", tags=("x",))


def test_a_value_under_an_unknown_fingerprint_is_refused_never_guessed(tmp_path: Path) -> None:
    old = written_by_v1(tmp_path)
    with pytest.raises(StateSchemaError, match="not in .*make state-schemas"):
        StateCodec(tmp_path / "elsewhere").loads(account_v2(), old)
    forged = old[:2] + bytes(8) + old[10:]
    with pytest.raises(StateSchemaError, match="0000000000000000"):
        StateCodec(tmp_path).loads(account_v2(), forged)


def test_a_new_field_without_a_default_fails_naming_it_and_what_to_do(tmp_path: Path) -> None:
    old = written_by_v1(tmp_path)
    codec = StateCodec(tmp_path)
    with pytest.raises(StateSchemaError, match=r"Account\.segment is new and has no default.*give the dataclass field "
                                               r"a default"):
        codec.loads(account_v3(), old)
    with pytest.raises(StateSchemaError, match=r"Account\.segment"):  # and again, from the cached refusal
        codec.loads(account_v3(), old)


def test_incompatible_changes_are_named_by_field_path() -> None:
    before = dataclasses.make_dataclass("Thing", [("tier", Tier), ("inner", Inner), ("visits", int)])
    after = dataclasses.make_dataclass("Thing", [("tier", Literal["gold"]), ("inner", Outer), ("visits", str)])
    problems = incompatibilities(fastavro.parse_schema(schema_for(before)), fastavro.parse_schema(schema_for(after)),
                                 "Thing")
    assert problems == ["Thing.tier: ['basic'] are stored values and no longer in the Literal",
                        "Thing.inner: record Inner values cannot be read as record Outer",
                        "Thing.visits: long values cannot be read as string"]


# ---------------------------------------------------------------- migrations: data that moved

@dataclass(frozen=True, slots=True)
class Contacts:
    addresses: tuple[str, ...] = ()
    primary: str = ""


def member_v1() -> Any:
    @dataclass(frozen=True, slots=True)
    class Member:
        customer_id: str
        emails: tuple[str, ...] = ()

    return Member


def member_v2() -> Any:
    """v1 with its e-mails moved into a record: the field keeps its name, so v1 values no longer resolve."""
    @dataclass(frozen=True, slots=True)
    class Member:
        customer_id: str
        emails: Contacts = Contacts()

    return Member


def member_v3() -> Any:
    """v2 and a field added since, with a default."""
    @dataclass(frozen=True, slots=True)
    class Member:
        customer_id: str
        emails: Contacts = Contacts()
        visits: int = 0

    return Member


def contacts_of_emails(v: dict[str, Any]) -> dict[str, Any]:
    emails = list(v.get("emails") or ())
    return {**v, "emails": {"addresses": emails, "primary": emails[0] if emails else ""}}


def member_history(tmp_path: Path) -> tuple[bytes, Migration]:
    """A v1 value, and the migration from v1 to v2, with both schemas in the history at `tmp_path`."""
    v1, v2 = member_v1(), member_v2()
    write_history(v1, tmp_path)
    write_history(v2, tmp_path)
    old = StateCodec(tmp_path).dumps(v1(customer_id="c1", emails=("a@x", "b@x")))
    fp1 = fingerprint(schema_for(v1))
    return old, Migration(before=frozenset({fp1}), pivot=fp1, result=fingerprint(schema_for(v2)),
                          upgrade=contacts_of_emails)


def test_a_value_whose_data_moved_since_is_upgraded_by_its_migration_and_loses_nothing(tmp_path: Path) -> None:
    old, migration = member_history(tmp_path)
    v2 = member_v2()
    codec = StateCodec(tmp_path, {v2: migration})
    assert codec.loads(v2, old) == v2(customer_id="c1", emails=Contacts(("a@x", "b@x"), "a@x"))
    assert codec.loads(v2, codec.dumps(v2(customer_id="c2"))) == v2(customer_id="c2")  # the current: as it is
    as_json = b'{"customer_id": "c3", "emails": ["c@x"]}'  # the JSON of earlier versions: the oldest layout
    assert codec.loads(v2, as_json) == v2(customer_id="c3", emails=Contacts(("c@x",), "c@x"))


def test_without_its_migration_a_value_whose_data_moved_is_refused_not_stripped(tmp_path: Path) -> None:
    old, _ = member_history(tmp_path)
    with pytest.raises(StateSchemaError, match=r"Member\.emails: array values cannot be read as record Contacts"):
        StateCodec(tmp_path, {}).loads(member_v2(), old)


def test_a_migrated_value_reads_on_to_a_later_schema_by_resolution(tmp_path: Path) -> None:
    old, migration = member_history(tmp_path)
    v3 = member_v3()
    write_history(v3, tmp_path)
    codec = StateCodec(tmp_path, {v3: migration})
    assert codec.loads(v3, old) == v3(customer_id="c1", emails=Contacts(("a@x", "b@x"), "a@x"), visits=0)


def test_a_migration_that_fails_or_misses_its_result_is_a_state_schema_error(tmp_path: Path) -> None:
    old, migration = member_history(tmp_path)
    v2, v3 = member_v2(), member_v3()
    write_history(v3, tmp_path)

    def broken(v: dict[str, Any]) -> dict[str, Any]:
        return {**v, "emails": v["no such field"]}

    with pytest.raises(StateSchemaError, match="does not upgrade .*KeyError"):
        StateCodec(tmp_path, {v2: dataclasses.replace(migration, upgrade=broken)}).loads(v2, old)
    with pytest.raises(StateSchemaError, match="upgrade does not fit schema"):
        StateCodec(tmp_path, {v3: dataclasses.replace(migration, upgrade=lambda v: v)}).loads(v3, old)
    lost = dataclasses.replace(migration, pivot=bytes(8))
    with pytest.raises(StateSchemaError, match="0000000000000000"):
        StateCodec(tmp_path, {v2: lost}).loads(v2, old)


@pytest.mark.parametrize("data", [
    b"", b"\x00", b"\xc3", b"\xc3\x01\x00\x01", b"garbage that is no state", b"\xff" * 40, b"[1, 2]",
    b"{not json", b'{"identifier": 5, "customers": "x"}', b'{"customers": []}', b"{" * 100_000,
], ids=repr)
def test_garbage_is_a_state_schema_error_not_a_random_exception(data: bytes) -> None:
    with pytest.raises(StateSchemaError):
        state_codec.loads(IdentityNode, data)


def test_a_corrupt_body_under_the_current_fingerprint_is_a_state_schema_error() -> None:
    states, _ = final_tables()
    good = state_codec.dumps(richest(states))
    with pytest.raises(StateSchemaError, match="trailing"):
        state_codec.loads(CustomerState, good + b"\x00")
    with pytest.raises(StateSchemaError, match="corrupt"):
        state_codec.loads(CustomerState, good[: len(good) // 2])
    rng = random.Random(5)
    for _ in range(300):
        bad = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            bad[rng.randrange(10, len(bad))] = rng.randrange(256)
        with contextlib.suppress(StateSchemaError):  # a flipped byte may still decode; it must never crash
            state_codec.loads(CustomerState, bytes(bad))


def test_a_value_that_does_not_fit_its_schema_names_the_field_not_the_value() -> None:
    with pytest.raises(EncodeError, match="does not fit its state schema") as err:
        state_codec.dumps(Outer(inner=Inner("a"), maybe=None, counts={"k": 2**70}, items=()))
    assert str(2**70) not in str(err.value)


# ---------------------------------------------------------------- the derived schema

def test_the_schema_follows_the_type_hints() -> None:
    v2 = account_v2()
    schema = schema_for(v2)
    assert (schema["name"], schema["namespace"]) == ("Account", "paymentjourney.state")
    types = {f["name"]: f["type"] for f in schema["fields"]}
    defaults = {f["name"]: f["default"] for f in schema["fields"] if "default" in f}
    assert types["visits"] == "long" and types["ratio"] == "double"
    assert types["tier"] == {"type": "enum", "name": "Account_tier", "symbols": ["basic", "gold", "platinum"]}
    assert types["nickname"] == ["null", "string"] and defaults["nickname"] is None
    assert types["limits"] == {"type": "map", "values": "long"} and defaults["limits"] == {}
    assert types["inner"]["name"] == "Inner" and defaults["inner"] == {"name": "none", "seen": []}
    seen = types["inner"]["fields"][1]["type"]["items"]
    assert seen == {"type": "record", "name": "Inner_seen",
                    "fields": [{"name": "_0", "type": "string"}, {"name": "_1", "type": "long"}]}
    assert "customer_id" not in defaults


def test_an_optional_with_a_default_value_lists_that_branch_first() -> None:
    @dataclass(frozen=True)
    class Opt:
        limit: int | None = 5

    [f] = schema_for(Opt)["fields"]
    assert (f["type"], f["default"]) == (["long", "null"], 5)
    fastavro.parse_schema(schema_for(Opt))


def test_another_avro_implementation_reads_a_value_with_the_committed_schema() -> None:
    states, _ = final_tables()  # a customer state: identity nodes no longer load from JSON (pre-pseudonym form)
    state = max(states, key=lambda s: len(state_codec.dumps(s)))
    data = state_codec.dumps(state)
    shipped = HISTORY_DIR / f"CustomerState.{data[2:10].hex()}.avsc"
    reader = avro.io.DatumReader(avro.schema.parse(shipped.read_text()))
    plain = reader.read(avro.io.BinaryDecoder(io.BytesIO(data[10:])))
    assert decoder(CustomerState)(plain) == state
