"""Cutting a compressed history into waves (pipeline/sim/pacing.py): nothing lost, nothing reordered, no races."""

from __future__ import annotations

from pipeline.sim import generate
from pipeline.sim.pacing import days, waves

T0 = 1_760_000_000_000


def test_pacing_keeps_every_event_and_never_mixes_a_customers_topics_in_a_wave() -> None:
    events = [x.event for x in generate(5, 20, T0, 30)]
    cut = waves(events)
    assert len(cut) > 1
    assert [e for w in cut for e in w] == events
    for w in cut:
        per: dict[str, set[str]] = {}
        for e in w:
            per.setdefault(e.customer_id, set()).add(e.TOPIC)
        assert all(len(t) == 1 for t in per.values())
    assert [e for d in days(events) for e in d] == events


def test_a_review_verdict_stands_alone_and_a_claim_on_a_shared_device_ends_its_wave() -> None:
    from agents.rules.events import RefundRequested, ReviewVerdict
    from pipeline.policies import load_policy

    events = [x.event for x in generate(5, 20, T0, 30, reviewed_under=load_policy())]
    cut = waves(events)
    verdicts = [w for w in cut if any(isinstance(e, ReviewVerdict) for e in w)]
    assert verdicts and all(len(w) == 1 for w in verdicts)
    boxes = [e for e in events if isinstance(e, RefundRequested) and e.reason == "empty_box"]
    later = [w for w in cut if w[-1] in boxes[1:]]  # the serial claimant's aliases share one device
    assert len(later) == len(boxes) - 1, "every claim after the first on the shared device closes its wave"
