"""Checkout decisions that know the customer: approve, 3-D Secure challenge or decline, with the SCA
strategy, the payment method to offer first, perks, and the reasons for all of it.

`decide(profile, links, attempt, policy, now, policy_version)` is pure. Where to find each rule:

- The risk score: `risk_score` here, [checkout] base_score plus the points of every signal that fires,
  clamped to 0-100. Signals from the customer's own profile (usual device, new card, card testing, takeover,
  own chargebacks, ...) are one function each in signals.py; signals from other customers'
  identities (stolen card, linked fraudster, the non-contamination rule) in linked_risk.py. Weights:
  [checkout.weights].
- The outcome: `choose_outcome` here. A reviewer's confirmed fraud declines first (Radar's block list); then
  Radar-like bands: decline from `decline_from`; in the grey zone from `challenge_from`, 3-D Secure instead of a
  decline when the customer can authenticate (`is_grey_zone`: such a challenge waits in the review queue); some
  signals always ask for 3-D Secure (`step_up_signals`); and SCA itself may need a challenge.
- What reviewers and linked accounts say (`standing`, agents/rules/reviews): confirmed fraud declines, a
  confirmed-legitimate customer earns trust (REVIEWED_LEGITIMATE), and a flagged customer gets no perks.
- The SCA strategy and exemption: sca.py. The method ranking: methods.py. Perks: `perk_for` here.
"""

from __future__ import annotations

from collections.abc import Mapping

from agents.rules.checkout.linked_risk import LINKED_SIGNALS
from agents.rules.checkout.methods import rank_methods
from agents.rules.checkout.policy import CheckoutPolicy
from agents.rules.checkout.sca import ScaChoice, choose_sca
from agents.rules.checkout.signals import PROFILE_SIGNALS, Facts, Signal, fails_challenges, has_bad_history
from agents.rules.events import Outcome, PaymentAttempted, PaymentDecision, Reason
from agents.rules.identity import IdentityNode
from agents.rules.profile import CustomerProfile
from agents.rules.reviews.standing import NO_STANDING, Standing

__all__ = ["GREY_ZONE", "CheckoutPolicy", "decide", "has_bad_history", "is_grey_zone", "risk_signals"]

GREY_ZONE = "CHALLENGE_GREY_ZONE"
"""Lead reason of a challenge chosen because the risk is in the grey zone: a case for the review queue."""


def risk_signals(profile: CustomerProfile, links: Mapping[str, IdentityNode], attempt: PaymentAttempted,
                 policy: CheckoutPolicy, now: int, standing: Standing = NO_STANDING) -> list[Signal]:
    facts = Facts(profile=profile, attempt=attempt, links=links, policy=policy,
                  eur_cents=policy.eur_cents(attempt.amount_minor, attempt.currency), now=now, standing=standing)
    found = (rule(facts) for rule in (*PROFILE_SIGNALS, *LINKED_SIGNALS))
    return [s for s in found if s is not None]


def risk_score(signals: list[Signal], policy: CheckoutPolicy) -> int:
    return max(0, min(100, policy.base_score + sum(s.points for s in signals)))


def can_authenticate(profile: CustomerProfile, attempt: PaymentAttempted, policy: CheckoutPolicy) -> bool:
    """Is the customer at the online checkout (3-D Secure needs a browser or app: not a store terminal, not an
    off-session charge), and not someone who keeps failing 3-D Secure?"""
    return (attempt.initiator == "customer" and attempt.channel == "online"
            and not fails_challenges(profile, policy))


def choose_outcome(score: int, signals: list[Signal], sca: ScaChoice, authenticable: bool,
                   policy: CheckoutPolicy) -> tuple[Outcome, Reason]:
    if score >= policy.decline_from:
        return "decline", Reason(code="DECLINE_HIGH_RISK",
                                 detail=f"Risk {score} is in the decline band (from {policy.decline_from}).")
    if score >= policy.challenge_from:
        if authenticable:
            return "challenge", Reason(
                code=GREY_ZONE,
                detail=f"Risk {score} is in the grey zone (from {policy.challenge_from}): 3-D Secure rather "
                       "than a decline, since the customer can authenticate.")
        return "decline", Reason(
            code="DECLINE_CANNOT_AUTHENTICATE",
            detail=f"Risk {score} is in the grey zone and the customer cannot authenticate here "
                   "(merchant-initiated, a store terminal, or repeated failed challenges).")
    step_up = [s.code for s in signals if s.code in policy.step_up_signals and s.points > 0]
    if step_up and authenticable:
        return "challenge", Reason(code="CHALLENGE_STEP_UP",
                                   detail=f"Risk {score} is low, but {step_up[0]} always asks for 3DS.")
    if sca.strategy == "challenge":
        return "challenge", Reason(code="CHALLENGE_FOR_SCA",
                                   detail=f"Risk {score} is low; strong customer authentication is needed.")
    return "approve", Reason(code="APPROVE",
                             detail=f"Risk {score} is below the challenge band ({policy.challenge_from}).")


def is_grey_zone(decision: PaymentDecision) -> bool:
    """A challenge because the risk is in the grey zone: what a reviewer should look at."""
    return decision.outcome == "challenge" and bool(decision.reasons) and decision.reasons[0].code == GREY_ZONE


def perk_for(profile: CustomerProfile, attempt: PaymentAttempted, policy: CheckoutPolicy) -> Reason | None:
    """A store customer's first online order earns the welcome perk (also on a retry of that same order)."""
    if attempt.initiator != "customer" or attempt.channel != "online" or profile.store_orders.count == 0:
        return None
    first = profile.first_online_order_id
    if first is None or first == attempt.order_id:
        perk = policy.first_online_order_perk
        return Reason(code="FIRST_ONLINE_ORDER",
                      detail=f"A store customer's first online order: {perk} as a welcome.")
    return None


def _explained(signals: list[Signal], outcome: Outcome) -> list[Reason]:
    """Signals as reasons, most important first: for an approval the strongest either way (trust explains it),
    for a challenge or decline the biggest risks first; explanations that changed nothing come last."""
    weighted = [s for s in signals if s.points]
    key = (lambda s: -abs(s.points)) if outcome == "approve" else (lambda s: -s.points)
    ordered = [*sorted(weighted, key=key), *(s for s in signals if not s.points)]
    return [Reason(code=s.code, detail=s.detail) for s in ordered]


def decide(profile: CustomerProfile, links: Mapping[str, IdentityNode], attempt: PaymentAttempted,
           policy: CheckoutPolicy, now: int, policy_version: str,
           standing: Standing = NO_STANDING) -> PaymentDecision:
    """Decide one attempt from the profile and identity links as they were before it, and the customer's standing
    with reviewers and linked accounts at `now`."""
    signals = risk_signals(profile, links, attempt, policy, now, standing)
    score = risk_score(signals, policy)
    eur_cents = policy.eur_cents(attempt.amount_minor, attempt.currency)
    sca = choose_sca(profile, attempt, eur_cents, score, policy)
    outcome: Outcome
    if standing.fraud is not None:  # a person confirmed fraud: no score argues with that
        outcome, lead = "decline", standing.fraud
    else:
        outcome, lead = choose_outcome(score, signals, sca, can_authenticate(profile, attempt, policy), policy)
    country = attempt.customer_country or profile.home_country
    ranking, method_reason = rank_methods(profile, country, policy.methods)
    perk = perk_for(profile, attempt, policy) if outcome != "decline" else None
    withheld = standing.withholding if perk else None
    if withheld is not None:  # flagged customers get no perks; say why instead
        perk = None
    sca_first = lead.code == "CHALLENGE_FOR_SCA"  # SCA, not risk, asked for the challenge: say why up front
    reasons = (lead, *((sca.reason,) if sca_first else ()), *_explained(signals, outcome),
               *(() if sca_first else (sca.reason,)), *((perk,) if perk else ()),
               *((withheld,) if withheld else ()), method_reason)
    return PaymentDecision(
        event_id=f"{attempt.event_id}:decision", customer_id=attempt.customer_id,
        occurred_at=attempt.occurred_at, payment_id=attempt.payment_id, source_event_id=attempt.event_id,
        outcome=outcome, sca_strategy="challenge" if outcome == "challenge" else sca.strategy,
        exemption=sca.exemption if outcome == "approve" else None, risk_score=score,
        recommended_method=ranking[0], method_ranking=ranking,
        perks=(policy.first_online_order_perk,) if perk else (), reasons=reasons,
        policy_version=policy_version,
    )
