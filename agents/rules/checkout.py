"""Checkout decisions that know the customer: approve, challenge or decline, with reasons, SCA, method and perks.

`decide` is a pure function of (profile, identity links, attempt, policy, now). The risk score is additive and
explainable: a base plus the points of each signal below (weights in policy; negative points are trust). Every signal
is a small function named for the question it answers. Bands: challenge (3-D Secure) from `challenge_from`, decline
from `decline_from`; a grey-zone customer who can authenticate is challenged rather than declined.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from agents.rules.checkout_policy import CheckoutPolicy
from agents.rules.events import PaymentAttempted, PaymentDecision, Reason
from agents.rules.identity import STRONG_KINDS, IdentityNode, kind_of
from agents.rules.methods import rank_methods
from agents.rules.profile import CustomerProfile, has_bad_history
from agents.rules.sca import choose_sca

__all__ = ["CheckoutPolicy", "decide", "has_bad_history", "risk_signals"]

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Signal:
    code: str
    points: int
    detail: str


def _signal(policy: CheckoutPolicy, code: str, detail: str) -> Signal:
    return Signal(code, policy.weights.get(code, 0), detail)


def proven(p: CustomerProfile, kind: str, value: str | None) -> bool:
    """Has a payment with this device / card / address succeeded for the customer? Seen alone earns no trust."""
    entry = p.find(kind, value)
    return entry is not None and entry.succeeded > 0


def is_established(p: CustomerProfile, policy: CheckoutPolicy) -> bool:
    return p.payments_succeeded >= policy.established_after_payments


def identity_signals(p: CustomerProfile, a: PaymentAttempted, policy: CheckoutPolicy) -> Iterator[Signal]:
    """Is this the customer's usual device, card and address, or are they all new?"""
    if not p.payments_succeeded:
        yield _signal(policy, "NEW_CUSTOMER", "No successful payment with us yet.")
        return
    if proven(p, "devices", a.device_id):
        yield _signal(policy, "KNOWN_DEVICE", "The customer's usual device: payments from it succeeded before.")
    elif a.device_id:
        yield _signal(policy, "NEW_DEVICE", "No payment from this device has succeeded for this customer.")
    if proven(p, "cards", a.card_fingerprint):
        yield _signal(policy, "TRUSTED_CARD", "A card that paid successfully before.")
    elif a.card_fingerprint:
        yield _signal(policy, "NEW_CARD", "A card this customer has not paid with before.")
    if proven(p, "addresses", a.shipping_address_id):
        yield _signal(policy, "KNOWN_ADDRESS", "Ships to an address the customer paid for before.")
    elif a.shipping_address_id:
        yield _signal(policy, "NEW_ADDRESS", "Ships to a new address.")
    if a.ip_country and p.countries and p.find("countries", a.ip_country) is None:
        yield _signal(policy, "NEW_COUNTRY", f"First time seen from {a.ip_country}.")
    if is_established(p, policy):
        yield _signal(policy, "ESTABLISHED_CUSTOMER", f"{p.payments_succeeded} successful payments before.")


def history_signals(p: CustomerProfile, a: PaymentAttempted, policy: CheckoutPolicy) -> Iterator[Signal]:
    """Has the customer charged back before, or does this look like card testing or a takeover?"""
    now = a.occurred_at
    if has_bad_history(p):
        yield _signal(policy, "OWN_CHARGEBACKS", f"{p.chargebacks} chargeback(s) on this account.")
    recent = sum(1 for t in p.attempt_times if now - t <= policy.velocity_window_ms)
    if recent + 1 >= policy.velocity_attempts:
        yield _signal(policy, "HIGH_VELOCITY", f"{recent + 1} attempts within the hour.")
    declines = sum(1 for t in p.decline_times if now - t <= policy.declines_window_ms)
    if declines >= policy.declines_count:
        yield _signal(policy, "RECENT_DECLINES", f"{declines} declines within the hour.")
    cards_today = {c.value for c in p.cards if now - c.last <= DAY_MS} | ({a.card_fingerprint} - {None})
    if len(cards_today) >= policy.distinct_cards_per_day:
        yield _signal(policy, "MANY_CARDS", f"{len(cards_today)} different cards within a day.")
    eur = policy.eur_cents(a.amount_minor, a.currency)
    if eur < policy.small_amount_eur_cents and recent >= 2:
        yield _signal(policy, "SMALL_AMOUNT_PROBING", "Repeated very small amounts, typical of card testing.")
    all_new = not (proven(p, "devices", a.device_id) or proven(p, "cards", a.card_fingerprint)
                   or proven(p, "addresses", a.shipping_address_id))
    warned_at = p.new_device_country_at
    takeover_warning = warned_at is not None and now - warned_at <= policy.takeover_window_ms
    if p.payments_succeeded and all_new and (takeover_warning or a.ip_country not in {c.value for c in p.countries}):
        yield _signal(policy, "TAKEOVER_PATTERN", "New device, card and address at once on an existing account.")
    avg = p.order_value_eur_cents / max(p.online_orders + p.store_orders, 1)
    if p.payments_succeeded and eur >= policy.unusual_amount_min_eur_cents and eur > avg * policy.unusual_amount_factor:
        yield _signal(policy, "UNUSUAL_AMOUNT", "Far above this customer's usual order value.")


def linked_signals(p: CustomerProfile, a: PaymentAttempted, links: Mapping[str, IdentityNode],
                   policy: CheckoutPolicy) -> Iterator[Signal]:
    """Do identifiers on this attempt tie the customer to someone else's chargebacks?

    A device or card charged back by another account links them strongly. An address or IP charged back by someone
    else counts only when a strong identifier also ties the two accounts together, or the customer has bad history of
    their own: a hotel address someone else charged back does not make a traveller risky.
    """
    me = a.customer_id
    strong_peers = {c for ident, node in links.items() if kind_of(ident) in STRONG_KINDS
                    for c in node.customer_ids() if c != me}
    for ident, node in sorted(links.items()):
        bad = {m.customer_id for m in node.chargebacks if m.customer_id != me}
        if not bad:
            continue
        kind = kind_of(ident)
        if kind in STRONG_KINDS:
            yield _signal(policy, "LINKED_CHARGEBACK_STRONG",
                          f"This {kind} was used by {len(bad)} other account(s) with chargebacks.")
        elif bad & strong_peers or has_bad_history(p):
            yield _signal(policy, "LINKED_CHARGEBACK_CORROBORATED",
                          f"This {kind} was charged back by an account that shares another identifier with this one.")
        else:
            yield Signal("SHARED_IDENTIFIER_IGNORED", 0,
                         f"Another account charged back on this {kind}, but nothing else links it to this customer.")
    card = links.get(f"card:{a.card_fingerprint}") if a.card_fingerprint else None
    if card is not None and len(card.customer_ids() - {me}) >= 2:
        yield _signal(policy, "CARD_ON_OTHER_ACCOUNTS", "This card was used on several other accounts.")


def risk_signals(p: CustomerProfile, a: PaymentAttempted, links: Mapping[str, IdentityNode],
                 policy: CheckoutPolicy) -> list[Signal]:
    return [*history_signals(p, a, policy), *linked_signals(p, a, links, policy), *identity_signals(p, a, policy)]


def perks_for(p: CustomerProfile, a: PaymentAttempted, policy: CheckoutPolicy) -> tuple[tuple[str, ...], Reason | None]:
    """A store customer's first online order gets the welcome perk."""
    if p.store_orders > 0 and p.first_online_order == a.order_id and a.initiator == "customer":
        return (policy.first_online_order_perk,), Reason(
            code="FIRST_ONLINE_ORDER", detail="A store customer's first online order: welcome perk granted.")
    return (), None


def decide(profile: CustomerProfile, links: Mapping[str, IdentityNode], attempt: PaymentAttempted,
           policy: CheckoutPolicy, now: int, policy_version: str) -> PaymentDecision:
    signals = risk_signals(profile, attempt, links, policy)
    score = max(0, min(100, policy.base_score + sum(s.points for s in signals)))
    sca = choose_sca(profile, attempt, score, policy)
    if score >= policy.decline_from:
        outcome, lead = "decline", Reason(code="DECLINE", detail=f"Risk {score} is in the decline band.")
    elif score >= policy.challenge_from:
        outcome, lead = "challenge", Reason(code="STEP_UP", detail=f"Risk {score}: ask the customer to authenticate.")
    elif sca.strategy == "challenge":
        outcome, lead = "challenge", Reason(code="APPROVE_WITH_AUTHENTICATION",
                                            detail=f"Risk {score} is low; SCA asks for authentication.")
    else:
        outcome, lead = "approve", Reason(code="APPROVE", detail=f"Risk {score} is low.")
    strategy = "challenge" if outcome == "challenge" else sca.strategy
    ranking, method_reason = rank_methods(profile, profile.home_country or attempt.customer_country, policy)
    perks, perk_reason = perks_for(profile, attempt, policy) if outcome != "decline" else ((), None)
    ordered = sorted(signals, key=lambda s: -abs(s.points) if outcome == "approve" else -s.points)
    signal_reasons = [Reason(code=s.code, detail=s.detail) for s in ordered]
    sca_drove = outcome == "challenge" and score < policy.challenge_from  # SCA, not risk, asked for the challenge
    reasons = (lead, *((sca.reason,) if sca_drove else ()), *((perk_reason,) if perk_reason else ()),
               *signal_reasons, *(() if sca_drove else (sca.reason,)), method_reason)
    return PaymentDecision(
        event_id=f"{attempt.event_id}:decision", customer_id=attempt.customer_id, occurred_at=attempt.occurred_at,
        payment_id=attempt.payment_id, source_event_id=attempt.event_id, outcome=outcome,  # type: ignore[arg-type]
        sca_strategy=strategy, exemption=sca.exemption if outcome == "approve" else None, risk_score=score,
        recommended_method=ranking[0], method_ranking=ranking, perks=perks, reasons=reasons,
        policy_version=policy_version,
    )
