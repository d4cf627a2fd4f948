"""What the explorer shows of a customer, shaped from their state and their kept records: pure, no I/O.

`customer_view(state, records, links, policy, now, mask)` is the JSON body of `GET /api/customers/{id}`: the profile
facts the rules read, standing and flags with their reasons, open dunning cases with their next due action, refund
history and linked claims, the last decisions and a timeline of events and outputs, each with a sentence.

No identifier leaves here raw: devices, IPs, addresses, cards, e-mails and customer ids go through `mask` (a keyed
pseudonym, the same on every worker that shares the secret, so one device on two accounts shows the same token), and
fields that hold personal data (names, e-mails, user agents, signed payment links) are never read at all.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from agents.rules import checkout, refunds
from agents.rules.events import (
    AuthenticationResult,
    Chargeback,
    CustomerPreferencesUpdated,
    DeviceSeen,
    DunningStep,
    Notification,
    OrderDelivered,
    OrderPlaced,
    PaymentAttempted,
    PaymentDecision,
    PaymentFailed,
    PaymentRecovered,
    PaymentSucceeded,
    RefundDecision,
    RefundIssued,
    RefundRequested,
)
from agents.rules.identity import IdentityNode, identifier
from agents.rules.journey import CustomerState, in_good_standing, standing_of
from agents.rules.policy import Policy
from agents.rules.profile import faded_chargebacks
from agents.rules.profile.records import Money, Seen
from agents.rules.refunds.links import prior_claims
from agents.rules.timeunits import DAY_MS, iso_utc

Mask = Callable[[str, str | None], str | None]
"""mask(kind, value) -> a pseudonym such as `device·3fa9c1d2` (None for no value)."""

LAST_DECISIONS = 10
UNREADABLE = "unreadable"  # a kept record that no schema reads: shown as such, never its bytes
MISSING = {"error": "no such customer"}  # the one body of every miss: says nothing about what exists


def masker(secret: bytes) -> Mask:
    """Keyed pseudonyms: HMAC-SHA256 of kind and value, 8 hex digits (a plain hash of an IP could be reversed)."""
    def mask(kind: str, value: str | None) -> str | None:
        if not value:
            return None
        digest = hmac.new(secret, f"explorer|{kind}|{value}".encode(), hashlib.sha256).hexdigest()
        return f"{kind}·{digest[:8]}"

    return mask


def money(minor: int | None, currency: str | None) -> str:
    if minor is None or not currency:
        return "an unknown amount"
    return f"{minor / 100:,.2f} {currency}"


def _when(ms: int | None) -> str | None:
    return None if ms is None else iso_utc(ms)


def _totals(amounts: Iterable[Money]) -> list[str]:
    return [money(m.minor, m.currency) for m in amounts]


def _seen(kind: str, entries: Sequence[Seen], mask: Mask, raw: bool = False) -> list[dict[str, Any]]:
    """Identifiers with their counts and first/last seen, most used first (`raw`: countries and methods, which
    identify no one)."""
    ordered = sorted(entries, key=lambda e: (-e.succeeded, -e.count, -e.last_at))
    return [{"value": e.value if raw else mask(kind, e.value), "count": e.count, "succeeded": e.succeeded,
             "failed": e.failed, "first_seen": _when(e.first_at), "last_seen": _when(e.last_at),
             "trusted_since": _when(e.first_succeeded_at)} for e in ordered]


def profile_view(state: CustomerState, mask: Mask) -> dict[str, Any]:
    p = state.profile
    return {
        "home_country": p.home_country,
        "first_seen": _when(p.first_seen_at),
        "devices": _seen("device", p.devices, mask),
        "countries": _seen("country", p.ip_countries, mask, raw=True),
        "ips": _seen("ip", p.ips, mask),
        "addresses": _seen("addr", p.addresses, mask),
        "cards": _seen("card", p.cards, mask),
        "methods": _seen("method", p.methods, mask, raw=True),
        "sca_by_issuer": [{
            "issuer": i.issuer, "cards": [mask("card", c) for c in i.cards],
            "exemptions_requested": i.exemptions_requested, "exemptions_accepted": i.exemptions_accepted,
            "exemptions_rejected": i.exemptions_rejected, "challenges_passed": i.challenges_passed,
            "challenges_failed": i.challenges_failed, "challenges_abandoned": i.challenges_abandoned,
        } for i in p.issuers],
        "challenges": {"passed": p.challenges.passed, "failed": p.challenges.failed,
                       "abandoned": p.challenges.abandoned},
        "payments": {"attempted": p.payments.attempted, "succeeded": p.payments.succeeded,
                     "failed": p.payments.failed, "fraud_blocks": p.payments.fraud_blocks,
                     "paid": _totals(p.payments.paid), "first_succeeded": _when(p.payments.first_succeeded_at)},
        "orders": {"online": p.online_orders.count, "store": p.store_orders.count, "delivered": p.orders_delivered},
        "chargebacks": p.chargebacks,
        "refunds_requested": p.refunds_requested,
    }


def standing_view(state: CustomerState, policy: Policy, now: int, mask: Mask) -> dict[str, Any]:
    """Whether the customer is in good standing at `now`, and every flag in force with its reason in words."""
    p, h = state.profile, state.refunds
    flags: list[dict[str, str]] = []
    if checkout.has_bad_history(p, policy.checkout, now):
        weight = faded_chargebacks(p, now, policy.checkout.chargeback_half_life_ms)
        flags.append({"code": "BAD_HISTORY", "text": (
            f"Own chargebacks still weigh {weight:.2f} (bad from {policy.checkout.bad_history_from:g}), or "
            f"{p.payments.fraud_blocks} payment(s) were blocked as fraud: no offers, no instant refunds.")})
    if refunds.is_refund_abuser(h, policy.refunds, now):
        since = f" (judged so on {iso_utc(h.abuse_flagged_at)})" if h.abuse_flagged_at is not None else ""
        flags.append({"code": "REFUND_ABUSER", "text": f"Treated as a serial refund claimant{since}: claims go to "
                                                      "review, no instant refunds, no offers."})
    if p.device_alert is not None:
        a = p.device_alert
        where = a.country or "an unknown country"
        flags.append({"code": "NEW_DEVICE_ALERT", "text": (
            f"A device new to the account ({mask('device', a.device_id)}) appeared from {where} on "
            f"{iso_utc(a.at)}: a possible account takeover.")})
    if state.dunning.blocked_until > now:
        flags.append({"code": "DUNNING_BLOCKED", "text": (
            f"No new dunning case opens before {iso_utc(state.dunning.blocked_until)} (after a chargeback or a "
            "fraud block).")})
    for card, until in state.dunning.card_holds:
        if until > now:
            flags.append({"code": "CARD_HELD", "text": (
                f"Card {mask('card', card)} is never retried before {iso_utc(until)} (Mastercard advice 03/21).")})
    judged = standing_of(state, policy, now)  # reviewers' verdicts and flags from linked accounts
    for reason in (judged.fraud, judged.abuse, judged.linked, judged.legitimate):
        if reason is not None:
            flags.append({"code": reason.code, "text": reason.detail})
    return {"good_standing": in_good_standing(state, policy, now), "flags": flags}


def dunning_view(state: CustomerState) -> list[dict[str, Any]]:
    cases = []
    for c in state.dunning.cases:
        nxt = min(c.pending, key=lambda s: (s.due_at, s.seq), default=None)
        cases.append({
            "case_id": c.case_id, "order_id": c.order_id, "opened_at": iso_utc(c.opened_at),
            "ends_at": iso_utc(c.ends_at), "amount": money(c.amount_minor, c.currency),
            "decline_class": c.decline_class, "reason_code": c.reason_code, "retryable": c.retryable,
            "variant": c.variant, "failures": c.failures, "retries_fired": c.retries_fired,
            "reminders_sent": c.reminders_sent, "asked_new_method": c.asked_new_method,
            "offer": None if c.offer is None else {"kind": c.offer.kind, "percent_off": c.offer.percent_off,
                                                   "instalments": c.offer.instalments,
                                                   "expires_at": iso_utc(c.offer.expires_at)},
            "next_action": None if nxt is None else {"action": nxt.action, "due_at": iso_utc(nxt.due_at)},
        })
    return cases


def customer_identifiers(state: CustomerState, records: Sequence[Any] = ()) -> tuple[str, ...]:
    """Identity-index keys of the customer (devices, addresses, cards, and claim e-mails in the kept records):
    the nodes whose claims may link other accounts to them."""
    p = state.profile
    found = [identifier(kind, e.value) for kind, entries in (("device", p.devices), ("addr", p.addresses),
                                                             ("card", p.cards)) for e in entries]
    found += [identifier("email", r.claimant_email) for r in records if isinstance(r, RefundRequested)]
    return tuple(dict.fromkeys(i for i in found if i))


def refunds_view(state: CustomerState, links: Mapping[str, IdentityNode], policy: Policy, now: int,
                 mask: Mask) -> dict[str, Any]:
    h = state.refunds
    prior = prior_claims(h, links, state.customer_id, "", policy.refunds, now)
    linked = [{"customer": mask("customer", m.customer_id), "ref": m.ref, "reason": m.reason, "at": iso_utc(m.at)}
              for m in prior.claims if m.customer_id != state.customer_id]
    return {
        "orders": h.orders_total, "delivered": h.delivered_total, "claims_total": h.claims_total,
        "refunds_issued": h.refunds_issued, "refunded": [money(minor, cur) for cur, minor in h.refunded],
        "claims": [{"refund_id": c.refund_id, "order_id": c.order_id, "reason": c.label,
                    "amount": money(c.amount_minor, c.currency), "at": iso_utc(c.at),
                    "issued_to": c.issued_to, "issued_at": _when(c.issued_at)} for c in h.claims],
        "linked_claims": linked,
        "linked_accounts": prior.other_accounts,
        "linked_via": list(prior.via),
        "lookback_days": policy.refunds.lookback_days,
        "tenure_days": max(0, (now - h.first_seen) // DAY_MS) if h.first_seen else 0,
    }


def _reasons(reasons: Iterable[Any]) -> list[dict[str, str]]:
    return [{"code": r.code, "text": r.detail} for r in reasons]


def describe(record: Any, mask: Mask) -> dict[str, Any]:
    """One timeline entry: when, what (type, input or output), a sentence, and the reasons of a decision."""
    if record is None:
        return {"at": None, "type": UNREADABLE, "direction": "input", "text": (
            "A message no schema could read: it went to its topic's dead-letter topic and changed nothing.")}
    entry: dict[str, Any] = {"at": iso_utc(record.occurred_at), "type": type(record).__name__,
                             "direction": "output" if isinstance(record, _OUTPUTS) else "input"}
    entry["text"] = _sentence(record, mask)
    if isinstance(record, PaymentDecision | RefundDecision):
        entry["outcome"] = record.outcome
        entry["reasons"] = _reasons(record.reasons)
        entry["policy_version"] = record.policy_version
    return entry


_OUTPUTS = (PaymentDecision, DunningStep, Notification, PaymentRecovered, RefundDecision)


def _sentence(r: Any, mask: Mask) -> str:
    if isinstance(r, PaymentAttempted):
        where = f" from {r.ip_country}" if r.ip_country else ""
        card = f", card {mask('card', r.card_fingerprint)} ({r.card_issuer or 'unknown issuer'})" \
            if r.card_fingerprint else ""
        device = f" on device {mask('device', r.device_id)}" if r.device_id else ""
        return (f"Payment {r.payment_id} attempted: {money(r.amount_minor, r.currency)} by {r.method}, "
                f"{r.channel}, {r.initiator}-initiated{where}{device}{card}.")
    if isinstance(r, PaymentSucceeded):
        exemption = f", exemption {r.exemption}" if r.exemption else ""
        return f"Payment {r.payment_id} succeeded (authentication: {r.authentication}{exemption})."
    if isinstance(r, PaymentFailed):
        advice = f", merchant advice {r.merchant_advice_code}" if r.merchant_advice_code else ""
        return f"Payment {r.payment_id} failed: decline code {r.decline_code} on {r.network}{advice}."
    if isinstance(r, AuthenticationResult):
        asked = ""
        if r.exemption_requested:
            answer = {True: "accepted", False: "rejected"}.get(r.exemption_accepted, "unanswered")  # type: ignore[arg-type]
            asked = f"; exemption {r.exemption_requested} {answer} by the issuer"
        return f"3-D Secure on payment {r.payment_id}: {r.challenge_outcome}{asked}."
    if isinstance(r, Chargeback):
        return f"Chargeback on payment {r.payment_id}: {r.reason}."
    if isinstance(r, DeviceSeen):
        return f"Device {mask('device', r.device_id)} seen from {r.ip_country} (IP {mask('ip', r.ip)})."
    if isinstance(r, OrderPlaced):
        return (f"Order {r.order_id} placed ({r.channel}): {money(r.amount_minor, r.currency)}, "
                f"{len(r.items)} item(s).")
    if isinstance(r, OrderDelivered):
        return f"Order {r.order_id} delivered."
    if isinstance(r, RefundRequested):
        return (f"Refund {r.refund_id} requested for order {r.order_id}: {money(r.amount_minor, r.currency)}, "
                f"reason '{r.reason}'.")
    if isinstance(r, RefundIssued):
        return f"Refund {r.refund_id} issued to {r.destination}."
    if isinstance(r, CustomerPreferencesUpdated):
        return f"Preferences updated: channels {', '.join(r.channels) or 'none'}, locale {r.locale}."
    if isinstance(r, PaymentDecision):
        exemption = f", exemption {r.exemption}" if r.exemption else ""
        return (f"Checkout decision on payment {r.payment_id}: {r.outcome} (risk {r.risk_score}, "
                f"{r.sca_strategy}{exemption}); offer {r.recommended_method} first.")
    if isinstance(r, RefundDecision):
        return (f"Refund decision on {r.refund_id}: {r.outcome.replace('_', ' ')}, {r.return_window_days}-day "
                f"return window{f', {r.linked_claims} linked claim(s)' if r.linked_claims else ''}.")
    if isinstance(r, DunningStep):
        due = f", due {iso_utc(r.due_at)}" if r.due_at is not None else ""
        return f"Dunning case {r.case_id}: {r.action.replace('_', ' ')}{due}. {r.detail}".strip()
    if isinstance(r, Notification):
        offer = f" with an offer ({r.offer.kind})" if r.offer is not None else ""
        return f"Notification '{r.template}' by {r.channel}{offer}, to send at {iso_utc(r.send_at)}."
    if isinstance(r, PaymentRecovered):
        hours = r.time_to_recover_ms / 3_600_000
        return (f"Payment {r.payment_id} recovered by {r.recovered_by.replace('_', ' ')} after {hours:.1f} h: "
                f"{money(r.amount_minor, r.currency)}.")
    return f"{type(r).__name__}."


def _order(record: Any) -> tuple[int, int]:
    return (record.occurred_at, isinstance(record, _OUTPUTS)) if record is not None else (1 << 62, 0)


def customer_view(state: CustomerState, records: Sequence[Any], links: Mapping[str, IdentityNode], policy: Policy,
                  now: int, mask: Mask, last_decisions: int = LAST_DECISIONS) -> dict[str, Any]:
    """The explorer's picture of one customer. `records`: their kept records, decoded (None for unreadable ones),
    oldest first as kept; `links`: identity-index nodes of `customer_identifiers(state, records)`."""
    ordered = sorted(records, key=_order)
    decisions = [describe(r, mask) for r in ordered if isinstance(r, PaymentDecision | RefundDecision)]
    return {
        "customer": mask("customer", state.customer_id),
        "as_of": iso_utc(now),
        "policy_version": policy.version,
        "standing": standing_view(state, policy, now, mask),
        "profile": profile_view(state, mask),
        "dunning": dunning_view(state),
        "refunds": refunds_view(state, links, policy, now, mask),
        "decisions": decisions[::-1][:last_decisions],
        "timeline": [describe(r, mask) for r in ordered],
    }
