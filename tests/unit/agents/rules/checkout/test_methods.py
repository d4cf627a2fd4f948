"""Which payment method to offer first: the customer's own history, then the country's favourites."""

from __future__ import annotations

import itertools
from typing import Any

from agents.rules.checkout import decide
from agents.rules.checkout.methods import rank_methods
from agents.rules.declines import classify
from agents.rules.events import PaymentAttempted, PaymentFailed, PaymentSucceeded
from agents.rules.ledger import ref_of
from agents.rules.profile import CustomerProfile, update_profile
from pipeline.policies import load_policy

POLICIES = load_policy()
POLICY = POLICIES.checkout
T0 = 1_760_000_000_000
DAY = 86_400_000
_n = itertools.count()


def attempt(at: int, method: str, country: str = "NL", **kw: Any) -> PaymentAttempted:
    n = next(_n)
    base: dict[str, Any] = dict(
        event_id=f"a{n}", customer_id="c1", occurred_at=at, payment_id=f"p{n}", order_id=f"o{n}",
        amount_minor=4_500, currency="EUR", method=method, initiator="customer", device_id="dev-1",
        ip="192.0.2.1", ip_country=country, shipping_address_id="addr-1", card_fingerprint=None,
        customer_country=country, sca_applies=True)
    return PaymentAttempted(**{**base, **kw})


def pays_with(p: CustomerProfile, *methods: str, country: str = "NL") -> CustomerProfile:
    for k, method in enumerate(methods):
        a = attempt(T0 + k * DAY, method, country)
        ok = PaymentSucceeded(event_id=f"{a.event_id}-ok", customer_id="c1", occurred_at=a.occurred_at + 1,
                              payment_id=a.payment_id, authentication="none")
        p = update_profile(update_profile(p, a, a.occurred_at), ok, ok.occurred_at, payment=ref_of(a))
    return p


def fails_with(p: CustomerProfile, method: str, times: int) -> CustomerProfile:
    for k in range(times):
        a = attempt(T0 + 50 * DAY + k, method)
        ko = PaymentFailed(event_id=f"{a.event_id}-ko", customer_id="c1", occurred_at=a.occurred_at + 1,
                           payment_id=a.payment_id, decline_code="generic_decline", network="ideal",
                           initiator="customer")
        p = update_profile(update_profile(p, a, a.occurred_at), ko, ko.occurred_at, payment=ref_of(a),
                           decline=classify(ko, POLICIES.declines))
    return p


def test_dutch_customer_who_always_pays_with_klarna_is_offered_klarna_first() -> None:
    p = pays_with(CustomerProfile.empty("c1"), "klarna", "klarna", "klarna")
    d = decide(p, {}, attempt(T0 + 60 * DAY, "klarna"), POLICY, T0 + 60 * DAY, "test")
    assert d.recommended_method == "klarna" == d.method_ranking[0]
    assert "ideal" in d.method_ranking[1:]  # the country's favourite is still offered, after their own
    reason = next(r for r in d.reasons if r.code == "METHOD_FROM_HISTORY")
    assert "klarna" in reason.detail and "3 time(s)" in reason.detail and "ideal" in reason.detail


def test_a_new_dutch_customer_is_offered_ideal_with_the_reason() -> None:
    ranking, reason = rank_methods(CustomerProfile.empty("c1"), "NL", POLICY.methods)
    assert ranking[:2] == ("ideal", "klarna")
    assert reason.code == "METHOD_FROM_COUNTRY" and "NL" in reason.detail


def test_a_new_german_customer_is_offered_the_german_favourites() -> None:
    ranking, _ = rank_methods(CustomerProfile.empty("c1"), "DE", POLICY.methods)
    assert ranking[:2] == ("sofort", "paypal")


def test_a_country_without_a_prior_falls_back_to_the_default_methods() -> None:
    ranking, _ = rank_methods(CustomerProfile.empty("c1"), "IS", POLICY.methods)
    assert ranking == POLICY.methods.default


def test_the_method_with_most_successes_comes_first_and_recency_breaks_ties() -> None:
    p = pays_with(CustomerProfile.empty("c1"), "paypal", "card", "card", "paypal", "klarna")
    assert rank_methods(p, "NL", POLICY.methods)[0][:3] == ("paypal", "card", "klarna")
    p = pays_with(CustomerProfile.empty("c1"), "paypal", "card")
    assert rank_methods(p, "NL", POLICY.methods)[0][:2] == ("card", "paypal")


def test_a_method_that_only_ever_failed_is_offered_last() -> None:
    p = fails_with(CustomerProfile.empty("c1"), "ideal", POLICY.methods.demote_after_failures)
    ranking, reason = rank_methods(p, "NL", POLICY.methods)
    assert ranking[0] == "klarna" and ranking[-1] == "ideal" and "ideal" in reason.detail
    once = fails_with(CustomerProfile.empty("c1"), "ideal", 1)
    assert rank_methods(once, "NL", POLICY.methods)[0][0] == "ideal"


def test_every_ranking_lists_each_method_once() -> None:
    p = pays_with(CustomerProfile.empty("c1"), "card", "ideal", "swish")
    ranking, _ = rank_methods(p, "SE", POLICY.methods)
    assert len(ranking) == len(set(ranking))
    assert {"card", "ideal", "swish", "klarna", "paypal"} <= set(ranking)
