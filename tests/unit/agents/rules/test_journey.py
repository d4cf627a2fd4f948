"""The journey step that the live worker and `journey replay` share: dedup, due timers, links, determinism."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import replace
from typing import Any

from agents.rules.events import (
    Chargeback,
    DeviceSeen,
    DueAction,
    IdentityLinked,
    PaymentAttempted,
    PaymentFailed,
    PaymentSucceeded,
)
from agents.rules.identity import MAX_CUSTOMERS, MAX_MARKS, apply_link, merge
from agents.rules.journey import Context, CustomerState, handle, remembered_id
from agents.rules.replay import compare, replay, transitions
from pipeline.policies import load_policy
from pipeline.sim import SEED_STORIES, generate

POLICY = load_policy()
CTX = Context(link_secret=b"test")
T0 = 1_760_000_000_000
HOUR = 3_600_000


def attempt(at: int = T0) -> PaymentAttempted:
    return PaymentAttempted(event_id="a1", customer_id="c1", occurred_at=at, payment_id="p1", order_id="o1",
                            amount_minor=5_000, currency="EUR", method="card", initiator="customer",
                            card_fingerprint="card-1", card_issuer="bank", card_country="GB", customer_country="GB",
                            sca_applies=False, network="visa", device_id="d1")


def failed(at: int) -> PaymentFailed:
    return PaymentFailed(event_id="f1", customer_id="c1", occurred_at=at, payment_id="p1",
                         decline_code="insufficient_funds", network="visa", network_response_code="51",
                         initiator="customer", order_id="o1")


def run(events: list[Any]) -> tuple[CustomerState | None, list[Any]]:
    state, out = None, []
    for e in events:
        step = handle(state, e, {}, POLICY, CTX)
        state = step.state
        out += step.outputs
    return state, out


def test_an_event_seen_twice_is_processed_once() -> None:
    state, out = run([attempt()])
    again = handle(state, attempt(), {}, POLICY, CTX)
    assert again.duplicate and again.outputs == () and again.state == state
    assert [type(o).__name__ for o in out] == ["PaymentDecision"]


def test_long_event_ids_are_remembered_as_short_digests_and_still_caught_once() -> None:
    uuid = "0b7f3c9e-5d2a-4f61-9c3e-8a1b2c3d4e5f"
    first = replace(attempt(), event_id=uuid)
    state, _ = run([first])
    assert state is not None and state.recent_event_ids == (remembered_id(uuid),)
    assert len(remembered_id(uuid)) == 12 and remembered_id("a1") == "a1"
    assert handle(state, first, {}, POLICY, CTX).duplicate
    assert not handle(state, replace(first, event_id=uuid[:-1] + "0", payment_id="p2"), {}, POLICY, CTX).duplicate
    written_before = replace(state, recent_event_ids=(uuid,))  # a state of before kept the id itself
    assert handle(written_before, first, {}, POLICY, CTX).duplicate


def test_an_attempt_links_its_identifiers_for_the_index_in_one_record() -> None:
    step = handle(None, attempt(), {}, POLICY, CTX)
    ps = CTX.pseudonyms
    assert len(step.links) == 1
    assert set(step.links[0].identifiers) == {ps.identifier("device", "d1"), ps.identifier("card", "card-1")}


def test_a_sighting_links_no_ip_and_a_chargeback_marks_it() -> None:
    """No rule reads who was seen on an IP, only the chargebacks on it: a hot IP costs no link per attempt."""
    ps = CTX.pseudonyms
    ip = ps.identifier("ip", "192.0.2.10")
    seen = replace(attempt(), ip="192.0.2.10", shipping_address_id="addr-1")
    step = handle(None, seen, {}, POLICY, CTX)
    assert [r.kind for r in step.links] == ["seen"]
    assert set(step.links[0].identifiers) == {ps.identifier("device", "d1"), ps.identifier("card", "card-1"),
                                              ps.identifier("addr", "addr-1")}
    device = DeviceSeen(event_id="d-1", customer_id="c1", occurred_at=T0, device_id="d2", ip="192.0.2.10",
                        ip_country="GB", user_agent="ua")
    assert [r.identifiers for r in handle(None, device, {}, POLICY, CTX).links] == [(ps.identifier("device", "d2"),)]
    only_ip = replace(seen, event_id="a9", payment_id="p9", device_id=None, card_fingerprint=None,
                      shipping_address_id=None)
    assert handle(None, only_ip, {}, POLICY, CTX).links == ()
    charged = Chargeback(event_id="cb-1", customer_id="c1", occurred_at=T0 + HOUR, payment_id="p1",
                         reason="fraudulent", amount_minor=5_000)
    marked = handle(step.state, charged, {}, POLICY, CTX).links
    assert [r.kind for r in marked] == ["chargeback"] and ip in marked[0].identifiers


def test_a_link_that_changes_no_node_is_not_sent() -> None:
    first = handle(None, attempt(), {}, POLICY, CTX).links[0]
    nodes = {i: apply_link(None, i, first) for i in first.identifiers}
    later = replace(attempt(), event_id="a2", payment_id="p2", occurred_at=T0 + 3_600_000)
    assert handle(None, later, nodes, POLICY, CTX).links == ()  # the same customer, seen an hour ago on both
    much_later = replace(later, event_id="a3", occurred_at=T0 + 3 * 86_400_000)
    assert set(handle(None, much_later, nodes, POLICY, CTX).links[0].identifiers) == set(first.identifiers)


def test_identity_nodes_converge_whatever_order_their_links_arrive_in() -> None:
    import itertools

    recs = [
        IdentityLinked(event_id=f"e{n}", identifiers=("ip:1",), customer_id=f"c{n % 3}", occurred_at=T0 + n * 7 % 5,
                       kind=kind, reason="r", ref=f"ref{n % 2}")
        for n, kind in enumerate(("seen", "claim", "chargeback", "seen", "claim"))
    ]
    results = set()
    for order in itertools.permutations(recs):
        node = None
        for rec in order:
            node = apply_link(node, "ip:1", rec)
        results.add(node)
    assert len(results) == 1
    one = results.pop()
    assert one is not None and merge(one, one) == one


def test_a_hot_identifier_stays_bounded() -> None:
    node = None
    for n in range(500):
        rec = IdentityLinked(event_id=f"e{n}", identifiers=("ip:hot",), customer_id=f"c{n}", occurred_at=T0 + n,
                             kind="claim", ref=f"r{n}")
        node = apply_link(node, "ip:hot", rec)
    assert node is not None and len(node.customers) == MAX_CUSTOMERS and len(node.claims) == MAX_MARKS
    assert node.customers[0] == ("c499", T0 + 499)


def test_a_due_retry_fires_before_a_later_event_and_a_stale_due_action_fires_nothing() -> None:
    state, out = run([attempt(), failed(T0 + 1)])
    scheduled = [o for o in out if type(o).__name__ == "DunningStep" and o.action == "retry_scheduled"]
    assert scheduled and scheduled[0].due_at is not None
    due_at = scheduled[0].due_at
    later = PaymentSucceeded(event_id="s1", customer_id="c1", occurred_at=due_at + HOUR, payment_id="p1",
                             authentication="none", order_id="o1")
    step = handle(state, later, {}, POLICY, CTX)
    kinds = [(type(o).__name__, getattr(o, "action", "")) for o in step.outputs]
    assert kinds.index(("DunningStep", "retry_due")) < kinds.index(("PaymentRecovered", ""))
    stale = DueAction(event_id="x", customer_id="c1", occurred_at=due_at, case_id=scheduled[0].case_id,
                      action="retry", seq=1)
    assert handle(step.state, stale, {}, POLICY, CTX).outputs == ()


def test_replay_is_deterministic_and_decides_every_attempt_and_claim_once() -> None:
    events = [x.event for x in generate(3, 40, T0, 30)]
    first, second = list(replay(events, POLICY, CTX)), list(replay(list(reversed(events)), POLICY, CTX))
    assert [r.event_id for r in first] == [r.event_id for r in second]
    kinds = Counter(type(r).__name__ for r in first)
    assert kinds["PaymentDecision"] == sum(isinstance(e, PaymentAttempted) for e in events)
    assert kinds["RefundDecision"] == sum(type(e).__name__ == "RefundRequested" for e in events)
    assert len({r.event_id for r in first}) == len(first)


def test_compare_reports_the_decisions_another_policy_changes() -> None:
    events = [x.event for x in generate(3, 40, T0, 30)]
    base = list(replay(events, POLICY, CTX))
    strict = dataclasses.replace(POLICY, version="strict", checkout=dataclasses.replace(
        POLICY.checkout, challenge_from=19, decline_from=20))
    total, changes = compare(base, list(replay(events, strict, CTX)))
    assert total > 0 and changes and all(c.after != c.before for c in changes)
    assert compare(base, base) == (total, [])


def test_transitions_count_every_decision_by_its_outcome_before_and_after() -> None:
    events = [x.event for x in generate(3, 40, T0, 30)]
    base = list(replay(events, POLICY, CTX))
    strict = dataclasses.replace(POLICY, version="strict", checkout=dataclasses.replace(
        POLICY.checkout, challenge_from=19, decline_from=20))
    other = list(replay(events, strict, CTX))
    moved = transitions(base, other)
    total, changes = compare(base, other)
    assert sum(moved.values()) == total
    assert moved[("PaymentDecision", "approve", "decline")] > 0
    outcome_changes = [c for c in changes if c.before.split("/")[0] != c.after.split("/")[0]]
    assert sum(n for (_, b, a), n in moved.items() if b != a) == len(outcome_changes)
    assert all(b == a for (_, b, a) in transitions(base, base))


def test_the_simulation_is_deterministic_and_holds_every_seed_story() -> None:
    a, b = generate(9, 30, T0, 30), generate(9, 30, T0, 30)
    assert [x.event for x in a] == [x.event for x in b]
    assert [x.event for x in a] != [x.event for x in generate(10, 30, T0, 30)]
    assert {x.story for x in a} >= set(SEED_STORIES)
    assert [x.event.occurred_at for x in a] == sorted(x.event.occurred_at for x in a)
    assert len({x.event.event_id for x in a}) == len(a)
    assert 0 < sum(x.fraud for x in a) < len(a) / 4

