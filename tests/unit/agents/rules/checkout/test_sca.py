"""SCA strategy: out of scope, low-value and TRA exemptions at their exact boundaries, and straight to a
challenge for an issuer that refuses exemptions (the Swedish customer with a French card)."""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import pytest

from agents.rules.checkout import decide
from agents.rules.checkout.policy import CheckoutPolicy
from agents.rules.events import AuthenticationResult, PaymentAttempted, PaymentDecision, PaymentSucceeded
from agents.rules.ledger import ref_of
from agents.rules.profile import CustomerProfile, update_profile
from pipeline.policies import load_policy

POLICY = load_policy().checkout
T0 = 1_760_000_000_000
DAY = 86_400_000
_n = itertools.count()


def attempt(at: int, cid: str = "c1", **kw: Any) -> PaymentAttempted:
    n = next(_n)
    base: dict[str, Any] = dict(
        event_id=f"a{n}", customer_id=cid, occurred_at=at, payment_id=f"p{n}", order_id=f"o{n}",
        amount_minor=4_500, currency="EUR", method="card", initiator="customer", device_id=f"dev-{cid}",
        ip="192.0.2.1", ip_country="DE", shipping_address_id=f"addr-{cid}", card_fingerprint=f"card-{cid}",
        card_issuer="bank-de", card_country="DE", customer_country="DE", sca_applies=True, network="visa")
    return PaymentAttempted(**{**base, **kw})


def paid(p: CustomerProfile, a: PaymentAttempted, authentication: str = "frictionless",
         exemption: str | None = None) -> CustomerProfile:
    ok = PaymentSucceeded(event_id=f"{a.event_id}-ok", customer_id=a.customer_id,
                          occurred_at=a.occurred_at + 1, payment_id=a.payment_id,
                          authentication=authentication, exemption=exemption)  # type: ignore[arg-type]
    return update_profile(update_profile(p, a, a.occurred_at), ok, ok.occurred_at, payment=ref_of(a))


def regular(cid: str = "c1", payments: int = 4, **kw: Any) -> CustomerProfile:
    """A known customer: weekly payments from the usual device, card and address."""
    p = CustomerProfile.empty(cid)
    for k in range(payments):
        p = paid(p, attempt(T0 + k * 7 * DAY, cid, **kw))
    return p


NOW = T0 + 60 * DAY


def exempted(n: int, amount: int, currency: str = "EUR") -> CustomerProfile:
    """A regular customer who then made n low-value exempted payments on the usual card."""
    p = regular()
    for k in range(n):
        p = paid(p, attempt(NOW - DAY + k, amount_minor=amount, currency=currency), exemption="low_value")
    return p


def decision(p: CustomerProfile, a: PaymentAttempted, policy: CheckoutPolicy = POLICY) -> PaymentDecision:
    return decide(p, {}, a, policy, a.occurred_at, "test")


def codes(d: PaymentDecision) -> list[str]:
    return [r.code for r in d.reasons]


# ---- the seed story: an issuer that refuses exemptions ---------------------------------------------------

def swedish_customer_with_french_card(accepted: bool, outcome: str = "passed") -> CustomerProfile:
    card: dict[str, Any] = dict(customer_country="SE", ip_country="SE", card_country="FR",
                                card_issuer="bank-fr", currency="SEK")
    p = regular("se", **card)
    for k in range(3):
        a = attempt(T0 + (30 + k) * DAY, "se", amount_minor=20_000, **card)
        p = update_profile(p, a, a.occurred_at)
        p = update_profile(p, AuthenticationResult(
            event_id=f"auth-{a.event_id}", customer_id="se", occurred_at=a.occurred_at + 1,
            payment_id=a.payment_id, exemption_requested="low_value", exemption_accepted=accepted,
            challenge_outcome=outcome), a.occurred_at + 1, payment=ref_of(a))  # type: ignore[arg-type]
    return p


def test_swedish_customer_whose_french_issuer_refuses_exemptions_goes_straight_to_a_challenge() -> None:
    p = swedish_customer_with_french_card(accepted=False)
    d = decision(p, attempt(NOW, "se", amount_minor=20_000, currency="SEK", customer_country="SE",
                            ip_country="SE", card_country="FR", card_issuer="bank-fr"))
    assert (d.outcome, d.sca_strategy, d.exemption) == ("challenge", "challenge", None)
    assert codes(d)[:2] == ["CHALLENGE_FOR_SCA", "ISSUER_REFUSES_EXEMPTIONS"]
    assert d.risk_score < POLICY.challenge_from  # the challenge is about SCA, not about risk


def test_the_same_customer_with_an_issuer_that_accepts_gets_the_low_value_exemption() -> None:
    p = swedish_customer_with_french_card(accepted=True, outcome="not_challenged")
    d = decision(p, attempt(NOW, "se", amount_minor=20_000, currency="SEK", customer_country="SE",
                            ip_country="SE", card_country="FR", card_issuer="bank-fr"))
    assert (d.outcome, d.sca_strategy, d.exemption) == ("approve", "low_value_exemption", "low_value")


def test_a_refusing_issuer_still_gets_the_exemption_request_when_the_customer_abandons_challenges() -> None:
    p = swedish_customer_with_french_card(accepted=False, outcome="abandoned")
    d = decision(p, attempt(NOW, "se", amount_minor=20_000, currency="SEK", customer_country="SE",
                            ip_country="SE", card_country="FR", card_issuer="bank-fr"))
    assert d.sca_strategy == "low_value_exemption" and "ISSUER_REFUSES_EXEMPTIONS" not in codes(d)


# ---- low-value exemption (RTS Art. 16) -------------------------------------------------------------------

@pytest.mark.parametrize(("amount", "strategy"), [(2_999, "low_value_exemption"), (3_000, "tra_exemption")])
def test_low_value_exemption_applies_strictly_below_eur_30(amount: int, strategy: str) -> None:
    assert decision(regular(), attempt(NOW, amount_minor=amount)).sca_strategy == strategy


def test_the_fifth_consecutive_low_value_payment_is_exempt_and_the_sixth_is_not() -> None:
    fifth = decision(exempted(4, 1_000), attempt(NOW, amount_minor=1_000))
    sixth = decision(exempted(5, 1_000), attempt(NOW, amount_minor=1_000))
    assert fifth.exemption == "low_value"
    assert sixth.sca_strategy == "tra_exemption"
    assert any("5 low-value exemptions were used" in r.detail for r in sixth.reasons)


def test_low_value_exemption_allows_exactly_eur_100_cumulative_and_not_a_cent_more() -> None:
    p = exempted(3, 2_900)  # EUR 87 since the last authentication
    assert decision(p, attempt(NOW, amount_minor=1_300)).exemption == "low_value"
    over = decision(p, attempt(NOW, amount_minor=1_301))
    assert over.sca_strategy == "tra_exemption"
    assert any("would pass EUR 100.00" in r.detail for r in over.reasons)


def test_low_value_counters_are_per_card() -> None:
    p = exempted(5, 1_000)
    assert decision(p, attempt(NOW, amount_minor=1_000)).sca_strategy != "low_value_exemption"
    other = dataclasses.replace(p, low_value=())
    assert decision(other, attempt(NOW, amount_minor=1_000)).exemption == "low_value"
    assert p.low_value_on("card-other").payments == 0


def test_a_strong_authentication_resets_the_low_value_count() -> None:
    p = paid(exempted(5, 1_000), attempt(NOW - 1, amount_minor=5_000), authentication="challenge")
    assert decision(p, attempt(NOW, amount_minor=1_000)).exemption == "low_value"


def test_without_tra_an_exhausted_low_value_count_means_a_challenge() -> None:
    strict = dataclasses.replace(POLICY, sca=dataclasses.replace(POLICY.sca, merchant_fraud_rate=0.01))
    d = decision(exempted(5, 1_000), attempt(NOW, amount_minor=1_000), strict)
    assert (d.outcome, d.sca_strategy) == ("challenge", "challenge")
    assert "SCA_CHALLENGE_REQUIRED" in codes(d)


@pytest.mark.parametrize(("amount", "strategy"), [(34_470, "low_value_exemption"), (34_490, "tra_exemption")])
def test_amounts_in_other_currencies_are_converted_before_the_eur_30_limit(amount: int,
                                                                          strategy: str) -> None:
    assert decision(regular(), attempt(NOW, amount_minor=amount, currency="SEK")).sca_strategy == strategy


def test_earlier_exempted_payments_in_another_currency_count_in_euros() -> None:
    p = exempted(3, 33_000, currency="SEK")  # 3 x about EUR 28.71 = EUR 86.13
    assert decision(p, attempt(NOW, amount_minor=1_387)).exemption == "low_value"
    assert decision(p, attempt(NOW, amount_minor=1_388)).exemption != "low_value"


def test_a_currency_without_a_rate_gets_no_amount_based_exemption() -> None:
    d = decision(regular(), attempt(NOW, amount_minor=100, currency="XTS"))
    assert d.sca_strategy == "challenge" and "XTS" in " ".join(r.detail for r in d.reasons)


# ---- TRA exemption (RTS Art. 18) -------------------------------------------------------------------------

@pytest.mark.parametrize(("amount", "fraud_rate", "tra"), [
    (10_000, 0.0013, True), (10_000, 0.00131, False), (10_001, 0.0013, False), (10_001, 0.0006, True),
    (25_000, 0.0006, True), (25_000, 0.00061, False), (25_001, 0.0006, False), (25_001, 0.0001, True),
    (50_000, 0.0001, True), (50_000, 0.00011, False), (50_001, 0.0, False), (200_000, 0.0, False),
])
def test_tra_follows_the_fraud_rate_bands_and_never_applies_above_eur_500(amount: int, fraud_rate: float,
                                                                         tra: bool) -> None:
    policy = dataclasses.replace(POLICY, sca=dataclasses.replace(POLICY.sca, merchant_fraud_rate=fraud_rate))
    d = decision(regular(), attempt(NOW, amount_minor=amount), policy)
    assert (d.exemption == "tra") is tra
    assert d.sca_strategy == ("tra_exemption" if tra else "challenge")


def test_tra_needs_our_own_analysis_to_call_the_payment_low_risk() -> None:
    new_customer = CustomerProfile.empty("n")
    low = decision(new_customer, attempt(NOW, "n", amount_minor=8_000))
    assert low.risk_score <= POLICY.sca.tra_max_risk_score and low.exemption == "tra"
    stricter = dataclasses.replace(POLICY.sca, tra_max_risk_score=low.risk_score - 1)
    cautious = dataclasses.replace(POLICY, sca=stricter)
    assert decision(new_customer, attempt(NOW, "n", amount_minor=8_000), cautious).sca_strategy == "challenge"


# ---- out of scope and self-authenticating methods --------------------------------------------------------

def test_merchant_initiated_payments_are_out_of_sca_scope() -> None:
    d = decision(regular(), attempt(NOW, initiator="merchant", amount_minor=90_000, device_id=None, ip=None))
    assert (d.outcome, d.sca_strategy, d.exemption) == ("approve", "out_of_scope", None)
    assert "SCA_OUT_OF_SCOPE_MIT" in codes(d)


def test_payments_outside_the_eea_are_out_of_sca_scope() -> None:
    d = decision(regular(), attempt(NOW, sca_applies=False, amount_minor=90_000))
    assert (d.outcome, d.sca_strategy) == ("approve", "out_of_scope")
    assert "SCA_OUT_OF_SCOPE_REGION" in codes(d)


def test_wallets_and_bank_redirects_authenticate_in_their_own_flow() -> None:
    d = decision(regular(), attempt(NOW, method="ideal", amount_minor=90_000, card_fingerprint=None))
    assert (d.outcome, d.sca_strategy, d.exemption) == ("approve", "not_applicable", None)
