"""Card-present store payments (`channel` store): out of the online checkout's SCA scope, never sent to a 3-D
Secure challenge (there is no browser at a terminal), still declined when the risk says fraud, and not the
store customer's first online order."""

from __future__ import annotations

import dataclasses
from typing import Any

from agents.rules.checkout import decide
from agents.rules.events import PaymentAttempted
from agents.rules.profile import CustomerProfile, update_profile
from tests.unit.agents.rules.checkout.test_checkout import (
    NOW,
    POLICY,
    T0,
    attempt,
    codes,
    index,
    run,
    store_customer,
    with_event,
)


def at_the_till(cid: str = "st", **kw: Any) -> PaymentAttempted:
    """A card read by a store terminal: no device, no IP, shipped nowhere."""
    base: dict[str, Any] = dict(channel="store", device_id=None, ip=None, ip_country=None,
                                shipping_address_id=None, amount_minor=8_000)
    return attempt(cid, **{**base, **kw})


def test_a_store_payment_over_the_low_value_limit_is_approved_as_out_of_sca_scope() -> None:
    a = at_the_till(amount_minor=60_000)  # EUR 600: above every exemption
    old = decide(store_customer(), {}, dataclasses.replace(a, channel="online"), POLICY, a.occurred_at, "v")
    assert old.outcome == "challenge" and codes(old)[0] == "CHALLENGE_FOR_SCA"  # what the store payment got
    d = run(store_customer(), a)
    assert d.outcome == "approve" and d.sca_strategy == "out_of_scope" and d.exemption is None
    assert "SCA_OUT_OF_SCOPE_CARD_PRESENT" in codes(d) and "CHALLENGE_FOR_SCA" not in codes(d)


def test_a_store_payment_with_a_card_charged_back_elsewhere_is_declined_not_challenged() -> None:
    ring = attempt("ring1", T0, card_fingerprint="card-stolen")
    d = run(store_customer(), at_the_till(card_fingerprint="card-stolen"), index(ring, (ring, "chargeback")))
    assert d.outcome == "decline" and "STOLEN_CARD" in codes(d)


def test_a_store_payment_in_the_grey_zone_is_declined_since_the_customer_cannot_do_3ds_at_a_terminal() -> None:
    grey = dataclasses.replace(POLICY, challenge_from=25)  # a new store customer scores 30
    d = run(store_customer(), at_the_till(), policy=grey)
    assert run(store_customer(), attempt("st"), policy=grey).outcome == "challenge"  # online, the same risk
    assert d.outcome == "decline" and codes(d)[0] == "DECLINE_CANNOT_AUTHENTICATE"


def test_a_step_up_signal_does_not_challenge_a_store_payment() -> None:
    p = dataclasses.replace(store_customer(), chargebacks=1, last_chargeback_at=NOW)
    d = run(p, at_the_till(amount_minor=1_000))
    assert d.outcome != "challenge" and "OWN_CHARGEBACKS" in codes(d)


def test_a_store_payment_is_not_the_first_online_order_and_takes_no_perk() -> None:
    till = at_the_till(order_id="store-9")
    assert run(store_customer(), till).perks == ()
    p = update_profile(store_customer(), till, till.occurred_at)
    assert p.first_online_order_id is None
    assert run(p, attempt("st", NOW + 1, order_id="web-1")).perks == ("free_shipping",)


def test_a_payment_attempt_written_before_the_channel_field_is_online() -> None:
    assert attempt("x").channel == "online"
    assert with_event(CustomerProfile.empty("x"), attempt("x")).first_online_order_id is not None
