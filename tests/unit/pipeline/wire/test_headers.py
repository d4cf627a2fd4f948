"""CloudEvents binary-mode headers on output records."""

from __future__ import annotations

from agents.rules.events import DueAction
from pipeline.wire.headers import cloudevent_headers, event_source, rfc3339


def test_a_due_action_carries_its_id_type_source_and_time_as_cloudevent_headers() -> None:
    due = DueAction(event_id="due-c1-1", customer_id="c1", occurred_at=1_760_000_000_123, case_id="case-1",
                    action="retry", seq=1)
    headers = dict(cloudevent_headers(due, event_source("payment-journey")))
    assert headers == {
        "ce_specversion": b"1.0",
        "ce_id": b"due-c1-1",
        "ce_source": b"payment-journey/payment-journey",
        "ce_type": b"paymentjourney.DueAction",
        "ce_time": b"2025-10-09T08:53:20.123Z",
        "content-type": b"application/vnd.confluent.avro",
    }


def test_times_are_rfc3339_utc_with_milliseconds() -> None:
    assert rfc3339(0) == "1970-01-01T00:00:00.000Z"
    assert rfc3339(1_764_590_400_005) == "2025-12-01T12:00:00.005Z"


def test_every_header_value_is_bytes_and_names_are_unique() -> None:
    due = DueAction(event_id="é", customer_id="c", occurred_at=1, case_id="k", action="a", seq=0)
    headers = cloudevent_headers(due, "s")
    assert all(isinstance(v, bytes) for _, v in headers)
    assert len({k for k, _ in headers}) == len(headers)
    assert dict(headers)["ce_id"] == "é".encode()
