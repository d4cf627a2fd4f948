"""Keyed pseudonyms: equal in, equal out under one key; nothing raw left in an event's identifier fields."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from agents.rules.events import INPUT_TYPES, DeviceSeen, RefundRequested
from agents.rules.pseudonyms import FIELD_KINDS, NOT_KEPT, PSEUDONYM_CHARS, Pseudonyms, masked
from pipeline.resources import SCHEMAS_DIR

A, B = Pseudonyms(b"key-a"), Pseudonyms(b"key-b")


def claim(email: str) -> RefundRequested:
    return RefundRequested(event_id="r1", customer_id="c1", occurred_at=1, refund_id="ref1", order_id="o1",
                           amount_minor=100, currency="EUR", reason="empty_box", claimant_name="Ann",
                           claimant_email=email, device_id="dev-1", shipping_address_id=None, card_fingerprint="fp-1")


def test_equal_identifiers_have_equal_pseudonyms_under_one_key_and_different_ones_under_another() -> None:
    assert A.of("device", "dev-1") == A.of("device", "dev-1") != A.of("device", "dev-2")
    assert A.of("device", "dev-1") != B.of("device", "dev-1")
    assert len(A.of("ip", "203.0.113.9")) == PSEUDONYM_CHARS


def test_the_kind_is_part_of_the_pseudonym_so_a_device_id_equal_to_an_address_id_is_not_that_address() -> None:
    assert A.of("device", "x1") != A.of("addr", "x1")


def test_emails_are_normalised_before_they_are_keyed() -> None:
    assert A.of("email", "  Ann@Example.COM ") == A.of("email", "ann@example.com")
    assert A.event(claim(" Ann@Example.com")).claimant_email == A.event(claim("ann@example.com")).claimant_email


def test_every_identifier_field_of_an_event_is_replaced_and_nothing_else_is() -> None:
    raw = claim("ann@example.com")
    done = A.event(raw)
    assert done.claimant_email == A.of("email", "ann@example.com")
    assert (done.device_id, done.card_fingerprint) == (A.of("device", "dev-1"), A.of("card", "fp-1"))
    assert done.shipping_address_id is None  # missing stays missing
    assert (done.claimant_name, done.customer_id, done.refund_id) == ("Ann", "c1", "ref1")
    seen = DeviceSeen(event_id="d1", customer_id="c1", occurred_at=1, device_id="dev-1", ip="198.51.100.7",
                      ip_country="NL", user_agent="ua")
    assert (A.event(seen).ip, A.event(seen).ip_country) == (A.of("ip", "198.51.100.7"), "NL")


def test_every_personal_field_of_an_input_schema_is_pseudonymised_or_never_kept() -> None:
    for cls in INPUT_TYPES:
        schema = json.loads((SCHEMAS_DIR / f"{cls.SCHEMA}.avsc").read_text())
        personal = {f["name"] for f in schema["fields"] if f.get("pii")}
        assert personal <= set(FIELD_KINDS) | NOT_KEPT, (cls.__name__, personal - set(FIELD_KINDS) - NOT_KEPT)
        assert {f.name for f in fields(cls)} & set(FIELD_KINDS) <= personal, cls.__name__


def test_the_key_id_names_the_key_without_being_it() -> None:
    assert A.key_id == Pseudonyms(b"key-a").key_id != B.key_id
    assert "key-a" not in repr(A) and A.key_id not in A.of("device", "dev-1")
    with pytest.raises(ValueError, match="empty"):
        Pseudonyms(b"")


def test_a_masked_identifier_keeps_its_kind_and_a_few_characters() -> None:
    ident = A.identifier("card", "fp-1")
    assert masked(ident) == f"card:{ident[5:11]}…" and masked("ip:ab") == "ip:ab"


def test_a_redacted_event_keeps_no_identifier_and_no_name() -> None:
    """What the explorer's history may keep of an input: pseudonyms, and the personal fields no rule keeps emptied."""
    from agents.rules.events import RefundRequested

    claim = RefundRequested(event_id="e", customer_id="c", occurred_at=1, refund_id="r", order_id="o",
                            amount_minor=100, currency="EUR", reason="damaged", claimant_name="Ada Lovelace",
                            claimant_email="Ada@Example.org", device_id="dev-1", shipping_address_id="addr-1",
                            card_fingerprint="card-1")
    kept = A.redacted(claim)
    assert kept.claimant_name == "" and kept.claimant_email == A.of("email", "ada@example.org")
    assert (kept.device_id, kept.card_fingerprint) == (A.of("device", "dev-1"), A.of("card", "card-1"))
    assert "Ada" not in repr(kept) and "dev-1" not in repr(kept)
    assert (kept.refund_id, kept.amount_minor) == ("r", 100)


def test_remembered_pseudonyms_are_the_ones_computed_and_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import agents.rules.pseudonyms as module

    monkeypatch.setattr(module, "KNOWN_KEPT", 10)
    p, fresh = Pseudonyms(b"k" * 32), Pseudonyms(b"k" * 32)
    values = [f"dev-{i}" for i in range(25)]
    first = [p.of("device", v) for v in values]
    again = [p.of("device", v) for v in reversed(values)][::-1]
    assert first == again == [fresh.of("device", v) for v in values]
    assert len(p._known) <= 10
    assert p.of("email", "A@Example.com") == p.of("email", "a@example.com") == fresh.of("email", " a@example.com ")


def test_an_event_asked_for_again_gets_its_copy_and_each_other_event_its_own() -> None:
    p = Pseudonyms(b"key-c")

    def seen(n: int) -> DeviceSeen:
        return DeviceSeen(event_id=f"e{n}", customer_id="c1", occurred_at=n, device_id=f"dev-{n}", ip="203.0.113.9",
                          ip_country="NL", user_agent="ua")

    one, two = seen(1), seen(2)
    first = p.event(one)
    assert p.event(one) is first  # the step, the look-ups and the history ask for the same event in turn
    assert p.event(two).device_id == p.of("device", "dev-2")
    again = p.event(one)
    assert again == first and again.device_id == p.of("device", "dev-1")  # the other event in between
    assert p.event(seen(1)) == first  # an equal event built anew
