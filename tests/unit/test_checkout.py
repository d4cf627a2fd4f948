"""Checkout decisions: the seed stories of DOMAIN.md, linked risk, fraud patterns and every SCA boundary."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from agents.rules.checkout import decide
from agents.rules.checkout_policy import CheckoutPolicy
from agents.rules.events import (
    AuthenticationResult,
    Chargeback,
    DeviceSeen,
    IdentityLinked,
    OrderPlaced,
    PaymentAttempted,
    PaymentSucceeded,
)
from agents.rules.identity import IdentityNode, apply_link, identifier
from agents.rules.ledger import identifiers_of_attempt, ref_of
from agents.rules.policy import load_policy_document
from agents.rules.profile import CustomerProfile, update_profile

POLICY = CheckoutPolicy.from_mapping(load_policy_document()["checkout"])
T0 = 1_760_000_000_000
DAY = 86_400_000
_n = iter(range(10**9))


def attempt(cid: str = "c1", at: int = T0, **kw: Any) -> PaymentAttempted:
    n = next(_n)
    base: dict[str, Any] = dict(
        event_id=f"a{n}", customer_id=cid, occurred_at=at, payment_id=f"p{n}", order_id=f"o{n}", amount_minor=4_500,
        currency="EUR", method="card", initiator="customer", device_id=f"dev-{cid}", ip="192.0.2.1", ip_country="DE",
        shipping_address_id=f"addr-{cid}", card_fingerprint=f"card-{cid}", card_issuer="bank-de", card_country="DE",
        customer_country="DE", sca_applies=True, network="visa")
    return PaymentAttempted(**{**base, **kw})


def paid(p: CustomerProfile, a: PaymentAttempted, auth: str = "frictionless",
         exemption: str | None = None) -> CustomerProfile:
    p = update_profile(p, a, a.occurred_at)
    ok = PaymentSucceeded(event_id=f"{a.event_id}-ok", customer_id=a.customer_id, occurred_at=a.occurred_at + 1,
                          payment_id=a.payment_id, authentication=auth, exemption=exemption,  # type: ignore[arg-type]
                          amount_minor=a.amount_minor, currency=a.currency, card_fingerprint=a.card_fingerprint,
                          method=a.method)
    return update_profile(p, ok, ok.occurred_at, payment=ref_of(a), eur_rates=dict(POLICY.eur_rates))


def regular(cid: str = "c1", payments: int = 4, **kw: Any) -> CustomerProfile:
    p = CustomerProfile.empty(cid)
    for k in range(payments):
        p = paid(p, attempt(cid, T0 + k * DAY, **kw))
    return p


def index_of(*attempts_and_chargebacks: PaymentAttempted | tuple[PaymentAttempted, str]) -> dict[str, IdentityNode]:
    """Identity nodes as the live index would hold them after these attempts (and chargebacks on some)."""
    nodes: dict[str, IdentityNode] = {}
    for item in attempts_and_chargebacks:
        a, kind = (item, "seen") if isinstance(item, PaymentAttempted) else item
        for ident in identifiers_of_attempt(a):
            rec = IdentityLinked(event_id=f"{a.event_id}|{ident}|{kind}", identifier=ident, customer_id=a.customer_id,
                                 occurred_at=a.occurred_at, kind=kind, reason="fraud", ref=a.payment_id)  # type: ignore[arg-type]
            nodes[ident] = apply_link(nodes.get(ident), rec)
    return nodes


def links_for(a: PaymentAttempted, nodes: dict[str, IdentityNode]) -> dict[str, IdentityNode]:
    return {i: nodes[i] for i in identifiers_of_attempt(a) if i in nodes}


def run(p: CustomerProfile, a: PaymentAttempted, nodes: dict[str, IdentityNode] | None = None,
        policy: CheckoutPolicy = POLICY) -> Any:
    return decide(p, links_for(a, nodes or {}), a, policy, a.occurred_at, "test-v1")


def codes(d: Any) -> list[str]:
    return [r.code for r in d.reasons]


# ---- seed stories -------------------------------------------------------------------------------------------------

def test_travelling_customer_on_usual_device_is_approved_despite_a_hotel_someone_else_charged_back() -> None:
    p = regular("trav")
    fraud = attempt("crook", T0, shipping_address_id="addr-hotel", device_id="dev-crook", card_fingerprint="card-x")
    nodes = index_of(fraud, (fraud, "chargeback"))
    trip = attempt("trav", T0 + 20 * DAY, ip="203.0.113.9", ip_country="ES", shipping_address_id="addr-hotel")
    d = run(p, trip, nodes)
    assert d.outcome == "approve"
    assert "KNOWN_DEVICE" in codes(d) and "SHARED_IDENTIFIER_IGNORED" in codes(d)
    assert "LINKED_CHARGEBACK_CORROBORATED" not in codes(d)


def test_shared_address_counts_when_a_second_strong_identifier_links_the_fraudster() -> None:
    p = regular("c9")
    fraud = attempt("crook", T0, shipping_address_id="addr-hotel", device_id="dev-shared", card_fingerprint="card-x")
    other = attempt("crook", T0 + DAY, device_id="dev-shared", card_fingerprint="card-y")
    nodes = index_of(fraud, other, (fraud, "chargeback"))
    d = run(p, attempt("c9", T0 + 20 * DAY, shipping_address_id="addr-hotel", device_id="dev-shared"), nodes)
    assert "LINKED_CHARGEBACK_STRONG" in codes(d) or "LINKED_CHARGEBACK_CORROBORATED" in codes(d)
    assert d.outcome != "approve"


def test_swedish_customer_whose_french_issuer_refuses_exemptions_goes_straight_to_a_challenge() -> None:
    p = regular("se", customer_country="SE", card_country="FR", card_issuer="bank-fr", ip_country="SE")
    for k in range(3):
        a = attempt("se", T0 + (10 + k) * DAY, customer_country="SE", card_country="FR", card_issuer="bank-fr")
        p = update_profile(p, a, a.occurred_at)
        p = update_profile(p, AuthenticationResult(
            event_id=f"auth{k}", customer_id="se", occurred_at=a.occurred_at + 1, payment_id=a.payment_id,
            exemption_requested="low_value", exemption_accepted=False, challenge_outcome="passed",
            card_issuer="bank-fr"), a.occurred_at + 1, payment=ref_of(a))
    d = run(p, attempt("se", T0 + 20 * DAY, amount_minor=2_000, customer_country="SE", card_country="FR",
                       card_issuer="bank-fr", ip_country="SE"))
    assert d.outcome == "challenge" and d.sca_strategy == "challenge" and d.exemption is None
    assert "ISSUER_REFUSES_EXEMPTIONS" in codes(d)


def test_dutch_customer_who_always_pays_with_klarna_is_offered_klarna_first() -> None:
    p = regular("nl", method="klarna", customer_country="NL", ip_country="NL")
    d = run(p, attempt("nl", T0 + 10 * DAY, method="klarna", customer_country="NL", ip_country="NL"))
    assert d.recommended_method == "klarna" and d.method_ranking[0] == "klarna"
    assert "ideal" in d.method_ranking  # the country prior is still there, after the customer's own choice
    assert "METHOD_FROM_HISTORY" in codes(d)


def test_new_dutch_customer_gets_the_country_favourite_with_the_reason() -> None:
    d = run(CustomerProfile.empty("new"), attempt("new", customer_country="NL", ip_country="NL"))
    assert d.recommended_method == "ideal" and "METHOD_FROM_COUNTRY" in codes(d)


def test_store_customers_first_online_order_gets_free_shipping() -> None:
    p = CustomerProfile.empty("st")
    for k in range(2):
        p = update_profile(p, OrderPlaced(event_id=f"s{k}", customer_id="st", occurred_at=T0 + k, order_id=f"so{k}",
                                          channel="store", amount_minor=3_000, currency="EUR"), T0)
        p = paid(p, attempt("st", T0 + k + 1))
    p = update_profile(p, OrderPlaced(event_id="on", customer_id="st", occurred_at=T0 + 5 * DAY, order_id="web-1",
                                      channel="online", amount_minor=3_000, currency="EUR"), T0)
    d = run(p, attempt("st", T0 + 5 * DAY + 1, order_id="web-1"))
    assert d.perks == ("free_shipping",) and "FIRST_ONLINE_ORDER" in codes(d)
    later = update_profile(p, OrderPlaced(event_id="on2", customer_id="st", occurred_at=T0 + 9 * DAY,
                                          order_id="web-2", channel="online", amount_minor=3_000, currency="EUR"), T0)
    assert run(later, attempt("st", T0 + 9 * DAY + 1, order_id="web-2")).perks == ()


# ---- abusers are not waved through ------------------------------------------------------------------------------

def test_card_tester_burst_is_declined() -> None:
    p = CustomerProfile.empty("t")
    d = None
    for k in range(8):
        a = attempt("t", T0 + k * 30_000, amount_minor=150, card_fingerprint=f"card-{k}")
        d = run(p, a)
        p = update_profile(p, a, a.occurred_at)
    assert d is not None and d.outcome == "decline"
    assert {"HIGH_VELOCITY", "MANY_CARDS"} <= set(codes(d))


def test_account_takeover_new_device_card_and_address_is_not_approved() -> None:
    p = regular("v", payments=6)
    p = update_profile(p, DeviceSeen(event_id="ds", customer_id="v", occurred_at=T0 + 30 * DAY, device_id="dev-thief",
                                     ip="198.51.100.3", ip_country="RU", user_agent="x"), T0 + 30 * DAY)
    d = run(p, attempt("v", T0 + 30 * DAY + 3_600_000, device_id="dev-thief", ip_country="RU", amount_minor=64_900,
                       card_fingerprint="card-new", shipping_address_id="addr-drop"))
    assert d.outcome == "decline" and "TAKEOVER_PATTERN" in codes(d)


def test_device_charged_back_on_another_account_marks_a_stolen_card_attempt() -> None:
    ring = attempt("ring1", T0, device_id="dev-ring", card_fingerprint="card-stolen-1")
    nodes = index_of(ring, (ring, "chargeback"))
    d = run(CustomerProfile.empty("ring2"),
            attempt("ring2", T0 + 10 * DAY, device_id="dev-ring", card_fingerprint="card-stolen-2"), nodes)
    assert d.outcome == "decline" and "LINKED_CHARGEBACK_STRONG" in codes(d)


def test_own_chargeback_history_raises_the_risk() -> None:
    p = regular("cb")
    a = attempt("cb", T0 + 10 * DAY)
    before = run(p, a).risk_score
    after = run(update_profile(p, Chargeback(event_id="x", customer_id="cb", occurred_at=T0 + 9 * DAY,
                                             payment_id="p", reason="fraud"), T0), a).risk_score
    assert after > before
    assert "OWN_CHARGEBACKS" in codes(run(update_profile(p, Chargeback(
        event_id="x", customer_id="cb", occurred_at=T0, payment_id="p", reason="fraud"), T0), a))


# ---- SCA rule boundaries ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("amount", "strategy"), [(2_999, "low_value_exemption"), (3_000, "tra_exemption")])
def test_low_value_exemption_applies_strictly_below_eur_30(amount: int, strategy: str) -> None:
    d = run(regular(), attempt(at=T0 + 10 * DAY, amount_minor=amount))
    assert d.sca_strategy == strategy


def _exempted(n: int, amount: int) -> CustomerProfile:
    p = regular()
    for k in range(n):
        p = paid(p, attempt(at=T0 + (10 + k) * DAY, amount_minor=amount), exemption="low_value")
    return p


def test_fifth_consecutive_low_value_payment_is_exempt_and_the_sixth_is_not() -> None:
    assert run(_exempted(4, 1_000), attempt(at=T0 + 30 * DAY, amount_minor=1_000)).exemption == "low_value"
    sixth = run(_exempted(5, 1_000), attempt(at=T0 + 30 * DAY, amount_minor=1_000))
    assert sixth.sca_strategy != "low_value_exemption"


def test_low_value_exemption_stops_at_eur_100_cumulative() -> None:
    p = _exempted(3, 2_900)  # EUR 87 so far
    assert run(p, attempt(at=T0 + 30 * DAY, amount_minor=1_300)).exemption == "low_value"  # exactly EUR 100
    assert run(p, attempt(at=T0 + 30 * DAY, amount_minor=1_301)).sca_strategy != "low_value_exemption"


def test_a_passed_challenge_resets_the_low_value_counters() -> None:
    p = _exempted(5, 1_000)
    p = paid(p, attempt(at=T0 + 40 * DAY), auth="challenge")
    assert run(p, attempt(at=T0 + 41 * DAY, amount_minor=1_000)).exemption == "low_value"


@pytest.mark.parametrize(("amount", "fraud_rate", "tra"), [
    (10_000, 0.0013, True), (10_000, 0.0014, False),
    (25_000, 0.0006, True), (25_000, 0.0007, False),
    (50_000, 0.0001, True), (50_000, 0.00011, False),
    (50_001, 0.0, False),
])
def test_tra_exemption_respects_the_fraud_rate_bands_and_the_eur_500_ceiling(amount: int, fraud_rate: float,
                                                                              tra: bool) -> None:
    policy = dataclasses.replace(POLICY, sca=dataclasses.replace(POLICY.sca, merchant_fraud_rate=fraud_rate),
                                 unusual_amount_min_eur_cents=10**9)
    d = run(regular(), attempt(at=T0 + 10 * DAY, amount_minor=amount), policy=policy)
    assert (d.sca_strategy == "tra_exemption") is tra
    if not tra:
        assert d.sca_strategy == "challenge"


def test_merchant_initiated_and_non_eea_payments_are_out_of_scope() -> None:
    assert run(regular(), attempt(at=T0 + 9 * DAY, initiator="merchant")).sca_strategy == "out_of_scope"
    assert run(regular(), attempt(at=T0 + 9 * DAY, sca_applies=False)).sca_strategy == "out_of_scope"


def test_amounts_in_other_currencies_are_converted_before_the_eur_30_limit() -> None:
    d = run(regular(), attempt(at=T0 + 10 * DAY, amount_minor=40_000, currency="SEK"))  # about EUR 34.80
    assert d.sca_strategy != "low_value_exemption"


# ---- properties ---------------------------------------------------------------------------------------------------

def test_decisions_are_deterministic_and_carry_reasons_and_the_policy_version() -> None:
    p, a = regular(), attempt(at=T0 + 10 * DAY)
    first, second = run(p, a), run(p, a)
    assert first == second and first.policy_version == "test-v1"
    assert first.reasons and all(r.code and r.detail for r in first.reasons)
    assert first.event_id == f"{a.event_id}:decision" and first.source_event_id == a.event_id


def test_profile_stays_bounded_after_thousands_of_events_and_is_never_mutated() -> None:
    p = CustomerProfile.empty("big")
    for k in range(3_000):
        a = attempt("big", T0 + k * 60_000, device_id=f"d{k}", ip=f"192.0.2.{k % 250}", card_fingerprint=f"c{k}",
                    shipping_address_id=f"a{k}")
        before = p
        p = paid(p, a)
        assert before is not p
    assert max(len(p.devices), len(p.ips), len(p.cards), len(p.addresses), len(p.attempt_times)) <= 30
    assert p.payments_succeeded == 3_000


def test_identifier_keys_are_the_ones_the_index_uses() -> None:
    assert identifier("device", "x") == "device:x" and identifier("device", None) is None
