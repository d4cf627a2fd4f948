"""The payment ledger: each identifier kept once for all the payments naming it, every payment read back whole."""

from __future__ import annotations

import random
from dataclasses import replace
from typing import get_args

from agents.rules.events import Outcome
from agents.rules.ledger import MAX_PAYMENTS, CheckoutOutcome, Ledger, PaymentRef

T0 = 1_760_000_000_000


def ref(pid: str, *idents: str, at: int = T0) -> PaymentRef:
    return PaymentRef(payment_id=pid, order_id=f"ord-{pid}", amount_minor=300, currency="EUR", method="card",
                      initiator="customer", network="visa", card_issuer="bank-fr-2", identifiers=idents,
                      attempted_at=at)


def held(*refs: PaymentRef) -> Ledger:
    """The ledger after these attempts, oldest first."""
    ledger = Ledger()
    for r in refs:
        ledger = ledger.remember(r)
    return ledger


def test_a_card_tester_s_device_address_and_ip_are_kept_once_for_all_their_payments() -> None:
    tries = [ref(f"p{n}", "device:D", f"card:C{n}", "addr:A", "ip:I") for n in range(20)]
    ledger = held(*tries)
    assert ledger.refs() == tuple(reversed(tries))  # newest first, each payment whole
    assert sorted(ledger.identities) == sorted({"device:D", "addr:A", "ip:I", *(f"card:C{n}" for n in range(20))})


def test_a_payment_reads_back_its_identifiers_in_the_attempt_s_order_and_its_card() -> None:
    ledger = held(ref("p1", "device:D", "card:C1", "addr:A", "ip:I"), ref("p2", "addr:A", "device:D"))
    p1, p2 = ledger.find("p1"), ledger.find("p2")
    assert p1 is not None and p1.identifiers == ("device:D", "card:C1", "addr:A", "ip:I")
    assert p1.card_fingerprint == "C1"
    assert p2 is not None and p2.identifiers == ("addr:A", "device:D") and p2.card_fingerprint is None
    assert ledger.find("p3") is None


def test_an_attempt_seen_again_replaces_its_entry_and_what_only_the_old_one_named() -> None:
    ledger = held(ref("p1", "device:D", "ip:I1"), ref("p2", "device:D"), ref("p1", "device:D", "ip:I2"))
    assert [r.identifiers for r in ledger.refs()] == [("device:D", "ip:I2"), ("device:D",)]
    assert set(ledger.identifiers()) == {"device:D", "ip:I2"}


def test_the_oldest_payment_falls_off_and_an_identifier_only_it_named_goes_with_it() -> None:
    ledger = held(*(ref(f"p{n}", "device:D", f"card:C{n}") for n in range(MAX_PAYMENTS + 1)))
    assert len(ledger.entries) == MAX_PAYMENTS and ledger.find("p0") is None
    assert "card:C0" not in ledger.identifiers() and "card:C1" in ledger.identifiers()


def test_a_freed_slot_takes_the_next_new_identifier_and_no_other_payment_is_rebuilt() -> None:
    full = held(*(ref(f"p{n}", "device:D", f"card:C{n}") for n in range(MAX_PAYMENTS)))
    more = full.remember(ref("new", "device:D", "card:NEW"))
    assert len(more.identities) == len(full.identities)  # card:C0's slot now holds card:NEW
    assert more.entries[1:] == full.entries[:-1]
    assert all(a is b for a, b in zip(more.entries[1:], full.entries, strict=False))


def test_a_status_is_marked_on_its_payment_only() -> None:
    ledger = held(ref("p1", "card:C1"), ref("p2", "card:C2")).mark("p1", "succeeded")
    assert [(r.payment_id, r.status) for r in ledger.refs()] == [("p2", "attempted"), ("p1", "succeeded")]
    assert ledger.mark("nope", "failed") == ledger


def test_a_remap_forgets_an_identifier_in_every_payment_that_named_it() -> None:
    ledger = held(ref("p1", "device:D", "card:C1"), ref("p2", "device:D", "card:C2"))
    gone = ledger.remapped(lambda i: None if i == "device:D" else i)
    assert [r.identifiers for r in gone.refs()] == [("card:C2",), ("card:C1",)]
    assert "device:D" not in gone.identities
    assert [r.identifiers for r in ledger.remapped(lambda i: None).refs()] == [(), ()]
    assert ledger.remapped(lambda i: None).identities == ()


def test_identifiers_remapped_to_one_share_its_slot_and_an_identity_remap_changes_nothing() -> None:
    ledger = held(ref("p1", "device:A", "card:C"), ref("p2", "device:B", "card:C"))
    merged = ledger.remapped(lambda i: "device:X" if i.startswith("device:") else i)
    assert [r.identifiers for r in merged.refs()] == [("device:X", "card:C"), ("device:X", "card:C")]
    assert merged.identities.count("device:X") == 1
    assert ledger.remapped(lambda i: i) == ledger
    assert ledger.remapped(lambda i: i.upper()).refs() == tuple(
        replace(r, identifiers=tuple(i.upper() for i in r.identifiers)) for r in ledger.refs())


def test_a_ledger_reads_as_the_tuple_of_payments_it_replaced_through_any_history() -> None:
    """Against the ledger as it was (newest first, a payment seen again replaced, bounded), over random attempts
    and marks: the same payments, and exactly the identifiers they name, each once."""
    rng = random.Random(9)
    pool = [f"{k}:{v}" for k in ("device", "card", "addr", "ip") for v in range(8)]
    ledger, model = Ledger(), ()
    for step in range(2_000):
        pid = f"p{rng.randrange(80)}"
        if rng.random() < 0.2:
            ledger = ledger.mark(pid, "failed")
            model = tuple(replace(p, status="failed") if p.payment_id == pid else p for p in model)
        else:
            r = ref(pid, *rng.sample(pool, rng.randrange(5)), at=T0 + step)
            ledger = ledger.remember(r)
            model = (r, *(p for p in model if p.payment_id != pid))[:MAX_PAYMENTS]
        assert ledger.refs() == model
        named = [i for p in model for i in p.identifiers]
        assert sorted(ledger.identifiers()) == sorted(set(named))
    assert Ledger.of(model).refs() == model


def test_a_payment_s_checkout_outcome_is_one_checkout_gives_or_not_known() -> None:
    assert set(get_args(CheckoutOutcome)) == {"", *get_args(Outcome)}
