"""Offers that help a customer finish a failed payment: instalments for those short of funds on a larger
amount, otherwise a small time-limited discount after a few reminders.

Owns who may get an offer (customers in good standing, in a variant with offers on) and the budget (offers and
discount money per customer per window). The grant is remembered so that a recovery within its expiry is
credited to the offer. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.rules.dunning.policy import OfferPolicy
from agents.rules.events import Offer, OfferKind
from agents.rules.timeunits import DAY_MS, HOUR_MS

MAX_GRANTS = 20


@dataclass(frozen=True, slots=True)
class OfferGrant:
    offer_id: str
    case_id: str
    kind: OfferKind
    percent_off: int
    instalments: int
    discount_minor: int  # what the discount costs us; 0 for instalments
    made_at: int
    expires_at: int

    def to_offer(self) -> Offer:
        return Offer(offer_id=self.offer_id, kind=self.kind, percent_off=self.percent_off,
                     instalments=self.instalments, expires_at=self.expires_at)

    def honoured_at(self, at: int) -> bool:
        return at <= self.expires_at


@dataclass(frozen=True, slots=True)
class OfferAsk:
    """The case as an offer sees it."""

    case_id: str
    amount_minor: int
    wording: str
    reminder_no: int
    in_good_standing: bool
    variant_offers: bool
    has_offer: bool


def _budget_left(granted: tuple[OfferGrant, ...], now: int, policy: OfferPolicy) -> tuple[int, int]:
    """Offers and discount money still allowed in the trailing budget window."""
    recent = [g for g in granted if g.made_at > now - policy.budget_window_days * DAY_MS]
    return (policy.max_offers_per_window - len(recent),
            policy.max_discount_minor_per_window - sum(g.discount_minor for g in recent))


def _discount_percent(amount: int, cap: int, policy: OfferPolicy) -> int:
    """The configured percentage, lowered so that the discount stays within `cap`; 0 if nothing fits."""
    if amount <= 0 or cap <= 0:
        return 0
    return max(0, min(policy.discount_percent, cap * 100 // amount))


def choose_offer(ask: OfferAsk, granted: tuple[OfferGrant, ...], policy: OfferPolicy, now: int,
                 send_at: int) -> OfferGrant | None:
    if not (policy.enabled and ask.variant_offers and ask.in_good_standing) or ask.has_offer:
        return None
    offers_left, money_left = _budget_left(granted, now, policy)
    if offers_left <= 0:
        return None
    offer_id, expires_at = f"{ask.case_id}:offer:{ask.reminder_no}", send_at + policy.ttl_hours * HOUR_MS
    if ask.wording in policy.instalment_wordings and ask.amount_minor >= policy.instalments_min_amount_minor:
        return OfferGrant(offer_id=offer_id, case_id=ask.case_id, kind="instalments", percent_off=0,
                          instalments=policy.instalments, discount_minor=0, made_at=now,
                          expires_at=expires_at)
    if ask.reminder_no < policy.discount_from_reminder:
        return None
    percent = _discount_percent(ask.amount_minor, min(policy.max_discount_minor, money_left), policy)
    if percent < 1:
        return None
    return OfferGrant(offer_id=offer_id, case_id=ask.case_id, kind="discount", percent_off=percent,
                      instalments=0, discount_minor=ask.amount_minor * percent // 100, made_at=now,
                      expires_at=expires_at)


def remember_grant(granted: tuple[OfferGrant, ...], grant: OfferGrant, now: int,
                   policy: OfferPolicy) -> tuple[OfferGrant, ...]:
    """Newest first; grants older than the budget window no longer matter."""
    keep = tuple(g for g in granted if g.made_at > now - policy.budget_window_days * DAY_MS)
    return (grant, *keep)[:MAX_GRANTS]
