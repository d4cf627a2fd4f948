"""The identifier length rule the caller checks before the journey step runs."""

from __future__ import annotations

import dataclasses

from agents.rules.events import DeviceSeen, PaymentAttempted
from agents.rules.limits import MAX_ID_CHARS, is_identifier_field, oversized_field


def attempt(**changes: object) -> PaymentAttempted:
    a = PaymentAttempted(event_id="a1", customer_id="c1", occurred_at=1, payment_id="p1", order_id="o1",
                         amount_minor=5_000, currency="EUR", method="card", initiator="customer",
                         card_fingerprint="card-1", customer_country="GB", sca_applies=False, device_id=None)
    return dataclasses.replace(a, **changes)


def test_identifier_fields_are_ids_fingerprints_and_ips() -> None:
    assert all(map(is_identifier_field, ["event_id", "shipping_address_id", "card_fingerprint", "ip", "identifier"]))
    assert not any(map(is_identifier_field, ["ip_country", "user_agent", "claimant_email", "idea", "method"]))


def test_an_event_with_ordinary_identifiers_has_no_oversized_field() -> None:
    assert oversized_field(attempt()) is None
    assert oversized_field(attempt(payment_id="p" * MAX_ID_CHARS)) is None


def test_the_first_identifier_over_the_limit_is_named() -> None:
    assert oversized_field(attempt(order_id="o" * 129, card_fingerprint="f" * 500)) == "order_id"
    assert oversized_field(attempt(card_fingerprint="f" * 11), max_chars=10) == "card_fingerprint"


def test_long_free_text_is_not_an_identifier() -> None:
    seen = DeviceSeen(event_id="e", customer_id="c", occurred_at=1, device_id="d", ip="1", ip_country="NL",
                      user_agent="u" * 10_000)
    assert oversized_field(seen) is None
    assert oversized_field(dataclasses.replace(seen, ip="1" * 200)) == "ip"
