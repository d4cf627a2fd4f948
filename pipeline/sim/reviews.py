"""The shop's reviewers: a verdict on every case the rules queue for review, judged from the simulation's ground truth.

A grey-zone checkout challenge is judged `confirmed_fraud` when the attempt was fraud, else `legitimate`; a refund
sent to manual review `abuse` when the claim was abusive, else `not_abuse`. Which cases are queued depends on the
decisions, so the history is run through the pure rules once (agents.rules.replay, with the policy the caller will
run) to find them. A reviewer answers about a day later (REVIEW_DELAY_MS), so the verdict falls on a later day than
its case. Deterministic: no randomness, ids from the world's counter.
"""

from __future__ import annotations

from agents.rules.checkout import is_grey_zone
from agents.rules.events import PaymentDecision, RefundDecision, ReviewVerdict
from agents.rules.journey import Context
from agents.rules.policy import Policy
from agents.rules.replay import replay
from pipeline.sim.world import HOUR, Labelled, World

REVIEW_DELAY_MS = 26 * HOUR
REVIEWER = "sim-reviewer-1"
SIM_CONTEXT = Context(link_secret=b"simulated reviews: decisions do not depend on the link secret")


def review_cases(w: World, history: list[Labelled], policy: Policy, horizon: int) -> None:
    """Emit a ReviewVerdict for every case queued while the rules decide `history`, if its answer is due before
    `horizon`."""
    labels = {x.event.event_id: x for x in history}
    for out in replay([x.event for x in history], policy, SIM_CONTEXT, until=horizon):
        if isinstance(out, PaymentDecision) and is_grey_zone(out):
            kind, case_id = "payment", out.payment_id
        elif isinstance(out, RefundDecision) and out.outcome == "manual_review":
            kind, case_id = "refund", out.refund_id
        else:
            continue
        source, at = labels.get(out.source_event_id), out.occurred_at + REVIEW_DELAY_MS
        if source is None or at >= horizon:
            continue
        verdict = ("confirmed_fraud" if source.fraud else "legitimate") if kind == "payment" else (
            "abuse" if source.fraud else "not_abuse")
        w.emit(ReviewVerdict(event_id=w.eid(), customer_id=out.customer_id, occurred_at=at, case_id=case_id,
                             case_kind=kind, verdict=verdict, reviewer=REVIEWER),  # type: ignore[arg-type]
               source.actor, source.story, source.fraud)
