"""Review verdicts, the review queue and flags that reach linked accounts.

- The queue (state.py): a grey-zone checkout challenge or a refund sent to manual review opens a case in the
  customer's state (`payment_case`, `refund_case`); a verdict or [reviews] case_expiry_days closes it.
- Verdicts (`on_verdict`): a ReviewVerdict closes its case and is remembered; what it means for later decisions is
  `standing` (standing.py): confirmed fraud declines at checkout, confirmed fraud or abuse withholds instant refunds
  and offers, "legitimate" earns trust at checkout, "not abuse" (or "legitimate") on a refund clears that claim
  (agents.rules.refunds.clear_claim). Confirmed fraud or abuse also flags the linked accounts.
- Linked flags (flags.py): AccountFlagged records for the accounts sharing a device, card or e-mail with a judged
  one; folded there by `apply_flag`.

This package imports no other rule family (checkout and refunds read its standing), so it can be imported by them.
"""

from __future__ import annotations

from collections.abc import Mapping

from agents.rules.events import (
    AccountFlagged,
    FlagCause,
    PaymentAttempted,
    PaymentDecision,
    RefundDecision,
    RefundRequested,
    ReviewVerdict,
)
from agents.rules.identity import STRONG_KINDS, IdentityNode, kind_of
from agents.rules.ledger import Ledger
from agents.rules.reviews.flags import flags_for_linked
from agents.rules.reviews.policy import ReviewPolicy
from agents.rules.reviews.standing import NO_STANDING, Standing, standing
from agents.rules.reviews.state import (
    MAX_CASE_IDENTIFIERS,
    MAX_CASE_REASONS,
    OpenReviews,
    ReviewCase,
    ReviewState,
    apply_flag,
    apply_verdict,
    expire,
    open_case,
)

__all__ = ["CLEARING", "FLAGGING", "NO_STANDING", "OpenReviews", "ReviewCase", "ReviewPolicy", "ReviewState",
           "Standing", "apply_flag", "case_identifiers", "expire", "flags_for_linked", "on_verdict", "open_case",
           "payment_case", "refund_case", "standing"]

FLAGGING: Mapping[str, FlagCause] = {"confirmed_fraud": "confirmed_fraud", "abuse": "confirmed_abuse"}
"""Verdicts that flag the customer's linked accounts, and the cause those flags give."""
CLEARING = frozenset({"not_abuse", "legitimate"})
"""Verdicts that, on a refund, clear the claim of abuse suspicion."""


def strong(identifiers: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(i for i in identifiers if kind_of(i) in STRONG_KINDS)[:MAX_CASE_IDENTIFIERS]


def payment_case(decision: PaymentDecision, attempt: PaymentAttempted, identifiers: tuple[str, ...]) -> ReviewCase:
    """The case a grey-zone challenge opens (the caller knows it is one: agents.rules.checkout.is_grey_zone)."""
    return ReviewCase(case_id=attempt.payment_id, case_kind="payment", opened_at=decision.occurred_at,
                      amount_minor=attempt.amount_minor, currency=attempt.currency,
                      reasons=decision.reasons[:MAX_CASE_REASONS], identifiers=strong(identifiers))


def refund_case(decision: RefundDecision, request: RefundRequested, identifiers: tuple[str, ...]) -> ReviewCase | None:
    """The case a refund sent to manual review opens; None for any other outcome."""
    if decision.outcome != "manual_review":
        return None
    return ReviewCase(case_id=request.refund_id, case_kind="refund", opened_at=decision.occurred_at,
                      amount_minor=request.amount_minor, currency=request.currency,
                      reasons=decision.reasons[:MAX_CASE_REASONS], identifiers=strong(identifiers))


def case_identifiers(r: ReviewState, payments: Ledger, v: ReviewVerdict) -> tuple[str, ...]:
    """The identity-index keys a verdict needs: the strong identifiers of its case, when it flags linked accounts.
    An open case kept them; a payment judged after its case left the queue still has them in the ledger."""
    if v.verdict not in FLAGGING:
        return ()
    case = r.case(v.case_id, v.case_kind)
    if case is not None:
        return case.identifiers
    if v.case_kind == "payment":
        ref = payments.find(v.case_id)
        return strong(ref.identifiers) if ref is not None else ()
    return ()


def on_verdict(r: ReviewState, v: ReviewVerdict, links: Mapping[str, IdentityNode],
               policy: ReviewPolicy) -> tuple[ReviewState, tuple[AccountFlagged, ...]]:
    """Fold a verdict: its case closes, the verdict is remembered, and confirmed fraud or abuse flags the accounts
    linked through the case's strong identifiers (`links`: their index nodes, as `case_identifiers` named them)."""
    r, _ = apply_verdict(r, v)
    cause = FLAGGING.get(v.verdict)
    if cause is None:
        return r, ()
    return r, flags_for_linked(v.customer_id, links, cause, v.event_id, v.occurred_at, policy)
