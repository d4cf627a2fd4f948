"""Refund decisions: personalised terms for good customers, a different answer for serial abusers.

`decide_refund` is a pure function of (refund history, identity links, request, preferences, policy, now) returning
the decision and the notice that tells the customer what they got. The ladder, first match wins:
linked serial claims (deny, then manual review) > an account judged abusive, confirmed abusive by a reviewer, or with
chargebacks (review) > a claim
outside the customer's return window (deny) > a claim above the order's amount (review) > a parcel not yet delivered
(traced, refunded if it does not arrive) > a loyal customer (instant) > a clean history and a small amount (instant)
> nothing to send back (review) > everyone else (refund on return). An account linked by a strong identifier to a
flagged one (agents/rules/reviews) gets no instant refund: where it would have had one, the claim is refunded on
return, or reviewed when nothing comes back, and the decision says which link withheld it.

The customer's history lives in history.py, cross-account linking in links.py, the policy in policy.py; this
module re-exports what the journey and the report use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agents.rules.events import Notification, Reason, RefundDecision, RefundOutcome, RefundRequested
from agents.rules.identity import IdentityNode
from agents.rules.preferences import Preferences
from agents.rules.refunds.history import (
    SERIAL_CLAIMS,
    OrderInfo,
    RefundHistory,
    chargebacks_count,
    clear_claim,
    is_loyal,
    is_refund_abuser,
    record_decision,
    refund_rate,
    tenure_days,
    update_refund_history,
)
from agents.rules.refunds.links import PriorClaims, prior_claims
from agents.rules.refunds.policy import RefundPolicy
from agents.rules.reviews.standing import NO_STANDING, Standing
from agents.rules.timeunits import DAY_MS

__all__ = ["RefundHistory", "RefundPolicy", "baseline_refund", "clear_claim", "decide_refund", "is_refund_abuser",
           "judged_serial", "record_decision", "update_refund_history"]

BASELINE_INSTANT_UP_TO_MINOR = 5000
"""The naive baseline refunds instantly up to this many minor units, whoever asks and whatever the currency."""

MAX_REFS_NAMED = 8
KIND_WORDS = {"device": "device", "addr": "shipping address", "card": "card", "email": "e-mail address",
              "ip": "IP address"}
TEMPLATES: Mapping[RefundOutcome, str] = {"instant_refund": "refund.instant", "refund_on_return": "refund.on_return",
                                          "manual_review": "refund.review", "deny": "refund.denied"}
TRACING_TEMPLATE = "refund.tracing"


@dataclass(frozen=True, slots=True)
class _Verdict:
    outcome: RefundOutcome
    tier: str | None  # destinations tier in the policy; None offers none
    reason: Reason
    template: str | None = None  # None: the outcome's usual template


def decide_refund(history: RefundHistory, links: Mapping[str, IdentityNode], request: RefundRequested,
                  prefs: Preferences, policy: RefundPolicy, now: int, policy_version: str,
                  standing: Standing = NO_STANDING) -> tuple[RefundDecision, Notification]:
    """Decide one claim from the customer's history BEFORE it, the identity nodes of its identifiers and the
    customer's standing with reviewers and linked accounts at `now`."""
    prior = prior_claims(history, links, request.customer_id, request.refund_id, policy, now)
    loyal = is_loyal(history, policy, now)
    window = policy.loyal_window_days if loyal else policy.base_window_days
    verdict = _verdict(history, request, prior, loyal, window, policy, now, standing)
    notes = _notes(history.order(request.order_id), prior, loyal, window, verdict, policy, standing)
    decision = RefundDecision(
        event_id=f"{request.event_id}:decision", customer_id=request.customer_id, occurred_at=request.occurred_at,
        refund_id=request.refund_id, order_id=request.order_id, source_event_id=request.event_id,
        outcome=verdict.outcome, return_window_days=window,
        destinations=policy.destinations[verdict.tier] if verdict.tier else (),
        linked_claims=len(prior.claims), reasons=(verdict.reason, *notes), policy_version=policy_version,
    )
    return decision, _notice(request, decision, verdict.template or TEMPLATES[verdict.outcome], prefs, policy)


def judged_serial(decision: RefundDecision) -> bool:
    """Did this decision judge the claimant a serial claimant (so their linked accounts are flagged too)?"""
    return any(r.code == SERIAL_CLAIMS for r in decision.reasons)


def _verdict(h: RefundHistory, request: RefundRequested, prior: PriorClaims, loyal: bool, window: int,
             policy: RefundPolicy, now: int, standing: Standing) -> _Verdict:
    if prior.weight >= policy.deny_threshold:
        return _Verdict("deny", None, _serial_reason(prior, policy))
    if prior.weight >= policy.review_threshold:
        return _Verdict("manual_review", "review", _serial_reason(prior, policy))
    if is_refund_abuser(h, policy, now):
        return _Verdict("manual_review", "review", Reason(
            code="FLAGGED_SERIAL_CLAIMANT",
            detail=f"This account was judged a serial claimant within the last {policy.abuse_memory_days} days: "
                   "a person checks every claim."))
    if standing.abuse is not None:
        return _Verdict("manual_review", "review", standing.abuse)
    if chargebacks_count(h, policy, now):
        recent = sum(1 for t in h.chargeback_times if t <= now)
        return _Verdict("manual_review", "review", Reason(
            code="OWN_CHARGEBACKS", detail=f"{recent} chargeback(s) on this account, the latest "
                                           f"{(now - h.chargeback_times[0]) // DAY_MS} days ago: a person checks."))
    order = h.order(request.order_id)
    tier = "loyal" if loyal else "standard"
    late = _days_since_delivery(order, request) if request.reason in policy.window_reasons else None
    if late is not None and late > window:
        return _Verdict("deny", None, Reason(
            code="OUTSIDE_RETURN_WINDOW",
            detail=f"Asked {late} days after delivery; the return window for this account is {window} days."))
    if order is not None and order.currency == request.currency and request.amount_minor > order.amount_minor:
        return _Verdict("manual_review", "review", Reason(
            code="CLAIM_EXCEEDS_ORDER", detail="The claim is for more than the order cost: a person checks."))
    delivered = order is not None and order.delivered_at is not None and order.delivered_at <= request.occurred_at
    if request.reason == "item_not_received" and not delivered:
        return _Verdict("refund_on_return", tier, Reason(
            code="PARCEL_IN_TRANSIT",
            detail=f"The carrier has not delivered this order yet: we trace the parcel for up to {policy.trace_days} "
                   "days and refund if it does not arrive or comes back to us."), TRACING_TEMPLATE)
    terms = _terms(h, request, order, prior, loyal, window, policy, now)
    if terms.outcome == "instant_refund" and standing.linked is not None:
        if request.reason in policy.no_return_reasons:  # nothing comes back: a person checks instead
            return _Verdict("manual_review", "review", standing.linked)
        return _Verdict("refund_on_return", terms.tier, standing.linked)
    return terms


def _terms(h: RefundHistory, request: RefundRequested, order: OrderInfo | None, prior: PriorClaims, loyal: bool,
           window: int, policy: RefundPolicy, now: int) -> _Verdict:
    """The ordinary answer once abuse is ruled out: how fast, and which destinations."""
    eur = policy.eur_cents(request.amount_minor, request.currency)
    no_return = request.reason in policy.no_return_reasons
    if loyal and order is not None and eur is not None and eur <= policy.loyal_instant_cap_eur_cents \
            and prior.weight <= policy.loyal_instant_max_prior_weight:
        return _Verdict("instant_refund", "loyal", Reason(
            code="LOYAL_CUSTOMER",
            detail=f"{h.delivered_total} delivered orders over {tenure_days(h, now)} days and "
                   f"{refund_rate(h):.0%} returned: refunded instantly, {window}-day return window."))
    cap = policy.no_return_instant_cap_eur_cents if no_return else policy.instant_cap_eur_cents
    if order is not None and eur is not None and eur <= cap and prior.weight <= policy.instant_max_prior_weight:
        return _Verdict("instant_refund", "loyal" if loyal else "standard", Reason(
            code="CLEAN_HISTORY_SMALL_AMOUNT",
            detail="No worrying claims recently and a small amount: refunded right away."))
    if no_return:
        what = "the carrier's proof of delivery" if request.reason == "item_not_received" \
            else "the parcel's recorded shipping weight"
        return _Verdict("manual_review", "review", Reason(
            code="NOTHING_TO_RETURN",
            detail=f"Nothing comes back to us for a '{request.reason}' claim: a person checks {what} before "
                   "refunding."))
    return _Verdict("refund_on_return", "loyal" if loyal else "standard", Reason(
        code="STANDARD_RETURN", detail=f"Refunded as soon as the return arrives; send it within {window} days."))


def _days_since_delivery(order: OrderInfo | None, request: RefundRequested) -> int | None:
    """Whole days between delivery (or, for store orders, the purchase) and the claim; None if unknown."""
    if order is None:
        return None
    start = order.delivered_at if order.delivered_at is not None else (
        order.placed_at if order.channel == "store" else None)
    return None if start is None else max(0, (request.occurred_at - start) // DAY_MS)


def _serial_reason(prior: PriorClaims, policy: RefundPolicy) -> Reason:
    refs = ", ".join(prior.refs[-MAX_REFS_NAMED:])
    more = len(prior.refs) - MAX_REFS_NAMED
    named = f"{refs} and {more} more" if more > 0 else refs
    via = " / ".join(KIND_WORDS.get(k, k) for k in prior.via)
    linked = f"{prior.other_accounts} linked account(s) sharing a {via}"
    if not prior.other_accounts:
        who = "this account"
    elif prior.own_claims:
        who = f"this account and {linked}"
    else:
        who = linked
    return Reason(code=SERIAL_CLAIMS,
                  detail=f"{len(prior.claims)} earlier claim(s) in {policy.lookback_days} days by {who}: {named} "
                         f"(weight {prior.weight:.1f}; review from {policy.review_threshold:.1f}, "
                         f"deny from {policy.deny_threshold:.1f}).")


def _notes(order: OrderInfo | None, prior: PriorClaims, loyal: bool, window: int, verdict: _Verdict,
           policy: RefundPolicy, standing: Standing) -> tuple[Reason, ...]:
    """Supporting reasons, after the deciding one."""
    notes: list[Reason] = []
    if standing.linked is not None and verdict.reason != standing.linked and verdict.outcome != "deny":
        notes.append(standing.linked)  # it withholds instant refunds even where this claim got none anyway
    if prior.claims and verdict.reason.code != SERIAL_CLAIMS:
        notes.append(Reason(code="EARLIER_CLAIMS_BELOW_THRESHOLD",
                            detail=f"{len(prior.claims)} earlier claim(s) in {policy.lookback_days} days weigh "
                                   f"{prior.weight:.1f}, below the review threshold {policy.review_threshold:.1f}."))
    if order is None and verdict.outcome != "deny":
        notes.append(Reason(code="ORDER_NOT_ON_RECORD",
                            detail="This order is not in the account's recent history, so it is not refunded "
                                   "instantly."))
    if loyal and verdict.outcome != "deny" and verdict.reason.code != "LOYAL_CUSTOMER":
        notes.append(Reason(code="EXTENDED_WINDOW", detail=f"Loyal customer: {window}-day return window."))
    return tuple(notes)


def _notice(request: RefundRequested, d: RefundDecision, template: str, prefs: Preferences,
            policy: RefundPolicy) -> Notification:
    """What the customer is told. Ids, amounts and terms only: the notifier resolves name and address itself."""
    channels = prefs.channels or ("email",)
    params = {"refund_id": request.refund_id, "order_id": request.order_id,
              "amount_minor": str(request.amount_minor), "currency": request.currency,
              "window_days": str(d.return_window_days), "destinations": ",".join(d.destinations)}
    if template == TRACING_TEMPLATE:
        params["trace_days"] = str(policy.trace_days)
    return Notification(
        event_id=f"{request.event_id}:notice", customer_id=request.customer_id, occurred_at=request.occurred_at,
        send_at=request.occurred_at, channel=channels[0], fallback_channels=tuple(channels[1:]),
        template=template, locale=prefs.locale, params=params,
    )


def baseline_refund(request: RefundRequested) -> RefundOutcome:
    """The naive one-rule-for-all policy the quality report compares against: instant up to a fixed amount for
    anyone, refund on return above it."""
    return "instant_refund" if request.amount_minor <= BASELINE_INSTANT_UP_TO_MINOR else "refund_on_return"
