"""JSON for people: `journey publish` input and `journey tail`/`replay` output."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from agents.rules.events import DeviceSeen, PaymentAttempted
from pipeline.errors import InputError
from pipeline.wire.jsonio import format_timestamp, parse_line, parse_timestamp, record_from_json, record_to_json
from tests.unit.pipeline.wire.test_codec import SCHEMAS, record_for, schemas_elsewhere

ATTEMPT: dict[str, Any] = {
    "event_id": "e1", "customer_id": "c1", "occurred_at": "2026-11-01T10:00:00Z", "payment_id": "p1",
    "order_id": "o1", "amount_minor": 1250, "currency": "EUR", "method": "card", "initiator": "customer",
    "customer_country": "NL", "sca_applies": True,
}
NOV_1_10H = 1_793_527_200_000  # 2026-11-01T10:00:00Z in epoch ms


def attempt(**changes: Any) -> dict[str, Any]:
    return {**ATTEMPT, **changes}


def input_error(type_name: str, value: Any) -> InputError:
    with pytest.raises(InputError) as err:
        record_from_json(type_name, value)
    return err.value


@pytest.mark.parametrize("when", ["2026-11-01T10:00:00Z", "2026-11-01T10:00:00+00:00",
                                  "2026-11-01T10:00:00.000Z", NOV_1_10H])
def test_timestamps_may_be_iso_utc_strings_or_epoch_millis(when: Any) -> None:
    assert record_from_json("PaymentAttempted", attempt(occurred_at=when)).occurred_at == NOV_1_10H


def test_every_millisecond_survives_the_trip_through_iso_text() -> None:
    rng = random.Random(3)
    # 269_865_113_201 is one where float seconds * 1000 comes out a millisecond short
    spread = [rng.randrange(2**41) for _ in range(5000)]
    samples = [*range(NOV_1_10H, NOV_1_10H + 1000), 269_865_113_201, *spread]
    for ms in samples:
        text = format_timestamp(ms)
        assert isinstance(text, str) and text.endswith("Z")
        assert parse_timestamp(text, "t") == ms


def test_timestamps_are_written_as_iso_utc_with_milliseconds() -> None:
    assert format_timestamp(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"
    assert format_timestamp(-1) == "1969-12-31T23:59:59.999Z"
    assert format_timestamp(2**62) == 2**62  # past year 9999: left a number, which reads back the same
    assert parse_timestamp("2026-11-01T10:00:00.000999Z", "t") == NOV_1_10H  # microseconds are dropped


def test_a_timestamp_without_a_time_zone_is_refused_with_advice() -> None:
    err = input_error("PaymentAttempted", attempt(occurred_at="2026-11-01T10:00:00"))
    assert err.field == "PaymentAttempted.occurred_at" and "time zone" in str(err) and "Z" in str(err)


@pytest.mark.parametrize("when", ["2026-11-01T12:00:00+02:00", "yesterday", 1.7e12, True, None])
def test_a_timestamp_that_is_not_utc_or_not_a_timestamp_is_refused(when: Any) -> None:
    assert input_error("PaymentAttempted", attempt(occurred_at=when)).field == "PaymentAttempted.occurred_at"


def test_optional_fields_left_out_take_their_schema_defaults() -> None:
    rec = record_from_json("PaymentAttempted", ATTEMPT)
    assert isinstance(rec, PaymentAttempted)
    assert (rec.device_id, rec.network, rec.amount_minor, rec.initiator) == (None, None, 1250, "customer")
    step = record_from_json("DunningStep", {"event_id": "e", "customer_id": "c", "occurred_at": 0,
                                            "case_id": "k", "action": "retry_due", "decline_class": "soft",
                                            "reason_code": "R", "detail": "d"})
    assert (step.attempt, step.variant, step.due_at) == (0, "control", None)


@pytest.mark.parametrize(("changes", "field"), [
    ({"amount_minor": "12.50"}, "amount_minor"),
    ({"amount_minor": 12.5}, "amount_minor"),
    ({"amount_minor": True}, "amount_minor"),
    ({"amount_minor": 2**63}, "amount_minor"),
    ({"sca_applies": "yes"}, "sca_applies"),
    ({"initiator": "Customer"}, "initiator"),
    ({"device_id": 7}, "device_id"),
    ({"currency": None}, "currency"),
    ({"colour": "red"}, "colour"),
])
def test_a_bad_field_is_named(changes: dict[str, Any], field: str) -> None:
    assert input_error("PaymentAttempted", attempt(**changes)).field == f"PaymentAttempted.{field}"


def test_a_missing_required_field_is_named() -> None:
    value = {k: v for k, v in ATTEMPT.items() if k != "currency"}
    err = input_error("PaymentAttempted", value)
    assert err.field == "PaymentAttempted.currency" and "required" in str(err)


def test_a_bad_enum_value_lists_the_allowed_words() -> None:
    err = input_error("PaymentAttempted", attempt(initiator="shop"))
    assert "customer, merchant" in str(err)


def test_fields_deep_inside_arrays_and_records_are_named_by_path() -> None:
    value = record_to_json(record_for("PaymentDecision"))["value"]
    value["reasons"][1]["code"] = 5
    assert input_error("PaymentDecision", value).field == "PaymentDecision.reasons[1].code"
    note = record_to_json(record_for("Notification"))["value"]
    note["offer"]["kind"] = "voucher"
    assert input_error("Notification", note).field == "Notification.offer.kind"
    note = record_to_json(record_for("Notification"))["value"]
    note["fallback_channels"] = ["email", "pigeon"]
    assert input_error("Notification", note).field == "Notification.fallback_channels[1]"


def test_errors_do_not_repeat_personal_data() -> None:
    err = input_error("DeviceSeen", {"event_id": "e", "customer_id": "c", "occurred_at": 0, "device_id": "d",
                                     "ip": ["203.0.113.9"], "ip_country": "NL", "user_agent": "x"})
    assert err.field == "DeviceSeen.ip" and "203.0.113.9" not in str(err)


def test_an_unknown_type_is_refused_with_the_known_ones() -> None:
    err = input_error("PaymentTeleported", ATTEMPT)
    assert err.field == "type" and "PaymentAttempted" in str(err)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_record_survives_the_trip_through_json(name: str) -> None:
    for full in (True, False):
        record = record_for(name, full=full)
        text = json.dumps(record_to_json(record))
        back = json.loads(text)
        assert back["type"] == name
        assert record_from_json(name, back["value"]) == record


def test_json_output_shows_timestamps_as_text_and_keeps_everything_else() -> None:
    out = record_to_json(DeviceSeen(event_id="e", customer_id="c", occurred_at=NOV_1_10H + 5, device_id="d",
                                    ip="1", ip_country="NL", user_agent="x"))
    assert out == {"type": "DeviceSeen", "value": {
        "event_id": "e", "customer_id": "c", "occurred_at": "2026-11-01T10:00:00.005Z", "device_id": "d",
        "ip": "1", "ip_country": "NL", "user_agent": "x"}}


def test_nested_and_optional_timestamps_are_written_as_text_too() -> None:
    value = record_to_json(record_for("Notification"))["value"]
    assert value["link_expires_at"].endswith("Z") and value["offer"]["expires_at"].endswith("Z")
    assert record_to_json(record_for("DunningStep", full=False))["value"]["due_at"] is None


ISO_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def _timestamps(t: Any, value: Any, names: dict[str, Any]) -> list[Any]:
    """Every value in JSON output that the schema types as timestamp-millis, however deeply nested."""
    if isinstance(t, str):
        return _timestamps(names[t], value, names) if t in names else []
    if isinstance(t, list):
        branches = [b for b in t if b != "null"]
        return [] if value is None else _timestamps(branches[0], value, names)
    if t.get("logicalType") == "timestamp-millis":
        return [value]
    if t["type"] == "record":
        return [ts for f in t["fields"] for ts in _timestamps(f["type"], value[f["name"]], names)]
    if t["type"] == "array":
        return [ts for v in value for ts in _timestamps(t["items"], v, names)]
    if t["type"] == "map":
        return [ts for v in value.values() for ts in _timestamps(t["values"], v, names)]
    return []


def _named_types(t: Any, found: dict[str, Any]) -> dict[str, Any]:
    if isinstance(t, list):
        for b in t:
            _named_types(b, found)
    elif isinstance(t, dict):
        if t.get("type") in ("record", "enum"):
            found[t["name"]] = t
        for f in t.get("fields", ()):
            _named_types(f["type"], found)
        _named_types(t.get("items"), found)
        _named_types(t.get("values"), found)
    return found


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_timestamp_in_json_output_is_iso_utc_with_milliseconds_and_z(name: str) -> None:
    schema = SCHEMAS[name]
    value = record_to_json(record_for(name))["value"]
    found = _timestamps(schema, value, _named_types(schema, {}))
    assert found, f"{name} has no timestamp"  # every record has at least occurred_at
    assert all(isinstance(ts, str) and ISO_MS_Z.match(ts) for ts in found), found
    if name == "Notification":  # nested (offer.expires_at) and optional (link_expires_at) ones too
        assert len(found) == 4


def test_a_publish_line_gives_its_topic_and_record() -> None:
    line = json.dumps({"topic": "payments", "type": "PaymentAttempted", "value": ATTEMPT})
    topic, rec = parse_line(line, 1)
    assert topic == "payments" and rec == record_from_json("PaymentAttempted", ATTEMPT)


def test_what_tail_prints_can_be_published_again() -> None:
    rec = record_for("OrderPlaced")
    line = json.dumps({"topic": "orders", "partition": 3, "offset": 17, "key": "c", **record_to_json(rec)})
    assert parse_line(line, 1) == ("orders", rec)


@pytest.mark.parametrize(("line", "words"), [
    (json.dumps({"topic": "orders", "type": "PaymentAttempted", "value": ATTEMPT}), "belongs on topic 'paym"),
    ('{"topic": "payments", "type": "PaymentAttempted"', "not JSON"),
    (json.dumps({"topic": "payments", "value": ATTEMPT}), '"type"'),
    (json.dumps([1, 2]), '"topic"'),
    (json.dumps({"topic": "payments", "type": "PaymentAttempted", "value": [1]}), "expected an object"),
])
def test_a_bad_publish_line_says_what_is_wrong_and_carries_its_number(line: str, words: str) -> None:
    with pytest.raises(InputError) as err:
        parse_line(line, 12)
    assert words in str(err.value) and err.value.lineno == 12


def test_json_is_read_and_written_with_the_schemas_dir_given(tmp_path: Path) -> None:
    other = schemas_elsewhere(tmp_path)  # DeviceSeen only
    device = {"event_id": "e", "customer_id": "c", "occurred_at": "2026-11-01T10:00:00Z", "device_id": "d",
              "ip": "1", "ip_country": "NL", "user_agent": "x"}
    rec = record_from_json("DeviceSeen", device, other)
    assert record_to_json(rec, other)["value"]["occurred_at"] == "2026-11-01T10:00:00.000Z"
    with pytest.raises(InputError) as err:
        parse_line(json.dumps({"topic": "payments", "type": "PaymentAttempted", "value": ATTEMPT}), 3, other)
    assert str(err.value).endswith("known: DeviceSeen") and err.value.lineno == 3
