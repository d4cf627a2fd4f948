"""Erasure and re-keying in the pure step: what an erasure emits, what it leaves, what an old state becomes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from agents.rules import erasure
from agents.rules.erasure import ErasureRequested, identifiers_of
from agents.rules.events import CustomerErased, IdentityErased, RefundRequested
from agents.rules.identity import IdentityNode, apply, apply_link, link, merge
from agents.rules.journey import Context, CustomerState, handle, rekey, state_identifiers
from agents.rules.pseudonyms import Pseudonyms
from agents.rules.replay import replay
from pipeline.policies import load_policy
from pipeline.sim import generate

POLICY = load_policy()
CTX = Context(link_secret=b"test", pseudonyms=Pseudonyms(b"erasure-test-key"))
T0 = 1_760_000_000_000
DAY = 86_400_000


def population() -> tuple[list[Any], dict[str, CustomerState], dict[str, IdentityNode]]:
    events = [x.event for x in generate(5, 40, T0, 20)]
    states: dict[str, CustomerState] = {}
    index: dict[str, IdentityNode] = {}
    list(replay(events, POLICY, CTX, states=states, index=index))
    return events, states, index


def raw_values(events: list[Any]) -> set[str]:
    names = ("device_id", "ip", "shipping_address_id", "card_fingerprint", "claimant_email")
    return {v for e in events for n in names if isinstance(v := getattr(e, n, None), str) and v}


def busiest(index: dict[str, IdentityNode]) -> str:
    """A customer on many nodes, some with chargebacks or claims of theirs."""
    counts: dict[str, int] = {}
    for node in index.values():
        for c in node.customer_ids():
            counts[c] = counts.get(c, 0) + 1
    return max(sorted(counts), key=lambda c: counts[c])


def test_states_and_index_hold_pseudonyms_only() -> None:
    events, states, index = population()
    raw = raw_values(events)
    assert raw
    for text in (repr(states), repr(index)):
        assert not [v for v in raw if v in text]


def test_an_erasure_emits_customer_erased_and_names_every_node_the_customer_is_on() -> None:
    _, states, index = population()
    cid = busiest(index)
    request = ErasureRequested(event_id="erasure:customers:0:9", customer_id=cid, occurred_at=T0 + 40 * DAY)
    step = handle(states[cid], request, {}, POLICY, CTX)
    assert step.erased and step.outputs == (CustomerErased(event_id=request.event_id, customer_id=cid,
                                                           occurred_at=request.occurred_at),)
    (gone,) = step.links
    assert isinstance(gone, IdentityErased) and gone.customer_id == cid
    on = {ident for ident, node in index.items() if cid in node.customer_ids()}
    assert on and on <= set(gone.identifiers)


def test_replaying_an_erasure_leaves_no_trace_of_the_customer_in_states_or_index() -> None:
    events, _, index = population()
    cid = busiest(index)
    erase = ErasureRequested(event_id="erasure:customers:1:3", customer_id=cid, occurred_at=T0 + 40 * DAY)
    states: dict[str, CustomerState] = {}
    after: dict[str, IdentityNode] = {}
    out = list(replay([*events, erase], POLICY, CTX, states=states, index=after))
    assert cid not in states
    assert [o for o in out if isinstance(o, CustomerErased)] == [
        CustomerErased(event_id=erase.event_id, customer_id=cid, occurred_at=erase.occurred_at)]
    for node in after.values():
        assert cid not in node.customer_ids()
        assert all(m.customer_id != cid for m in (*node.chargebacks, *node.claims))
    assert any(cid in dict(node.erased) for node in after.values())


def test_an_erasure_is_idempotent_and_a_second_one_finds_nothing_to_take_off_the_index() -> None:
    _, states, index = population()
    cid = busiest(index)
    request = ErasureRequested(event_id="erasure:customers:0:9", customer_id=cid, occurred_at=T0 + 40 * DAY)
    first, again = handle(states[cid], request, {}, POLICY, CTX), handle(None, request, {}, POLICY, CTX)
    assert again.erased and again.outputs == first.outputs and again.links == ()
    node = next(n for n in index.values() if cid in n.customer_ids())
    erased_once = apply(node, node.identifier, first.links[0])
    assert erased_once is not None and apply(erased_once, node.identifier, first.links[0]) == erased_once


def test_new_events_after_an_erasure_start_from_an_empty_state() -> None:
    events, _, index = population()
    cid = busiest(index)
    erase = ErasureRequested(event_id="erasure:customers:0:1", customer_id=cid, occurred_at=T0 + 40 * DAY)
    later = [replace(e, event_id=f"again-{e.event_id}", occurred_at=e.occurred_at + 41 * DAY)
             for e in events if e.customer_id == cid][:3]
    states: dict[str, CustomerState] = {}
    list(replay([*events, erase, *later], POLICY, CTX, states=states, index={}))
    fresh: dict[str, CustomerState] = {}
    list(replay(later, POLICY, CTX, states=fresh, index={}))
    assert states[cid].recent_event_ids == fresh[cid].recent_event_ids
    assert states[cid].profile == fresh[cid].profile


def test_a_due_action_for_a_customer_without_state_stores_nothing() -> None:
    from agents.rules.events import DueAction

    due = DueAction(event_id="due-1", customer_id="gone", occurred_at=T0, case_id="case-1", seq=1, action="retry")
    step = handle(None, due, {}, POLICY, CTX)
    assert step.unchanged and step.outputs == ()


def test_an_erased_customer_is_not_brought_back_by_an_older_copy_of_a_node() -> None:
    seen = link(("device:x",), "c1", T0, "seen", "e1")
    claim = link(("device:x",), "c1", T0 + DAY, "claim", "e2", "empty_box", "ref-1")
    other = link(("device:x",), "c2", T0 + DAY, "seen", "e3")
    assert seen and claim and other
    old = apply_link(apply_link(None, "device:x", seen), "device:x", claim)
    erased = apply(old, "device:x", IdentityErased(event_id="x", identifiers=("device:x",), customer_id="c1",
                                                   occurred_at=T0))  # the clock is behind the claim's time
    assert erased is not None and erased.customer_ids() == frozenset() and erased.claims == ()
    stale = apply_link(old, "device:x", other)  # another worker's write from its copy before the erasure
    for merged in (merge(erased, stale), merge(stale, erased), merge(merge(erased, stale), old)):
        assert merged.customer_ids() == {"c2"} and merged.claims == ()
    back = link(("device:x",), "c1", T0 + 2 * DAY, "seen", "e4")  # the id used again, after the erasure
    assert back and "c1" in apply_link(merge(erased, stale), "device:x", back).customer_ids()


def test_a_state_written_before_pseudonymisation_is_re_keyed_on_load() -> None:
    events, _, _ = population()
    raw_ctx = Context(link_secret=b"test", pseudonyms=Pseudonyms(b"erasure-test-key"))
    states: dict[str, CustomerState] = {}
    list(replay(events, POLICY, raw_ctx, states=states, index={}))
    state = max(states.values(), key=lambda s: len(state_identifiers(s)))
    # what an old worker stored: the same state with raw values (undo the pseudonyms through a lookup table)
    raw_of = {CTX.pseudonyms.of(k, v): v for v in raw_values(events) for k in ("device", "ip", "addr", "card")}

    def unkey(kind: str, value: str) -> str | None:
        return raw_of[value]

    old = replace(state, profile=erasure.remap_profile(state.profile, unkey),
                  payments=erasure.remap_payments(state.payments, unkey),
                  dunning=erasure.remap_dunning(state.dunning, unkey), linked=(), pseudonym_key="")
    assert set(raw_values(events)) & {i.split(":", 1)[1] for i in identifiers_of(old.profile, old.payments,
                                                                                   old.dunning)}
    migrated = rekey(old, CTX.pseudonyms)
    assert migrated == replace(state, linked=())


def test_a_state_under_another_key_forgets_its_identifiers_but_keeps_its_history() -> None:
    _, states, _ = population()
    state = max(states.values(), key=lambda s: len(state_identifiers(s)))
    rotated = rekey(state, Pseudonyms(b"the-next-key"))
    assert state_identifiers(rotated) == () and rotated.pseudonym_key == Pseudonyms(b"the-next-key").key_id
    assert rotated.profile.payments == state.profile.payments and rotated.recent_event_ids == state.recent_event_ids
    assert rotated.payments.identities == () and all(r.identifiers == () for r in rotated.payments.refs())
    assert [r.payment_id for r in rotated.payments.refs()] == [r.payment_id for r in state.payments.refs()]


def test_an_erasure_names_every_identifier_of_every_payment_the_ledger_keeps() -> None:
    _, states, _ = population()
    for state in states.values():
        named = {i for r in state.payments.refs() for i in r.identifiers}
        assert set(identifiers_of(state.profile, state.payments, state.dunning)) >= named
        assert set(erasure.identifiers_of(state.profile.empty(state.customer_id), state.payments,
                                          state.dunning.empty())) == named
        request = ErasureRequested(event_id="erasure:customers:0:2", customer_id=state.customer_id,
                                   occurred_at=T0 + 40 * DAY)
        links = handle(state, request, {}, POLICY, CTX).links
        assert named <= {i for rec in links for i in rec.identifiers}


def test_a_forgotten_identifier_leaves_every_payment_that_named_it_and_nothing_else() -> None:
    _, states, _ = population()
    state = max(states.values(), key=lambda s: len(s.payments.entries))
    card = next(r.card_fingerprint for r in state.payments.refs() if r.card_fingerprint)
    forgotten = erasure.remap_payments(state.payments, lambda kind, v: None if (kind, v) == ("card", card) else v)
    assert f"card:{card}" not in forgotten.identities
    for before, after in zip(state.payments.refs(), forgotten.refs(), strict=True):
        assert after == replace(before, identifiers=tuple(i for i in before.identifiers if i != f"card:{card}"))


def test_a_claim_remembers_its_e_mail_node_so_an_erasure_reaches_it() -> None:
    claim = RefundRequested(event_id="r1", customer_id="c1", occurred_at=T0, refund_id="ref1", order_id="o1",
                            amount_minor=100, currency="EUR", reason="empty_box", claimant_name="Ann",
                            claimant_email="ann@example.com")
    step = handle(None, claim, {}, POLICY, CTX)
    assert CTX.pseudonyms.identifier("email", "ann@example.com") in state_identifiers(step.state)
