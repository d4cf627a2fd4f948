"""Refund decisions: personalised terms for good customers, a different answer for serial abusers.

`decide_refund` is a pure function of (refund history, identity links, request, preferences, policy, now). Claims are
linked across accounts through strong identifiers (device, card, e-mail); an address alone (a household, a hotel)
never brands a stranger, but counts when a strong identifier also ties the claimant to the same account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Self

from agents.rules.events import (
    Chargeback,
    InputEvent,
    Notification,
    OrderDelivered,
    OrderPlaced,
    PaymentSucceeded,
    Reason,
    RefundDecision,
    RefundIssued,
    RefundRequested,
)
from agents.rules.identity import STRONG_KINDS, IdentityNode, Mark, kind_of
from agents.rules.preferences import Preferences

DAY_MS = 86_400_000
MAX_ORDERS = 30
MAX_CLAIMS = 20


@dataclass(frozen=True, slots=True)
class RefundPolicy:
    base_window_days: int
    loyal_window_days: int
    lookback_days: int  # linked claims older than this are forgiven
    review_threshold: float  # weighted linked claims from which a claim goes to manual review ...
    deny_threshold: float  # ... and from which it is denied
    reason_weights: Mapping[str, float]
    default_reason_weight: float
    instant_cap_eur_cents: int  # instant refunds for an ordinary first claim up to this amount
    loyal_min_tenure_days: int
    loyal_min_delivered_orders: int
    loyal_max_refund_rate: float
    abuse_memory_days: int  # how long a customer judged an abuser stays one for offers and instant refunds
    eur_rates: Mapping[str, float]

    @classmethod
    def from_mapping(cls, s: Mapping[str, Any]) -> Self:
        return cls(
            base_window_days=int(s["base_window_days"]), loyal_window_days=int(s["loyal_window_days"]),
            lookback_days=int(s["lookback_days"]), review_threshold=float(s["review_threshold"]),
            deny_threshold=float(s["deny_threshold"]),
            reason_weights={k: float(v) for k, v in s["reason_weights"].items()},
            default_reason_weight=float(s["default_reason_weight"]),
            instant_cap_eur_cents=int(s["instant_cap_eur_cents"]),
            loyal_min_tenure_days=int(s["loyal_min_tenure_days"]),
            loyal_min_delivered_orders=int(s["loyal_min_delivered_orders"]),
            loyal_max_refund_rate=float(s["loyal_max_refund_rate"]), abuse_memory_days=int(s["abuse_memory_days"]),
            eur_rates={k: float(v) for k, v in s.get("eur_rates", {"EUR": 1.0}).items()},
        )


@dataclass(frozen=True, slots=True)
class OrderInfo:
    order_id: str
    amount_minor: int
    placed_at: int
    channel: str
    delivered_at: int | None = None


@dataclass(frozen=True, slots=True)
class ClaimInfo:
    refund_id: str
    order_id: str
    reason: str
    amount_minor: int
    at: int
    issued_to: str | None = None


@dataclass(frozen=True, slots=True)
class RefundHistory:
    first_seen: int = 0
    orders: tuple[OrderInfo, ...] = ()  # most recent first
    orders_total: int = 0
    delivered_total: int = 0
    claims: tuple[ClaimInfo, ...] = ()  # most recent first
    claims_total: int = 0
    refunded_minor: int = 0
    chargebacks: int = 0
    payments_succeeded: int = 0
    abuse_flagged_at: int | None = None

    @classmethod
    def empty(cls) -> RefundHistory:
        return cls()

    def order(self, order_id: str) -> OrderInfo | None:
        return next((o for o in self.orders if o.order_id == order_id), None)


def update_refund_history(h: RefundHistory, event: InputEvent, now: int) -> RefundHistory:
    h = h if h.first_seen else replace(h, first_seen=event.occurred_at)
    if isinstance(event, OrderPlaced):
        info = OrderInfo(event.order_id, event.amount_minor, event.occurred_at, event.channel)
        rest = tuple(o for o in h.orders if o.order_id != event.order_id)
        return replace(h, orders=(info, *rest)[:MAX_ORDERS], orders_total=h.orders_total + 1)
    if isinstance(event, OrderDelivered):
        found = h.order(event.order_id)
        if found is None or found.delivered_at is not None:
            return h
        orders = tuple(replace(o, delivered_at=event.occurred_at) if o.order_id == event.order_id else o
                       for o in h.orders)
        return replace(h, orders=orders, delivered_total=h.delivered_total + 1)
    if isinstance(event, RefundRequested):
        claim = ClaimInfo(event.refund_id, event.order_id, event.reason, event.amount_minor, event.occurred_at)
        return replace(h, claims=(claim, *h.claims)[:MAX_CLAIMS], claims_total=h.claims_total + 1)
    if isinstance(event, RefundIssued):
        claimed = next((c for c in h.claims if c.refund_id == event.refund_id), None)
        if claimed is None or claimed.issued_to is not None:
            return h
        claims = tuple(replace(c, issued_to=event.destination) if c is claimed else c for c in h.claims)
        return replace(h, claims=claims, refunded_minor=h.refunded_minor + claimed.amount_minor)
    if isinstance(event, Chargeback):
        return replace(h, chargebacks=h.chargebacks + 1)
    if isinstance(event, PaymentSucceeded):
        return replace(h, payments_succeeded=h.payments_succeeded + 1)
    return h


def is_refund_abuser(h: RefundHistory, policy: RefundPolicy, now: int) -> bool:
    return h.abuse_flagged_at is not None and now - h.abuse_flagged_at <= policy.abuse_memory_days * DAY_MS


def record_decision(h: RefundHistory, decision: RefundDecision) -> RefundHistory:
    """Remember that this customer was judged a serial claimant, so other rules withhold offers."""
    if any(r.code == "LINKED_SERIAL_CLAIMS" for r in decision.reasons):
        return replace(h, abuse_flagged_at=decision.occurred_at)
    return h


def linked_claims(customer_id: str, links: Mapping[str, IdentityNode], request: RefundRequested,
                  policy: RefundPolicy) -> tuple[Mark, ...]:
    """Earlier claims by the same actor: reached through a strong identifier, or through the address only when the
    claimant there is also reached through a strong identifier (or is this customer)."""
    since = request.occurred_at - policy.lookback_days * DAY_MS
    strong = {ident: node for ident, node in links.items() if kind_of(ident) in STRONG_KINDS}
    actors = {customer_id} | {m.customer_id for node in strong.values() for m in node.claims}
    found: dict[str, Mark] = {}
    for ident, node in links.items():
        for m in node.claims:
            if m.ref == request.refund_id or m.at < since or m.at > request.occurred_at:
                continue
            if ident in strong or m.customer_id in actors:
                found[m.ref] = m
    return tuple(sorted(found.values(), key=lambda m: m.at))


def is_loyal(h: RefundHistory, policy: RefundPolicy, now: int) -> bool:
    tenure = (now - h.first_seen) // DAY_MS if h.first_seen else 0
    rate = h.claims_total / max(h.orders_total, 1)
    return (tenure >= policy.loyal_min_tenure_days and h.delivered_total >= policy.loyal_min_delivered_orders
            and rate <= policy.loyal_max_refund_rate and h.chargebacks == 0 and h.abuse_flagged_at is None)


def decide_refund(h: RefundHistory, links: Mapping[str, IdentityNode], request: RefundRequested, prefs: Preferences,
                  policy: RefundPolicy, now: int, policy_version: str) -> tuple[RefundDecision, Notification]:
    prior = linked_claims(request.customer_id, links, request, policy)
    weight = sum(policy.reason_weights.get(m.reason, policy.default_reason_weight) for m in prior)
    order = h.order(request.order_id)
    loyal = is_loyal(h, policy, now)
    eur = round(request.amount_minor * policy.eur_rates.get(request.currency, 1.0))
    window = policy.loyal_window_days if loyal else policy.base_window_days
    everyone: tuple[str, ...] = ("original_method", "store_credit", "exchange")
    dests: tuple[str, ...]
    serial = Reason(code="LINKED_SERIAL_CLAIMS",
                    detail=f"{len(prior)} earlier claim(s) in {policy.lookback_days} days by accounts sharing a "
                           f"device, card or e-mail with this one (weight {weight:.1f}).")
    if weight >= policy.deny_threshold:
        outcome, dests, reasons = "deny", (), [serial]
    elif weight >= policy.review_threshold:
        outcome, dests, reasons = "manual_review", ("original_method",), [serial]
    elif h.chargebacks or is_refund_abuser(h, policy, now):
        outcome, dests, reasons = "manual_review", ("original_method",), [Reason(
            code="ACCOUNT_HISTORY", detail="Earlier chargebacks or abusive claims on this account: a person checks.")]
    elif request.reason == "item_not_received" and (order is None or order.delivered_at is None):
        outcome, dests, reasons = "manual_review", everyone, [Reason(
            code="PARCEL_IN_TRANSIT", detail="The carrier has not delivered this order yet: we trace the parcel "
                                             "and refund if it does not arrive.")]
    elif loyal:
        outcome, dests, reasons = "instant_refund", (*everyone, "wallet"), [Reason(
            code="LOYAL_CUSTOMER", detail=f"{h.delivered_total} delivered orders and few returns: refunded "
                                          f"instantly, {window}-day return window.")]
    elif request.reason == "item_not_received":
        outcome, dests, reasons = "manual_review", everyone, [Reason(
            code="DELIVERED_NOT_RECEIVED", detail="The carrier reports this order delivered: a person checks the "
                                                  "proof of delivery.")]
    elif h.claims_total == 0 and eur <= policy.instant_cap_eur_cents:
        outcome, dests, reasons = "instant_refund", everyone, [Reason(
            code="FIRST_CLAIM_FAST", detail="First claim, small amount: refunded right away.")]
    else:
        outcome, dests, reasons = "refund_on_return", everyone, [Reason(
            code="STANDARD_RETURN", detail=f"Refunded when the return arrives, within {window} days.")]
    if prior and outcome not in ("deny", "manual_review"):
        reasons.append(Reason(code="LINKED_CLAIMS_BELOW_THRESHOLD",
                              detail=f"{len(prior)} linked earlier claim(s), below the review threshold."))
    decision = RefundDecision(
        event_id=f"{request.event_id}:decision", customer_id=request.customer_id, occurred_at=request.occurred_at,
        refund_id=request.refund_id, order_id=request.order_id, source_event_id=request.event_id,
        outcome=outcome,  # type: ignore[arg-type]
        return_window_days=window, destinations=dests, linked_claims=len(prior), reasons=tuple(reasons),
        policy_version=policy_version,
    )
    return decision, _notice(request, decision, prefs)


TEMPLATES = {"instant_refund": "refund.instant", "refund_on_return": "refund.on_return",
             "manual_review": "refund.review", "deny": "refund.denied"}


def _notice(request: RefundRequested, d: RefundDecision, prefs: Preferences) -> Notification:
    channels = prefs.channels or ("email",)
    return Notification(
        event_id=f"{request.event_id}:notice", customer_id=request.customer_id, occurred_at=request.occurred_at,
        send_at=request.occurred_at, channel=channels[0], fallback_channels=tuple(channels[1:]),
        template=TEMPLATES[d.outcome], locale=prefs.locale,
        params={"refund_id": request.refund_id, "order_id": request.order_id,
                "amount_minor": str(request.amount_minor), "currency": request.currency,
                "window_days": str(d.return_window_days), "destinations": ",".join(d.destinations)},
    )


def baseline_refund(request: RefundRequested) -> str:
    """The naive one-rule-for-all policy the quality report compares against: everyone refunds on return."""
    return "refund_on_return"
