"""The wire format: every schema round-trips, golden bytes hold, the reference implementation agrees,
evolution works, and bytes that can never decode say why."""

from __future__ import annotations

import dataclasses
import io
import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import avro.io
import avro.schema
import fastavro
import pytest

from agents.rules.events import RECORD_TYPES, DeviceSeen, PaymentAttempted, PaymentDecision, Reason
from pipeline.errors import DecodeError, EncodeError, RegistryError, SchemaLookupNeeded, SchemaNotFound
from pipeline.wire.codec import Codec, load_schemas, physical
from pipeline.wire.registry import LocalRegistry

SCHEMAS = load_schemas()


def sample(t: Any, name: str = "x", n: int = 3, names: dict[str, Any] | None = None,
           full: bool = True) -> Any:
    """A value for Avro type t, built from the schema alone. full=True fills every field, optional ones and
    nested records, arrays and maps included; full=False leaves out every field that has a default."""
    names = {} if names is None else names
    if isinstance(t, list):
        return sample([b for b in t if b != "null"][0], name, n, names, full)
    if isinstance(t, str) and t in names:
        return sample(names[t], name, n, names, full)
    if t == "string":
        return f"{name}-é-✓-{n}"  # non-ASCII: lengths are in bytes, not characters
    if t == "boolean":
        return n % 2 == 1
    if t == "long":
        return (-1) ** n * (2**40 * n + 7)  # both signs, several varint bytes
    if t == "int":
        return -5 * n
    if t in ("double", "float"):
        return 1.5 * n
    kind = t["type"]
    if kind in ("record", "enum"):
        names[t["name"]] = t
    if kind == "record":
        return {f["name"]: sample(f["type"], f["name"], n + i, names, full)
                for i, f in enumerate(t["fields"]) if full or "default" not in f}
    if kind == "enum":
        return t["symbols"][n % len(t["symbols"])]
    if kind == "array":
        return [sample(t["items"], name, n + i, names, full) for i in range(2)]
    if kind == "map":
        return {f"{name}-{i}": sample(t["values"], name, n + i, names, full) for i in range(2)}
    if t.get("logicalType") == "timestamp-millis":
        return 1_763_800_000_123 + n * 86_400_017
    return sample(kind, name, n, names, full)


def record_for(name: str, n: int = 3, full: bool = True) -> Any:
    return RECORD_TYPES[name].from_record(sample(SCHEMAS[name], name, n, full=full))


def reference_schema(name: str) -> Any:
    return avro.schema.parse(json.dumps(SCHEMAS[name]))


def as_millis(value: Any) -> Any:
    """Reference implementations that know timestamp-millis return datetimes; compare them as epoch ms.
    (avro-python3 1.10.2 predates logical types and returns the plain long; both are handled.)"""
    if isinstance(value, datetime):
        return (value - datetime(1970, 1, 1, tzinfo=UTC)) // (datetime.resolution * 1000)
    if isinstance(value, dict):
        return {k: as_millis(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_millis(v) for v in value]
    return value


class CountingRegistry:
    """A registry fake that hands out ids from `first` and counts look-ups: the registry is a boundary."""

    def __init__(self, first: int = 1, fixed: dict[str, int] | None = None) -> None:
        self.schemas: dict[int, str] = {}
        self.fixed = fixed or {}  # subject -> the id to give it
        self.next_id = first
        self.lookups = 0
        self.unreachable = False

    def register(self, subject: str, schema: str) -> int:
        for sid, text in self.schemas.items():
            if text == schema:
                return sid
        if subject in self.fixed:
            self.schemas[self.fixed[subject]] = schema
            return self.fixed[subject]
        self.schemas[self.next_id] = schema
        self.next_id += 1
        return self.next_id - 1

    def get_schema(self, schema_id: int) -> str:
        self.lookups += 1
        if self.unreachable:
            raise RegistryError("registry down")
        if schema_id not in self.schemas:
            raise SchemaNotFound(f"no schema {schema_id}")
        return self.schemas[schema_id]


@pytest.fixture(scope="module")
def codec(tmp_path_factory: pytest.TempPathFactory) -> Codec:
    """One codec for the tests that only encode and decode: building one registers every schema."""
    return Codec(LocalRegistry(tmp_path_factory.mktemp("codec") / "registry.json"))


def frame(sid: int, body: bytes) -> bytes:
    return b"\x00" + sid.to_bytes(4, "big") + body


def fastavro_body(schema: dict[str, Any], value: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(physical(schema)), value)
    return buf.getvalue()


# ---- every schema, both directions, against the reference implementation


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_schema_round_trips_through_the_codec_with_every_field_filled(codec: Codec, name: str) -> None:
    record = record_for(name)
    data = codec.encode(record)
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == codec.schema_id(name)
    assert codec.decode(data) == record


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_schema_round_trips_with_only_its_required_fields(codec: Codec, name: str) -> None:
    record = record_for(name, full=False)
    assert codec.decode(codec.encode(record)) == record


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_reference_implementation_reads_what_fastavro_wrote(codec: Codec, name: str) -> None:
    record = record_for(name)
    body = codec.encode(record)[5:]
    decoded = avro.io.DatumReader(reference_schema(name)).read(avro.io.BinaryDecoder(io.BytesIO(body)))
    assert as_millis(decoded) == record.to_record()


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_fastavro_reads_what_the_reference_implementation_wrote(codec: Codec, name: str) -> None:
    value = sample(SCHEMAS[name], name, n=4)
    buf = io.BytesIO()
    avro.io.DatumWriter(reference_schema(name)).write(value, avro.io.BinaryEncoder(buf))
    assert codec.decode(frame(codec.schema_id(name), buf.getvalue())) == RECORD_TYPES[name].from_record(value)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_both_implementations_write_the_same_bytes(codec: Codec, name: str) -> None:
    record = record_for(name, n=5)
    buf = io.BytesIO()
    avro.io.DatumWriter(reference_schema(name)).write(record.to_record(), avro.io.BinaryEncoder(buf))
    assert codec.encode(record)[5:] == buf.getvalue()


# ---- golden bytes, checked by hand


def test_golden_bytes_of_a_device_seen() -> None:
    codec = Codec(CountingRegistry(fixed={"devices-paymentjourney.DeviceSeen": 0x01020304}))
    rec = DeviceSeen(event_id="e", customer_id="c", occurred_at=1_700_000_000_000, device_id="d", ip="1",
                     ip_country="NL", user_agent="x")
    expected = (
        "00"  # magic byte
        "01020304"  # schema id, 4 bytes big-endian
        "0265" "0263"  # "e", "c": length 1 as a zigzag varint (02), then the UTF-8 bytes
        "80a0abfef962"  # 1_700_000_000_000 -> zigzag 3_400_000_000_000 -> 7-bit groups, lowest first
        "0264" "0231" "044e4c" "0278"  # "d", "1", "NL" (length 2 -> 04), "x"
    )
    assert codec.encode(rec).hex() == expected


def test_golden_bytes_of_a_payment_decision_with_enum_union_arrays_and_a_nested_record() -> None:
    codec = Codec(CountingRegistry())
    rec = PaymentDecision(event_id="e", customer_id="c", occurred_at=-3, payment_id="p", source_event_id="s",
                          outcome="challenge", sca_strategy="x", exemption=None, risk_score=70,
                          recommended_method="m", method_ranking=("card",), perks=(),
                          reasons=(Reason(code="A", detail="b"),), policy_version="v1")
    expected = (
        "0265" "0263"  # event_id, customer_id
        "05"  # occurred_at -3: zigzag 5
        "0270" "0273"  # payment_id, source_event_id
        "02"  # outcome: enum index 1 (challenge), zigzag 2
        "0278"  # sca_strategy
        "00"  # exemption: union branch 0 (null), no value
        "8c01"  # risk_score 70: zigzag 140 = 0x8c 0x01
        "026d"  # recommended_method
        "02" "0863617264" "00"  # method_ranking: one block of 1 item, "card", end of array
        "00"  # perks: empty array
        "02" "0241" "0262" "00"  # reasons: 1 item, Reason("A", "b"), end
        "047631"  # policy_version "v1"
    )
    assert codec.encode(rec)[5:].hex() == expected


# ---- bytes that can never decode


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "truncated"),
    (b"\x00\x00\x00", "truncated"),
    (b"\x01\x00\x00\x00\x01abc", "bad_magic"),
    (b"\xff\x00\x00\x00\x01abc", "bad_magic"),
    (b"{\"json\": true}", "bad_magic"),
    (b"\x00\x00\x00\x7f\xffabc", "unknown_schema_id"),
])
def test_undecodable_bytes_raise_a_decode_error_with_a_reason(codec: Codec, data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as err:
        codec.decode(data)
    assert err.value.reason == reason


def test_truncated_and_trailing_bodies_are_invalid(codec: Codec) -> None:
    good = codec.encode(record_for("PaymentAttempted"))
    for bad in (good[:5], good[:9], good[:-1], good + b"\x00"):
        with pytest.raises(DecodeError) as err:
            codec.decode(bad)
        assert err.value.reason == "body_invalid"


def test_random_garbage_after_a_valid_header_only_ever_raises_decode_error(codec: Codec) -> None:
    rng = random.Random(7)
    failures = set()
    for name in sorted(SCHEMAS):
        header = frame(codec.schema_id(name), b"")
        for _ in range(200):
            try:
                codec.decode(header + rng.randbytes(rng.randrange(0, 80)))
            except DecodeError as err:
                failures.add(err.reason)
    assert failures == {"body_invalid"}


def test_decode_errors_never_carry_the_payload(codec: Codec) -> None:
    secret = "jane.doe@example.com"
    data = codec.encode(dataclasses.replace(record_for("RefundRequested"), claimant_email=secret))
    for bad in (data[:-3], data + b"\x01", b"\x07" + data[1:], data[:5] + b"\x7f" + data[6:]):
        with pytest.raises(DecodeError) as err:
            codec.decode(bad)
        assert "jane" not in str(err.value) and "example" not in str(err.value)


def test_a_record_that_does_not_fit_its_schema_names_the_field_and_not_the_value(codec: Codec) -> None:
    bad = DeviceSeen(event_id="e", customer_id="c", occurred_at=1, device_id="d", ip=None,  # type: ignore[arg-type]
                     ip_country="NL", user_agent="secret-agent")
    with pytest.raises(EncodeError) as err:
        codec.encode(bad)
    assert str(err.value).endswith("DeviceSeen.ip") and "secret-agent" not in str(err.value)
    with pytest.raises(EncodeError):
        codec.encode(Reason(code="A", detail="not a top-level record"))


# ---- ids we did not register: other producers, older and newer versions


def evolved(name: str, drop: tuple[str, ...] = (), add: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    schema = json.loads(json.dumps(SCHEMAS[name]))
    schema["fields"] = [f for f in schema["fields"] if f["name"] not in drop] + list(add)
    return schema


def test_bytes_from_an_older_writer_get_the_defaults_of_fields_it_did_not_have(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry.json")
    codec = Codec(registry)
    old = evolved("PaymentAttempted", drop=("network", "card_issuer"))
    value = record_for("PaymentAttempted").to_record()
    del value["network"], value["card_issuer"]
    sid = registry.register("payments-paymentjourney.PaymentAttempted", json.dumps(old))
    assert sid != codec.schema_id("PaymentAttempted")
    decoded = codec.decode(frame(sid, fastavro_body(old, value)))
    assert isinstance(decoded, PaymentAttempted)
    assert (decoded.network, decoded.card_issuer, decoded.payment_id) == (None, None, value["payment_id"])


def test_bytes_from_a_newer_writer_drop_the_fields_this_version_does_not_know(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry.json")
    newer = evolved("DeviceSeen", add=({"name": "screen", "type": "string", "default": ""},))
    sid = registry.register("devices-paymentjourney.DeviceSeen", json.dumps(newer))
    rec = record_for("DeviceSeen")
    data = frame(sid, fastavro_body(newer, {**rec.to_record(), "screen": "1080p"}))
    assert Codec(registry).decode(data) == rec


def test_a_writer_schema_that_cannot_be_resolved_against_ours_is_incompatible(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry.json")
    changed = evolved("OrderDelivered", drop=("order_id",), add=({"name": "order_id", "type": "long"},))
    sid = registry.register("orders-paymentjourney.OrderDelivered", json.dumps(changed))
    body = fastavro_body(changed, {"event_id": "e", "customer_id": "c", "occurred_at": 1, "order_id": 42})
    with pytest.raises(DecodeError) as err:
        Codec(registry).decode(frame(sid, body))
    assert err.value.reason == "incompatible_schema"


@pytest.mark.parametrize("schema", [
    json.dumps({"type": "record", "name": "Mystery", "namespace": "paymentjourney", "fields": []}),
    json.dumps({**SCHEMAS["DeviceSeen"], "namespace": "someoneelse"}),
    'syntax = "proto3"; message DeviceSeen { string id = 1; }',
    json.dumps("string"),
])
def test_an_id_whose_schema_is_not_one_of_our_records_is_unknown(tmp_path: Path, schema: str) -> None:
    registry = CountingRegistry()
    codec = Codec(registry)
    sid = registry.register("other-subject", schema)
    with pytest.raises(DecodeError) as err:
        codec.decode(frame(sid, b"\x00"))
    assert err.value.reason == "unknown_record"


def test_an_unknown_id_is_asked_of_the_registry_once(tmp_path: Path) -> None:
    registry = CountingRegistry()
    codec = Codec(registry)
    for _ in range(5):
        with pytest.raises(DecodeError):
            codec.decode(frame(9999, b"\x00"))
    assert registry.lookups == 1


def test_ids_we_registered_ourselves_never_reach_the_registry(tmp_path: Path) -> None:
    registry = CountingRegistry()
    codec = Codec(registry)
    for name in sorted(SCHEMAS):
        codec.decode(codec.encode(record_for(name)))
    assert registry.lookups == 0


def test_an_unreachable_registry_is_not_mistaken_for_undecodable_bytes() -> None:
    registry = CountingRegistry()
    codec = Codec(registry)
    registry.unreachable = True
    with pytest.raises(RegistryError) as err:
        codec.decode(frame(4242, b"\x00"))
    assert not isinstance(err.value, DecodeError)


def schemas_elsewhere(tmp_path: Path) -> Path:
    """A schemas directory that is not the repository's: only DeviceSeen, with a doc string to recognise it by."""
    other = tmp_path / "other-schemas"
    other.mkdir()
    (other / "DeviceSeen.avsc").write_text(json.dumps({**SCHEMAS["DeviceSeen"], "doc": "from elsewhere"}))
    return other


def test_a_codec_built_with_another_schemas_dir_registers_and_uses_only_those_schemas(tmp_path: Path) -> None:
    registry = CountingRegistry()
    codec = Codec(registry, schemas_dir=schemas_elsewhere(tmp_path))
    assert list(codec.schemas) == ["DeviceSeen"]
    assert [json.loads(text)["doc"] for text in registry.schemas.values()] == ["from elsewhere"]
    rec = record_for("DeviceSeen")
    assert codec.decode(codec.encode(rec)) == rec
    with pytest.raises(EncodeError):
        codec.encode(record_for("PaymentAttempted"))


def test_a_second_codec_on_the_same_registry_reads_the_first_ones_bytes(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    rec = record_for("Notification")
    data = Codec(LocalRegistry(path)).encode(rec)
    assert Codec(LocalRegistry(path)).decode(data) == rec


def test_without_inline_lookups_decode_never_calls_the_registry_and_resolve_does_it_once() -> None:
    registry = CountingRegistry()
    codec = Codec(registry, inline_lookups=False)
    rec = record_for("PaymentAttempted")
    body = codec.encode(rec)[5:]
    other = registry.register("elsewhere", json.dumps(SCHEMAS["PaymentAttempted"], indent=1))  # a new id
    with pytest.raises(SchemaLookupNeeded) as need:
        codec.decode(frame(other, body))
    assert need.value.schema_id == other and registry.lookups == 0
    codec.resolve(other)
    assert codec.decode(frame(other, body)) == rec and registry.lookups == 1


def test_a_refused_id_is_resolved_once_then_decode_refuses_it_without_a_lookup() -> None:
    registry = CountingRegistry()
    codec = Codec(registry, inline_lookups=False)
    with pytest.raises(SchemaLookupNeeded):
        codec.decode(frame(9999, b"\x00"))
    with pytest.raises(DecodeError):
        codec.resolve(9999)
    for _ in range(3):
        with pytest.raises(DecodeError) as err:
            codec.decode(frame(9999, b"\x00"))
    assert err.value.reason == "unknown_schema_id" and registry.lookups == 1
