"""The simulated reviewers (pipeline/sim/reviews.py): a verdict on every queued case, from the ground truth."""

from __future__ import annotations

from agents.rules.checkout import is_grey_zone
from agents.rules.events import PaymentDecision, RefundDecision, ReviewVerdict
from agents.rules.journey import Context
from agents.rules.replay import replay
from pipeline.policies import load_policy
from pipeline.sim import generate
from pipeline.sim.reviews import REVIEW_DELAY_MS

POLICY = load_policy()
START = 1_760_000_000_000


def test_reviewers_judge_every_queued_case_a_day_later_from_the_ground_truth() -> None:
    plain = generate(3, 120, START, 30)
    reviewed = generate(3, 120, START, 30, reviewed_under=POLICY)
    verdicts = [x for x in reviewed if isinstance(x.event, ReviewVerdict)]
    assert [x for x in reviewed if not isinstance(x.event, ReviewVerdict)] == plain, "nothing else changes"
    assert reviewed == generate(3, 120, START, 30, reviewed_under=POLICY), "deterministic"
    queued = {}
    for out in replay([x.event for x in plain], POLICY, Context(link_secret=b"x")):
        if isinstance(out, PaymentDecision) and is_grey_zone(out):
            queued[out.payment_id] = out
        elif isinstance(out, RefundDecision) and out.outcome == "manual_review":
            queued[out.refund_id] = out
    assert verdicts and {x.event.case_id for x in verdicts} == {
        k for k, d in queued.items() if d.occurred_at + REVIEW_DELAY_MS < START + 30 * 86_400_000}
    for x in verdicts:
        v = x.event
        assert v.occurred_at == queued[v.case_id].occurred_at + REVIEW_DELAY_MS
        bad = {"payment": "confirmed_fraud", "refund": "abuse"}[v.case_kind]
        good = {"payment": "legitimate", "refund": "not_abuse"}[v.case_kind]
        assert v.verdict == (bad if x.fraud else good)
        assert v.note is None and v.customer_id == queued[v.case_id].customer_id
