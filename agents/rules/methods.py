"""Which payment method to offer first: the customer's own successes first, their country's favourites as a prior."""

from __future__ import annotations

from agents.rules.checkout_policy import CheckoutPolicy
from agents.rules.events import Reason
from agents.rules.profile import CustomerProfile


def rank_methods(profile: CustomerProfile, country: str, policy: CheckoutPolicy) -> tuple[tuple[str, ...], Reason]:
    own = [s for s in profile.methods if s.succeeded > 0]
    own.sort(key=lambda s: (-s.succeeded, -s.last, s.value))
    prior = policy.country_methods.get(country, policy.default_methods)
    ranking = tuple(dict.fromkeys([*(s.value for s in own), *prior, *policy.default_methods]))
    if own:
        best = own[0]
        reason = Reason(code="METHOD_FROM_HISTORY",
                        detail=f"The customer paid with {best.value} {best.succeeded} time(s); "
                               f"offered first ahead of the {country} favourite {prior[0] if prior else 'card'}.")
    else:
        reason = Reason(code="METHOD_FROM_COUNTRY",
                        detail=f"No payment history yet: {ranking[0]} is the most popular method in {country}.")
    return ranking, reason
