"""One customer's refund-relevant history: recent orders and claims, lifetime aggregates, and whether the customer was
judged a serial claimant. Bounded and frozen; `update_refund_history` folds one input event into a new value.

Other rule families ask `is_refund_abuser` before they make offers or promise instant refunds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from agents.rules.dataclass_replace import replace
from agents.rules.events import (
    Chargeback,
    InputEvent,
    OrderDelivered,
    OrderPlaced,
    PaymentSucceeded,
    RefundDecision,
    RefundIssued,
    RefundRequested,
)
from agents.rules.refunds.policy import RefundPolicy
from agents.rules.timeunits import DAY_MS

MAX_ORDERS = 30
MAX_CLAIMS = 20
MAX_CURRENCIES = 8
MAX_CHARGEBACK_TIMES = 10  # own chargebacks whose times are kept: older ones have faded by then

SERIAL_CLAIMS = "LINKED_SERIAL_CLAIMS"
"""Reason code of a decision that judged the claimant a serial claimant; `record_decision` remembers it."""

UNDELIVERED_SUFFIX = "_undelivered"
"""A lost-parcel claim on an order the carrier has not delivered says little about the claimant: it gets its own
weight (`item_not_received_undelivered`) instead of the heavy weight of a delivered one."""


@dataclass(frozen=True, slots=True)
class OrderInfo:
    order_id: str
    amount_minor: int
    currency: str
    placed_at: int
    channel: str
    delivered_at: int | None = None


@dataclass(frozen=True, slots=True)
class ClaimInfo:
    refund_id: str
    order_id: str
    reason: str
    amount_minor: int
    currency: str
    at: int
    delivered: bool | None = None  # was the order delivered when the claim came in (None: order unknown)
    issued_to: str | None = None
    issued_at: int | None = None
    cleared: bool = False  # a reviewer found this claim was not abuse: it weighs nothing against the claimant

    @property
    def label(self) -> str:
        return claim_label(self.reason, self.delivered)


@dataclass(frozen=True, slots=True)
class RefundHistory:
    first_seen: int = 0  # 0: nothing seen yet
    orders: tuple[OrderInfo, ...] = ()  # most recent first, at most MAX_ORDERS
    orders_total: int = 0
    delivered_total: int = 0
    claims: tuple[ClaimInfo, ...] = ()  # most recent first, at most MAX_CLAIMS
    claims_total: int = 0
    refunds_issued: int = 0
    refunded: tuple[tuple[str, int], ...] = ()  # (currency, minor units refunded), per currency
    chargebacks: int = 0  # every chargeback ever seen on this account (shown; the rules read `chargeback_times`)
    chargeback_times: tuple[int, ...] = ()  # newest first, at most MAX_CHARGEBACK_TIMES: they fade with a half-life
    payments_succeeded: int = 0
    abuse_flagged_at: int | None = None  # when a decision last judged this customer a serial claimant

    @classmethod
    def empty(cls) -> Self:
        return cls()

    def order(self, order_id: str) -> OrderInfo | None:
        return next((o for o in self.orders if o.order_id == order_id), None)

    def claim(self, refund_id: str) -> ClaimInfo | None:
        return next((c for c in self.claims if c.refund_id == refund_id), None)


def claim_label(reason: str, delivered: bool | None) -> str:
    """The reason a claim is weighed under: a lost-parcel claim before delivery is a different, lighter thing."""
    if reason == "item_not_received" and delivered is False:
        return reason + UNDELIVERED_SUFFIX
    return reason


def update_refund_history(h: RefundHistory, event: InputEvent, now: int) -> RefundHistory:
    """Fold one event into the history. `now` is unused: the history keeps each event's own time, so a late event
    lands where it happened. Repeats (same order, same refund) change nothing."""
    if event.occurred_at and (not h.first_seen or event.occurred_at < h.first_seen):
        h = replace(h, first_seen=event.occurred_at)
    if isinstance(event, OrderPlaced):
        return _placed(h, event)
    if isinstance(event, OrderDelivered):
        return _delivered(h, event)
    if isinstance(event, RefundRequested):
        return _claimed(h, event)
    if isinstance(event, RefundIssued):
        return _issued(h, event)
    if isinstance(event, Chargeback):
        times = tuple(sorted((*h.chargeback_times, event.occurred_at), reverse=True))[:MAX_CHARGEBACK_TIMES]
        return replace(h, chargebacks=h.chargebacks + 1, chargeback_times=times)
    if isinstance(event, PaymentSucceeded):
        return replace(h, payments_succeeded=h.payments_succeeded + 1)
    return h


def _placed(h: RefundHistory, e: OrderPlaced) -> RefundHistory:
    if h.order(e.order_id) is not None:
        return h
    info = OrderInfo(order_id=e.order_id, amount_minor=e.amount_minor, currency=e.currency, placed_at=e.occurred_at,
                     channel=e.channel)
    return replace(h, orders=(info, *h.orders)[:MAX_ORDERS], orders_total=h.orders_total + 1)


def _delivered(h: RefundHistory, e: OrderDelivered) -> RefundHistory:
    # A delivery of an order we never saw placed (or forgot) is ignored: loyalty rests on orders we know.
    found = h.order(e.order_id)
    if found is None or found.delivered_at is not None:
        return h
    orders = tuple(replace(o, delivered_at=e.occurred_at) if o is found else o for o in h.orders)
    return replace(h, orders=orders, delivered_total=h.delivered_total + 1)


def _claimed(h: RefundHistory, e: RefundRequested) -> RefundHistory:
    if h.claim(e.refund_id) is not None:
        return h
    order = h.order(e.order_id)
    delivered = None if order is None else order.delivered_at is not None and order.delivered_at <= e.occurred_at
    claim = ClaimInfo(refund_id=e.refund_id, order_id=e.order_id, reason=e.reason, amount_minor=e.amount_minor,
                      currency=e.currency, at=e.occurred_at, delivered=delivered)
    return replace(h, claims=(claim, *h.claims)[:MAX_CLAIMS], claims_total=h.claims_total + 1)


def _issued(h: RefundHistory, e: RefundIssued) -> RefundHistory:
    found = h.claim(e.refund_id)
    if found is None or found.issued_to is not None:
        return h
    claims = tuple(replace(c, issued_to=e.destination, issued_at=e.occurred_at) if c is found else c for c in h.claims)
    totals = dict(h.refunded)
    totals[found.currency] = totals.get(found.currency, 0) + found.amount_minor
    refunded = tuple(sorted(totals.items()))[:MAX_CURRENCIES]
    return replace(h, claims=claims, refunds_issued=h.refunds_issued + 1, refunded=refunded)


def record_decision(h: RefundHistory, decision: RefundDecision) -> RefundHistory:
    """Remember that this customer was judged a serial claimant, so other rules withhold offers and instant refunds."""
    if not any(r.code == SERIAL_CLAIMS for r in decision.reasons):
        return h
    if h.abuse_flagged_at is not None and h.abuse_flagged_at >= decision.occurred_at:
        return h
    return replace(h, abuse_flagged_at=decision.occurred_at)


def clear_claim(h: RefundHistory, refund_id: str) -> RefundHistory:
    """A reviewer found the claim was not abuse: it no longer counts against the customer, and a serial-claimant
    judgement made on it is lifted."""
    found = h.claim(refund_id)
    if found is None or found.cleared:
        return h
    claims = tuple(replace(c, cleared=True) if c is found else c for c in h.claims)
    flagged = None if h.abuse_flagged_at == found.at else h.abuse_flagged_at
    return replace(h, claims=claims, abuse_flagged_at=flagged)


def cleared_refs(h: RefundHistory) -> frozenset[str]:
    return frozenset(c.refund_id for c in h.claims if c.cleared)


def recent_claims(h: RefundHistory, policy: RefundPolicy, now: int) -> tuple[ClaimInfo, ...]:
    """The customer's own claims within the look-back window (a claim exactly at its start still counts), except
    those a reviewer cleared."""
    since = now - policy.lookback_days * DAY_MS
    return tuple(c for c in h.claims if since <= c.at <= now and not c.cleared)


def own_claims_weight(h: RefundHistory, policy: RefundPolicy, now: int) -> float:
    return sum(policy.weight_of(c.label) for c in recent_claims(h, policy, now))


def is_refund_abuser(h: RefundHistory, policy: RefundPolicy, now: int) -> bool:
    """Judged a serial claimant within the policy's memory, or this account's own recent claims alone weigh enough."""
    flagged = h.abuse_flagged_at is not None and 0 <= now - h.abuse_flagged_at <= policy.abuse_memory_days * DAY_MS
    return flagged or own_claims_weight(h, policy, now) >= policy.review_threshold


def chargeback_weight(h: RefundHistory, policy: RefundPolicy, now: int) -> float:
    """This account's own chargebacks, each weighing 0.5 ** (age / half-life) at `now` (later ones weigh nothing)."""
    half_life = policy.chargeback_half_life_days * DAY_MS
    return sum(0.5 ** ((now - t) / half_life) for t in h.chargeback_times if t <= now)


def chargebacks_count(h: RefundHistory, policy: RefundPolicy, now: int) -> bool:
    """Do this account's own chargebacks still weigh enough at `now` to send its claims to a person?"""
    return chargeback_weight(h, policy, now) >= policy.chargeback_review_weight


def tenure_days(h: RefundHistory, now: int) -> int:
    return max(0, (now - h.first_seen) // DAY_MS) if h.first_seen else 0


def refund_rate(h: RefundHistory) -> float:
    """Earlier claims per order placed (an account with no orders and no claims has a rate of 0)."""
    return h.claims_total / max(h.orders_total, 1)


def is_loyal(h: RefundHistory, policy: RefundPolicy, now: int) -> bool:
    """Long enough with us, enough delivered orders, few returns, no chargeback that still counts, no abuse."""
    return (tenure_days(h, now) >= policy.loyal_min_tenure_days
            and h.delivered_total >= policy.loyal_min_delivered_orders
            and refund_rate(h) <= policy.loyal_max_refund_rate
            and not chargebacks_count(h, policy, now)
            and not is_refund_abuser(h, policy, now))
