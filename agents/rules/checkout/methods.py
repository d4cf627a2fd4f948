"""Which payment method to offer first, and in what order the rest.

The customer's own successes come first (most successful payments, then most recent use). The country's
popular methods are a prior, used only where the customer's history is silent: a Dutch customer who always
pays with Klarna and never chose iDEAL gets Klarna first. Methods that only ever failed go last.
"""

from __future__ import annotations

from agents.rules.checkout.policy import MethodPolicy
from agents.rules.events import Reason
from agents.rules.profile import CustomerProfile
from agents.rules.profile.records import Seen


def country_prior(country: str | None, policy: MethodPolicy) -> tuple[str, ...]:
    return policy.country_priors.get((country or "").upper(), policy.default)


def proven_methods(profile: CustomerProfile) -> list[Seen]:
    """Methods that worked for this customer, best first."""
    worked = (m for m in profile.methods if m.succeeded > 0)
    return sorted(worked, key=lambda m: (-m.succeeded, -m.last_at, m.value))


def failing_methods(profile: CustomerProfile, policy: MethodPolicy) -> set[str]:
    return {m.value for m in profile.methods if m.succeeded == 0 and m.failed >= policy.demote_after_failures}


def rank_methods(profile: CustomerProfile, country: str | None,
                 policy: MethodPolicy) -> tuple[tuple[str, ...], Reason]:
    """The methods to offer, best first, and the reason for the first one."""
    own = proven_methods(profile)
    prior = country_prior(country, policy)
    ordered = list(dict.fromkeys([*(m.value for m in own), *prior, *policy.default]))
    failing = failing_methods(profile, policy)
    ranking = tuple([m for m in ordered if m not in failing] + [m for m in ordered if m in failing])
    where = country or "this country"
    if own:
        best = own[0]
        usual = f", ahead of {prior[0]}, usual in {where}" if prior and prior[0] != best.value else ""
        return ranking, Reason(
            code="METHOD_FROM_HISTORY",
            detail=f"{best.value} first: the customer paid with it {best.succeeded} time(s){usual}.")
    demoted = f" that has not failed for this customer ({', '.join(sorted(failing))} did)" if failing else ""
    return ranking, Reason(
        code="METHOD_FROM_COUNTRY",
        detail=f"{ranking[0]} first: no successful payment yet, and it is the most popular method in {where}"
               f"{demoted}.")
