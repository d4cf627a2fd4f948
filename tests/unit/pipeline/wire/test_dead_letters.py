"""Triage: every consumed message either decodes to an input event or becomes a dead letter that can be sent,
with a stable reason, headers that say why without leaking the payload, and a size Kafka will accept."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from agents.rules.erasure import ErasureRequested
from agents.rules.events import DeviceSeen, DueAction, IdentityLinked, RefundRequested
from pipeline.errors import RegistryError
from pipeline.wire.codec import Codec
from pipeline.wire.dead_letters import (
    ERROR_HEADERS_MARGIN,
    MAX_DLQ_VALUE_BYTES,
    REASONS,
    DeadLetter,
    Decoded,
    triage,
)
from pipeline.wire.registry import LocalRegistry
from tests.unit.pipeline.wire.test_codec import SCHEMAS, evolved, fastavro_body, frame
from tests.unit.pipeline.wire.test_codec import record_for as any_record

FAUST_MAX_REQUEST_SIZE = 1_000_000  # faust-streaming's producer_max_request_size default
INPUTS_BY_TOPIC = [
    ("payments", "PaymentAttempted"), ("payments", "PaymentFailed"), ("payments", "PaymentSucceeded"),
    ("payments", "AuthenticationResult"), ("payments", "Chargeback"), ("devices", "DeviceSeen"),
    ("orders", "OrderPlaced"), ("orders", "OrderDelivered"), ("refunds", "RefundRequested"),
    ("refunds", "RefundIssued"), ("customers", "CustomerPreferencesUpdated"), ("dunning-due", "DueAction"),
]


@pytest.fixture(scope="module")
def codec(tmp_path_factory: pytest.TempPathFactory) -> Codec:
    return Codec(LocalRegistry(tmp_path_factory.mktemp("dlq") / "registry.json"))


def parked(result: Decoded | DeadLetter, reason: str) -> DeadLetter:
    assert isinstance(result, DeadLetter), result
    assert result.reason == reason and result.headers["error.reason"] == reason.encode()
    return result


def device_seen(**changes: Any) -> DeviceSeen:
    return dataclasses.replace(DeviceSeen(event_id="e1", customer_id="c1", occurred_at=1_760_000_000_000,
                                          device_id="d1", ip="10.0.0.1", ip_country="NL", user_agent="ua"), **changes)


def record_for(name: str) -> Any:
    """A record of every field filled (test_codec's), with business values the worker accepts, keyed by "c1"."""
    record = any_record(name)
    plausible: dict[str, Any] = {"customer_id": "c1", "occurred_at": 1_760_000_000_000}
    names = {f.name for f in dataclasses.fields(record)}
    plausible |= {k: v for k, v in (("currency", "EUR"), ("amount_minor", 4_200)) if k in names}
    return dataclasses.replace(record, **{k: v for k, v in plausible.items() if k in names})


def record_size(dl: DeadLetter) -> int:
    """What aiokafka's producer compares with max_request_size before it sends."""
    return int(DefaultRecordBatchBuilder.estimate_size_in_bytes(dl.key, dl.value, list(dl.headers.items())))


# ---- what decodes


@pytest.mark.parametrize(("topic", "name"), INPUTS_BY_TOPIC)
def test_a_valid_event_decodes_to_the_record_the_codec_gives(codec: Codec, topic: str, name: str) -> None:
    data = codec.encode(record_for(name))
    result = triage(codec, topic, 0, 1, b"c1", data)
    assert result == Decoded(codec.decode(data))
    assert result.event == record_for(name)


def test_identifiers_at_the_limit_still_decode(codec: Codec) -> None:
    event = device_seen(device_id="d" * 128, customer_id="c" * 128)
    assert triage(codec, "devices", 0, 1, b"c" * 128, codec.encode(event)) == Decoded(event)


# ---- one test per reason


def test_a_null_value_parks_an_empty_payload(codec: Codec) -> None:
    dl = parked(triage(codec, "payments", 3, 17, None, None), "null_value")
    assert (dl.topic, dl.key, dl.value) == ("payments-dlq", b"", b"")


def test_a_value_shorter_than_the_wire_header_is_truncated(codec: Codec) -> None:
    for value in (b"", b"\x00\x00\x00"):
        dl = parked(triage(codec, "payments", 0, 1, b"c1", value), "truncated")
        assert dl.value == value


def test_a_value_not_in_the_confluent_wire_format_has_bad_magic(codec: Codec) -> None:
    parked(triage(codec, "payments", 0, 1, b"c1", b'{"json": true}'), "bad_magic")


def test_a_schema_id_the_registry_does_not_have_is_unknown(codec: Codec) -> None:
    parked(triage(codec, "payments", 0, 1, b"c1", frame(0x7FFF0001, b"\x00")), "unknown_schema_id")


def test_a_schema_id_naming_a_record_we_do_not_know_is_an_unknown_record(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry.json")
    codec = Codec(registry)
    mystery = {"type": "record", "name": "Mystery", "namespace": "paymentjourney", "fields": []}
    sid = registry.register("payments-paymentjourney.Mystery", json.dumps(mystery))
    parked(triage(codec, "payments", 0, 1, b"c1", frame(sid, b"")), "unknown_record")


def test_a_writer_schema_that_does_not_resolve_against_ours_is_incompatible(tmp_path: Path) -> None:
    registry = LocalRegistry(tmp_path / "registry.json")
    codec = Codec(registry)
    changed = evolved("OrderDelivered", drop=("order_id",), add=({"name": "order_id", "type": "long"},))
    sid = registry.register("orders-paymentjourney.OrderDelivered", json.dumps(changed))
    body = fastavro_body(changed, {"event_id": "e", "customer_id": "c", "occurred_at": 1, "order_id": 42})
    parked(triage(codec, "orders", 0, 1, b"c", frame(sid, body)), "incompatible_schema")


def test_a_body_that_does_not_decode_is_invalid(codec: Codec) -> None:
    good = codec.encode(record_for("PaymentAttempted"))
    for bad in (good[:-1], good + b"\x00"):
        dl = parked(triage(codec, "payments", 0, 1, b"c1", bad), "body_invalid")
        assert dl.value == bad


def test_a_record_on_a_topic_it_does_not_belong_to_is_wrong_topic(codec: Codec) -> None:
    for topic, name in [("payments", "DeviceSeen"), ("decisions", "PaymentDecision"), ("payments", "DueAction"),
                        ("identity-links", "IdentityLinked")]:
        dl = parked(triage(codec, topic, 0, 1, b"c1", codec.encode(record_for(name))), "wrong_topic")
        assert dl.headers["error.message"] == f"{name} does not belong on topic {topic}".encode()
    assert isinstance(triage(codec, "dunning-due", 0, 1, b"c1", codec.encode(record_for("DueAction"))).event,
                      DueAction)


def test_a_one_megabyte_value_is_not_decoded_and_its_truncated_copy_matches_by_digest() -> None:
    class MustNotDecode:
        def decode(self, data: bytes) -> Any:
            raise AssertionError("decoded a value over the limit")

    value = b"\x00\x00\x00\x00\x01" + random.Random(1).randbytes(1024 * 1024 - 5)
    dl = parked(triage(MustNotDecode(), "payments", 2, 99, b"c1", value), "value_too_large")
    assert dl.headers["error.truncated"] == b"true"
    assert dl.headers["error.original_size"] == b"1048576"
    assert dl.headers["error.original_sha256"] == hashlib.sha256(value).hexdigest().encode()
    assert 0 < len(dl.value) <= MAX_DLQ_VALUE_BYTES and value.startswith(dl.value)
    assert dl.size <= MAX_DLQ_VALUE_BYTES + ERROR_HEADERS_MARGIN
    assert record_size(dl) < FAUST_MAX_REQUEST_SIZE


def test_a_400_kb_device_id_is_field_too_long_naming_device_id(codec: Codec) -> None:
    data = codec.encode(device_seen(device_id="x" * 400_000))
    # over the value limit by default: parked without decoding
    parked(triage(codec, "devices", 0, 5, b"c1", data), "value_too_large")
    # with a higher value limit, the field rule still stops it before the step sees it
    dl = parked(triage(codec, "devices", 0, 5, b"c1", data, max_value_bytes=1024 * 1024), "field_too_long")
    assert dl.headers["error.field"] == b"device_id"
    assert b"xxxx" not in dl.headers["error.message"]
    assert dl.headers["error.original_sha256"] == hashlib.sha256(data).hexdigest().encode()
    assert record_size(dl) < FAUST_MAX_REQUEST_SIZE


@pytest.mark.parametrize("field", ["event_id", "customer_id", "device_id", "ip"])
def test_any_identifier_over_the_limit_is_field_too_long(codec: Codec, field: str) -> None:
    dl = parked(triage(codec, "devices", 0, 5, b"c1", codec.encode(device_seen(**{field: "9" * 129}))),
                "field_too_long")
    assert dl.headers["error.field"] == field.encode()


def test_long_identifiers_on_refund_claims_are_caught_too(codec: Codec) -> None:
    claim = dataclasses.replace(record_for("RefundRequested"), card_fingerprint="f" * 300)
    assert isinstance(claim, RefundRequested)
    dl = parked(triage(codec, "refunds", 0, 5, b"c1", codec.encode(claim)), "field_too_long")
    assert dl.headers["error.field"] == b"card_fingerprint"


def test_anything_else_the_decoder_raises_is_a_decoder_error_named_by_type_only() -> None:
    class Broken:
        def decode(self, data: bytes) -> Any:
            raise RuntimeError("jane.doe@example.com broke it")

    dl = parked(triage(Broken(), "payments", 0, 1, b"c1", b"\x00\x00\x00\x00\x01"), "decoder_error")
    assert dl.headers["error.message"] == b"the decoder raised RuntimeError"


# ---- what is not a dead letter


def test_an_unreachable_registry_propagates_so_the_caller_waits(tmp_path: Path) -> None:
    path = tmp_path / "registry.json"
    codec = Codec(LocalRegistry(path))
    path.write_text("{ half a file")
    with pytest.raises(RegistryError):
        triage(codec, "payments", 0, 1, b"c1", frame(4242, b"\x00"))


# ---- headers and sizes


def test_headers_say_where_from_and_keep_the_originals(codec: Codec) -> None:
    originals = [("traceparent", b"00-abc-01"), ("empty", None), ("error.reason", b"old"), ("traceparent", b"2nd")]
    dl = parked(triage(codec, "orders", 7, 12345, b"c9", b"\x05junk", originals), "bad_magic")
    assert dl.headers["traceparent"] == b"00-abc-01" and dl.headers["empty"] == b""
    assert dl.headers["error.headers_dropped"] == b"1"  # the repeated name
    assert (dl.headers["error.topic"], dl.headers["error.partition"], dl.headers["error.offset"]) == (
        b"orders", b"7", b"12345")
    assert (dl.topic, dl.key, dl.value) == ("orders-dlq", b"c9", b"\x05junk")
    assert "error.truncated" not in dl.headers and "error.field" not in dl.headers


def test_the_message_header_never_holds_payload_and_stays_under_500_bytes(codec: Codec) -> None:
    secret = "jane.doe@example.com"
    data = codec.encode(dataclasses.replace(record_for("RefundRequested"), claimant_email=secret))
    for bad in (data[:-3], data + b"\x01", b"\x07" + data[1:], data[:5] + b"\x7f" + data[6:]):
        dl = triage(codec, "refunds", 0, 1, b"c1", bad)
        assert isinstance(dl, DeadLetter)
        assert b"jane" not in dl.headers["error.message"] and len(dl.headers["error.message"]) <= 500
    long_topic = "t" + "é" * 600
    dl = parked(triage(codec, long_topic, 0, 1, b"c1", b"\x01\x00\x00\x00\x01"), "bad_magic")
    assert len(dl.headers["error.message"]) <= 500
    dl.headers["error.message"].decode()  # clipped on a character boundary


@pytest.mark.parametrize(("key", "value", "headers"), [
    (b"k" * 2_000_000, b"\x00" * 10, None),
    (None, b"\x01" * 5_000_000, {f"h{i}": b"v" * 1000 for i in range(100)}),
    (b"k" * 5000, b"\x00" * 300_000, [("big", b"v" * 600_000)]),
])
def test_a_dead_letter_always_fits_its_budget(codec: Codec, key: bytes | None, value: bytes,
                                              headers: Any) -> None:
    dl = triage(codec, "payments", 0, 1, key, value, headers)
    assert isinstance(dl, DeadLetter)
    assert dl.size <= MAX_DLQ_VALUE_BYTES + ERROR_HEADERS_MARGIN
    assert record_size(dl) < FAUST_MAX_REQUEST_SIZE
    if key and len(key) > len(dl.key):
        assert dl.headers["error.key_original_size"] == str(len(key)).encode()


@pytest.mark.parametrize("budget", [0, 100, 4096])
def test_a_small_dlq_budget_is_kept_too(codec: Codec, budget: int) -> None:
    dl = triage(codec, "payments", 0, 1, b"k" * 500, b"\x09" * 10_000, {"h": b"v" * 500},
                max_dlq_value_bytes=budget)
    assert isinstance(dl, DeadLetter) and dl.size <= budget + ERROR_HEADERS_MARGIN


# ---- never raises


def test_triage_never_raises_for_any_bytes(codec: Codec) -> None:
    rng = random.Random(20251122)
    valid = [codec.encode(record_for(name)) for name in sorted(SCHEMAS)]
    headers = [frame(codec.schema_id(name), b"") for name in sorted(SCHEMAS)]
    topics = ["payments", "devices", "orders", "refunds", "customers", "dunning-due"]
    seen = set()
    for i in range(3000):
        kind = i % 4
        if kind == 0:
            value = rng.randbytes(rng.randrange(0, 2001))
        elif kind == 1:
            value = rng.choice(headers) + rng.randbytes(rng.randrange(0, 2001))
        elif kind == 2:
            good = bytearray(rng.choice(valid))
            for _ in range(rng.randrange(1, 4)):
                good[rng.randrange(5, len(good))] = rng.randrange(256)
            value = bytes(good)
        else:
            good = rng.choice(valid)
            value = good[:rng.randrange(0, len(good) + 1)] + rng.randbytes(rng.randrange(0, 50))
        result = triage(codec, rng.choice(topics), 0, i, rng.choice([None, b"", b"c1"]), value)
        if isinstance(result, DeadLetter):
            assert result.reason in REASONS
            assert result.size <= MAX_DLQ_VALUE_BYTES + ERROR_HEADERS_MARGIN
            seen.add(result.reason)
        else:
            assert isinstance(result, Decoded)
            seen.add("decoded")
    assert {"truncated", "bad_magic", "unknown_schema_id", "body_invalid", "wrong_topic", "decoded"} <= seen


# ---- business values and keys (agents/rules/validation.py)

@pytest.mark.parametrize(("changes", "field", "rule"), [
    ({"amount_minor": -1}, "amount_minor", "negative"),
    ({"amount_minor": 2**62}, "amount_minor", "too_large"),
    ({"currency": "QQQ"}, "currency", "unknown_currency"),
    ({"currency": "eur"}, "currency", "unknown_currency"),
    ({"occurred_at": 0}, "occurred_at", "implausible_time"),
    ({"occurred_at": 253_402_300_799_000}, "occurred_at", "implausible_time"),  # 9999-12-31
    ({"payment_id": ""}, "payment_id", "empty"),
])
def test_an_absurd_business_value_is_parked_with_its_field_and_rule(codec: Codec, changes: dict[str, Any],
                                                                      field: str, rule: str) -> None:
    event = dataclasses.replace(record_for("PaymentAttempted"), **changes)
    dl = parked(triage(codec, "payments", 0, 1, b"c1", codec.encode(event)), "invalid_value")
    assert dl.headers["error.field"] == field.encode() and dl.headers["error.rule"] == rule.encode()


def test_an_empty_customer_id_is_not_one_customer_shared_by_everyone(codec: Codec) -> None:
    event = dataclasses.replace(record_for("PaymentAttempted"), customer_id="")
    dl = parked(triage(codec, "payments", 0, 1, b"", codec.encode(event)), "invalid_value")
    assert dl.headers["error.rule"] == b"empty"


def test_a_zero_amount_in_a_currency_without_minor_units_is_fine(codec: Codec) -> None:
    event = dataclasses.replace(record_for("PaymentAttempted"), amount_minor=0, currency="JPY")
    assert isinstance(triage(codec, "payments", 0, 1, b"c1", codec.encode(event)), Decoded)


@pytest.mark.parametrize("key", [None, b"someone-else", b""])
def test_a_null_or_foreign_key_is_a_key_mismatch(codec: Codec, key: bytes | None) -> None:
    data = codec.encode(record_for("PaymentAttempted"))
    dl = parked(triage(codec, "payments", 0, 1, key, data), "key_mismatch")
    assert dl.headers["error.field"] == b"key"


# ---- erasure: a tombstone on `customers`


def test_a_tombstone_on_customers_keyed_by_a_customer_id_asks_for_an_erasure(codec: Codec) -> None:
    found = triage(codec, "customers", 2, 41, b"cust-7", None, timestamp_ms=1_760_000_000_000)
    assert isinstance(found, Decoded)
    assert found.event == ErasureRequested(event_id="erasure:customers:2:41", customer_id="cust-7",
                                           occurred_at=1_760_000_000_000)


def test_a_tombstone_on_customers_without_a_usable_key_is_parked(codec: Codec) -> None:
    for key in (None, b"", b"\xff\xfe"):
        dl = parked(triage(codec, "customers", 0, 1, key, None), "key_mismatch")
        assert dl.headers["error.field"] == b"key"
    parked(triage(codec, "customers", 0, 1, b"c" * 200, None, max_id_chars=128), "field_too_long")


def test_a_tombstone_anywhere_else_or_for_another_agent_is_still_a_null_value(codec: Codec) -> None:
    parked(triage(codec, "payments", 0, 1, b"cust-7", None), "null_value")
    parked(triage(codec, "identity-links", 0, 1, b"cust-7", None, accepts=(IdentityLinked,)), "null_value")
