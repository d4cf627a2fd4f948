"""The wire format: every schema round-trips, golden bytes hold, and the reference implementation agrees."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import avro.io
import avro.schema
import pytest

from agents.rules.events import RECORD_TYPES, DeviceSeen
from pipeline.codec import Codec, load_schemas
from pipeline.errors import DecodeError
from pipeline.registry import LocalRegistry

SCHEMAS = load_schemas()


def sample(t: Any, name: str, n: int = 3, names: dict[str, Any] | None = None) -> Any:
    """A value for Avro type t that exercises every field (optional ones filled in)."""
    names = {} if names is None else names
    if isinstance(t, list):
        return sample([x for x in t if x != "null"][0], name, n, names)
    if isinstance(t, dict):
        kind = t["type"]
        if kind in ("record", "enum"):
            names[t["name"]] = t
        if kind == "record":
            return {f["name"]: sample(f["type"], f["name"], n, names) for f in t["fields"]}
        if kind == "enum":
            return t["symbols"][n % len(t["symbols"])]
        if kind == "array":
            return [sample(t["items"], name, n + i, names) for i in range(2)]
        if kind == "map":
            return {"k1": "v1", "k2": "v2"}
        if t.get("logicalType") == "timestamp-millis":
            return 1_763_800_000_123 + n
        return sample(kind, name, n, names)
    if t in names:
        return sample(names[t], name, n, names)
    return {"string": f"{name}-é-{n}", "long": 2**40 + n, "int": -n - 1, "boolean": n % 2 == 1,
            "double": 1.5, "float": 0.5}[t]


@pytest.fixture
def codec(tmp_path: Path) -> Codec:
    return Codec(LocalRegistry(tmp_path / "registry.json"))


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_schema_round_trips_through_the_codec(codec: Codec, name: str) -> None:
    record = RECORD_TYPES[name].from_record(sample(SCHEMAS[name], name))
    data = codec.encode(record)
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == codec.schema_id(name)
    assert codec.decode(data) == record


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_reference_implementation_reads_what_fastavro_wrote(codec: Codec, name: str) -> None:
    record = RECORD_TYPES[name].from_record(sample(SCHEMAS[name], name))
    body = codec.encode(record)[5:]
    schema = avro.schema.parse(json.dumps(SCHEMAS[name]))
    decoded = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(io.BytesIO(body)))
    assert RECORD_TYPES[name].from_record(decoded) == record


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_fastavro_reads_what_the_reference_implementation_wrote(codec: Codec, name: str) -> None:
    value = sample(SCHEMAS[name], name, n=4)
    schema = avro.schema.parse(json.dumps(SCHEMAS[name]))
    buf = io.BytesIO()
    avro.io.DatumWriter(schema).write(value, avro.io.BinaryEncoder(buf))
    framed = b"\x00" + codec.schema_id(name).to_bytes(4, "big") + buf.getvalue()
    assert codec.decode(framed) == RECORD_TYPES[name].from_record(value)


def test_golden_bytes_of_a_device_seen(codec: Codec) -> None:
    rec = DeviceSeen(event_id="e", customer_id="c", occurred_at=1_700_000_000_000, device_id="d", ip="1",
                     ip_country="NL", user_agent="x")
    sid = codec.schema_id("DeviceSeen")
    # magic 00, schema id, then zigzag varint lengths: "e" (02 65), "c" (02 63), 1_700_000_000_000 as a zigzag
    # varint (80 a0 ab fe f9 62), "d", "1", "NL", "x".
    expected = "00" + f"{sid:08x}" + "0265" + "0263" + "80a0abfef962" + "0264" + "0231" + "044e4c" + "0278"
    assert codec.encode(rec).hex() == expected


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "truncated"),
    (b"\x00\x00\x00", "truncated"),
    (b"\x01\x00\x00\x00\x01abc", "bad_magic"),
    (b"\x00\x00\x00\x7f\xffabc", "unknown_schema_id"),
])
def test_undecodable_bytes_raise_a_decode_error_with_a_reason(codec: Codec, data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as err:
        codec.decode(data)
    assert err.value.reason == reason


def test_truncated_and_trailing_bodies_are_invalid(codec: Codec) -> None:
    good = codec.encode(DeviceSeen(event_id="e", customer_id="c", occurred_at=1, device_id="d", ip="1",
                                   ip_country="NL", user_agent="x"))
    for bad in (good[:9], good + b"\x00"):
        with pytest.raises(DecodeError) as err:
            codec.decode(bad)
        assert err.value.reason == "body_invalid"


def test_a_second_codec_on_the_same_registry_reads_the_first_ones_bytes(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    rec = DeviceSeen(event_id="e", customer_id="c", occurred_at=1, device_id="d", ip="1", ip_country="NL",
                     user_agent="x")
    data = Codec(LocalRegistry(path)).encode(rec)
    assert Codec(LocalRegistry(path)).decode(data) == rec
