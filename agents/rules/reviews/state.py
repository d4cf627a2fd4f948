"""What a customer's state keeps about reviews: the open cases awaiting a person, the verdicts given, and the flags
received from linked accounts. Frozen and bounded; the functions here build new values. Pure.

A case opens when checkout challenges a payment in the grey zone or a refund goes to manual review, and closes
with a verdict on it or after [reviews] case_expiry_days. The open cases are also what the `review-queue` table
holds for the customer (`OpenReviews`), so the explorer lists every case without reading every customer.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.rules.dataclass_replace import replace
from agents.rules.events import AccountFlagged, Reason, ReviewVerdict
from agents.rules.reviews.policy import ReviewPolicy

MAX_OPEN_CASES = 10  # per customer; the oldest leaves the queue first
MAX_VERDICTS = 20  # one per case, newest first
MAX_FLAGS = 10  # flags from linked accounts, newest first
MAX_CASE_REASONS = 4  # the decision's leading reasons, kept for the reviewer
MAX_CASE_IDENTIFIERS = 8


@dataclass(frozen=True, slots=True)
class ReviewCase:
    """One case awaiting a reviewer."""

    case_id: str  # payment_id or refund_id
    case_kind: str  # payment | refund
    opened_at: int
    amount_minor: int
    currency: str
    reasons: tuple[Reason, ...] = ()  # the decision's leading reasons
    identifiers: tuple[str, ...] = ()  # its strong identifiers (identity-index keys), to flag linked accounts


@dataclass(frozen=True, slots=True)
class VerdictMark:
    """A verdict given on one of the customer's cases (the reviewer's note is never kept)."""

    case_id: str
    case_kind: str
    verdict: str  # confirmed_fraud | legitimate | abuse | not_abuse
    at: int
    event_id: str


@dataclass(frozen=True, slots=True)
class Flag:
    """A linked account was judged: this one shares a strong identifier with it."""

    cause: str  # serial_refund_abuse | confirmed_fraud | confirmed_abuse
    via: tuple[str, ...]  # identifier kinds shared
    at: int
    source_event_id: str


@dataclass(frozen=True, slots=True)
class ReviewState:
    open: tuple[ReviewCase, ...] = ()  # oldest first
    verdicts: tuple[VerdictMark, ...] = ()  # newest first, one per case
    flags: tuple[Flag, ...] = ()  # newest first

    def case(self, case_id: str, case_kind: str) -> ReviewCase | None:
        return next((c for c in self.open if c.case_id == case_id and c.case_kind == case_kind), None)

    def verdict_on(self, case_id: str, case_kind: str) -> VerdictMark | None:
        return next((v for v in self.verdicts if v.case_id == case_id and v.case_kind == case_kind), None)


@dataclass(frozen=True, slots=True)
class OpenReviews:
    """The `review-queue` table's value: one customer's open cases."""

    customer_id: str
    cases: tuple[ReviewCase, ...] = ()


def open_case(r: ReviewState, case: ReviewCase) -> ReviewState:
    """Queue a case, unless it is queued already or a reviewer has judged it."""
    if r.case(case.case_id, case.case_kind) is not None or r.verdict_on(case.case_id, case.case_kind) is not None:
        return r
    return replace(r, open=(*r.open, case)[-MAX_OPEN_CASES:])


def expire(r: ReviewState, now: int, policy: ReviewPolicy) -> ReviewState:
    """Drop the open cases nobody judged within the expiry (a case from later than `now` stays)."""
    kept = tuple(c for c in r.open if now - c.opened_at <= policy.case_expiry_ms)
    return r if len(kept) == len(r.open) else replace(r, open=kept)


def apply_verdict(r: ReviewState, v: ReviewVerdict) -> tuple[ReviewState, ReviewCase | None]:
    """Close the case (if open) and remember the verdict, the latest per case; returns the case it closed."""
    case = r.case(v.case_id, v.case_kind)
    mark = VerdictMark(case_id=v.case_id, case_kind=v.case_kind, verdict=v.verdict, at=v.occurred_at,
                       event_id=v.event_id)
    earlier = r.verdict_on(v.case_id, v.case_kind)
    if earlier is not None and (earlier.at, earlier.event_id) > (mark.at, mark.event_id):
        mark = earlier  # a verdict given before the one already applied does not overturn it
    others = (m for m in r.verdicts if (m.case_id, m.case_kind) != (v.case_id, v.case_kind))
    verdicts = tuple(sorted((mark, *others), key=lambda m: (-m.at, m.case_id)))[:MAX_VERDICTS]
    still_open = tuple(c for c in r.open if c is not case)
    return replace(r, open=still_open, verdicts=verdicts), case


def apply_flag(r: ReviewState, f: AccountFlagged) -> ReviewState:
    """Remember a flag from a linked account (once per source event)."""
    if any(x.source_event_id == f.source_event_id for x in r.flags):
        return r
    flag = Flag(cause=f.cause, via=f.via, at=f.occurred_at, source_event_id=f.source_event_id)
    return replace(r, flags=tuple(sorted((flag, *r.flags), key=lambda x: (-x.at, x.source_event_id)))[:MAX_FLAGS])
