"""agents/rules/identity.py: the one-sighting short cut of `merge` returns what the general join returns."""

from __future__ import annotations

import random

from agents.rules.identity import MAX_CUSTOMERS, IdentityNode, Mark, _joined, _sighted, merge

T0 = 1_760_000_000_000


def node_from(rng: random.Random, steps: int) -> IdentityNode:
    """A node as the index holds them: built by merging random sightings, claims and chargebacks (general path)."""
    node = IdentityNode(identifier="ip:hot")
    for n in range(steps):
        cid, at = f"c{rng.randrange(80)}", T0 + rng.randrange(400)
        marks = (Mark(customer_id=cid, ref=f"r{n % 7}", reason="r", at=at),) if rng.random() < 0.1 else ()
        single = IdentityNode(identifier="ip:hot", customers=((cid, at),), chargebacks=marks)
        node = _joined(node, single)
    return node


def test_a_sighting_merged_by_the_short_cut_equals_the_general_join() -> None:
    rng = random.Random(7)
    checked = 0
    for _ in range(400):
        a = node_from(rng, rng.randrange(0, 120))
        for cid, at in [(f"c{rng.randrange(80)}", T0 + rng.randrange(-20, 420)) for _ in range(5)]:
            b = IdentityNode(identifier="ip:hot", customers=((cid, at),))
            assert _sighted(a, b) == _joined(a, b), (a, b)
            assert merge(a, b) == _joined(a, b)
            checked += 1
    assert checked == 2_000


def test_the_short_cut_covers_a_full_node_a_newcomer_an_older_sighting_and_ties() -> None:
    full = IdentityNode(identifier="ip:x", customers=tuple((f"c{i:02d}", T0 + 100 - i) for i in range(MAX_CUSTOMERS)))
    cases = [
        ("new", T0 + 200),  # first, pushes the oldest out
        ("new", T0 + 100 - MAX_CUSTOMERS),  # older than everyone on a full node: not kept
        ("c10", T0 + 100 - 10),  # the same time again: unchanged
        ("c10", T0),  # older than what the node shows: unchanged
        ("c10", T0 + 100 - 3),  # a tie in time with c03: ordered by id
        ("c49", T0 + 500),  # the oldest becomes the newest
    ]
    for cid, at in cases:
        b = IdentityNode(identifier="ip:x", customers=((cid, at),))
        assert _sighted(full, b) == _joined(full, b), (cid, at)
    assert _sighted(full, IdentityNode(identifier="ip:x", customers=(("new", T0 + 200),))).customers[0] == (
        "new", T0 + 200)
