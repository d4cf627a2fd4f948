"""What the explorer shows of a customer: the facts the rules read, flags with reasons, decisions with their reasons
and policy version, dunning and refunds, a timeline in words; never a raw identifier or a name."""

from __future__ import annotations

import json
from typing import Any

from agents.rules.events import PaymentDecision, RefundDecision, RefundRequested
from agents.rules.identity import IdentityNode
from agents.rules.journey import Context, CustomerState
from agents.rules.refunds.history import SERIAL_CLAIMS
from agents.rules.replay import replay
from pipeline.explorer.views import MISSING, customer_identifiers, customer_view, describe, masker
from pipeline.policies import load_policy
from pipeline.sim import story_events

POLICY = load_policy()
CTX = Context(link_secret=b"test")
MASK = masker(b"explorer-test")
PERSONAL = ("device_id", "ip", "shipping_address_id", "card_fingerprint", "claimant_email", "claimant_name", "name",
            "user_agent")


def story(name: str) -> tuple[dict[str, CustomerState], dict[str, IdentityNode], list[Any], list[Any]]:
    events = [x.event for x in story_events(name)]
    states: dict[str, CustomerState] = {}
    index: dict[str, IdentityNode] = {}
    outputs = list(replay(events, POLICY, CTX, states=states, index=index))
    return states, index, events, outputs


def view_of(cid: str, states: dict[str, CustomerState], index: dict[str, IdentityNode], events: list[Any],
            outputs: list[Any], now: int | None = None) -> dict[str, Any]:
    records = [r for r in (*events, *outputs) if r.customer_id == cid]
    links = {i: index[i] for i in customer_identifiers(states[cid], records) if i in index}
    last = max(r.occurred_at for r in records)
    return customer_view(states[cid], records, links, POLICY, now or last, MASK)


def raw_values(records: list[Any]) -> set[str]:
    found = {str(getattr(r, f)) for r in records for f in PERSONAL if getattr(r, f, None)}
    return found | {r.customer_id for r in records}


def test_the_serial_claimant_is_flagged_with_reasons_and_their_claims_link_other_accounts() -> None:
    states, index, events, outputs = story("serial_empty_box")
    claims = [e for e in events if isinstance(e, RefundRequested)]
    last = claims[-1].customer_id
    view = view_of(last, states, index, events, outputs)
    refund_decisions = [d for d in view["decisions"] if d["type"] == "RefundDecision"]
    assert refund_decisions and refund_decisions[0]["outcome"] != "approve_instant"
    assert any(r["code"] == SERIAL_CLAIMS for r in refund_decisions[0]["reasons"])
    assert all(r["text"] for d in refund_decisions for r in d["reasons"])
    assert refund_decisions[0]["policy_version"] == POLICY.version
    assert {f["code"] for f in view["standing"]["flags"]} >= {"REFUND_ABUSER"} and not view["standing"]["good_standing"]
    others = {c.customer_id for c in claims} - {last}
    assert len(view["refunds"]["linked_claims"]) >= len(others) > 0
    assert {k["customer"] for k in view["refunds"]["linked_claims"]} == {MASK("customer", c) for c in others}


def test_no_identifier_or_name_appears_raw_anywhere_in_the_view() -> None:
    for name in ("serial_empty_box", "account_takeover", "traveller_usual_device"):
        states, index, events, outputs = story(name)
        for cid in states:
            text = json.dumps(view_of(cid, states, index, events, outputs))
            mine = [r for r in (*events, *outputs) if r.customer_id == cid]
            leaked = {v for v in raw_values(mine) if v in text}
            assert leaked == set(), (name, cid, leaked)


def test_the_same_identifier_gets_the_same_pseudonym_and_another_key_another_one() -> None:
    assert MASK("device", "d-1") == MASK("device", "d-1") != MASK("device", "d-2")
    assert MASK("device", "d-1") != masker(b"other")("device", "d-1")
    assert MASK("device", None) is None and MASK("device", "d-1").startswith("device·")  # type: ignore[union-attr]


def test_decisions_come_newest_first_and_the_timeline_in_event_time_with_outputs_after_their_input() -> None:
    states, index, events, outputs = story("traveller_usual_device")
    cid = next(d.customer_id for d in outputs if isinstance(d, PaymentDecision))
    view = view_of(cid, states, index, events, outputs)
    times = [d["at"] for d in view["decisions"]]
    assert times == sorted(times, reverse=True) and len(times) <= 10
    timeline = view["timeline"]
    assert [t["at"] for t in timeline] == sorted(t["at"] for t in timeline)
    decided = [i for i, t in enumerate(timeline) if t["type"] == "PaymentDecision"]
    assert decided and all(timeline[i - 1]["type"] == "PaymentAttempted" for i in decided)
    assert all(t["text"].endswith(".") for t in timeline)
    assert view["profile"]["devices"] and view["profile"]["devices"][0]["count"] >= 1
    assert view["profile"]["countries"][0]["value"].isupper()  # countries identify no one: shown as they are


def test_an_open_dunning_case_shows_its_next_due_action() -> None:
    states, _index, events, outputs = story("late_payer")
    cid = next(iter(states))
    opened = next(o for o in outputs if type(o).__name__ == "DunningStep" and o.action == "case_opened")
    states_then: dict[str, CustomerState] = {}
    list(replay([e for e in events if e.occurred_at <= opened.occurred_at], POLICY, CTX, until=opened.occurred_at,
                states=states_then))
    view = customer_view(states_then[cid], [], {}, POLICY, opened.occurred_at, MASK)
    case = view["dunning"][0]
    assert case["case_id"] == opened.case_id and case["next_action"]["action"] in ("retry", "reminder", "close")


def test_an_unreadable_record_is_said_to_be_one_and_a_miss_says_nothing() -> None:
    assert describe(None, MASK)["type"] == "unreadable"
    assert MISSING == {"error": "no such customer"}


def test_refund_decisions_say_how_many_claims_were_linked() -> None:
    states, index, events, outputs = story("serial_empty_box")
    decision = [o for o in outputs if isinstance(o, RefundDecision)][-1]
    assert "linked claim" in describe(decision, MASK)["text"] or decision.linked_claims == 0


def test_a_flag_from_a_linked_account_shows_with_its_reason_and_takes_the_good_standing() -> None:
    from agents.rules.events import AccountFlagged
    from agents.rules.journey import handle
    from pipeline.explorer.views import standing_view

    at = 1_760_000_000_000
    flag = AccountFlagged(event_id="flag-1", customer_id="alias", occurred_at=at, source_event_id="claim-9",
                          cause="serial_refund_abuse", via=("device",))
    state = handle(None, flag, {}, POLICY, CTX).state
    view = standing_view(state, POLICY, at + 1, MASK)
    (shown,) = [f for f in view["flags"] if f["code"] == "LINKED_ACCOUNT_FLAGGED"]
    assert "Shares a device with an account flagged for serial refund abuse" in shown["text"]
    assert not view["good_standing"]
    later = standing_view(state, POLICY, at + POLICY.reviews.linked_flag_ms + 1, MASK)
    assert later["good_standing"] and not later["flags"], "the flag ends when the policy says"
