"""Customer states written before the ledger kept each identifier once load with every payment as it was: the same
fields, the same identifiers in the same order, and an erasure still finds every one of them."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from functools import cache
from typing import Any

import fastavro

from agents.rules.journey import Context, CustomerState, state_identifiers
from agents.rules.ledger import PaymentRef
from agents.rules.records import decoder, encoder
from agents.rules.replay import replay
from pipeline.policies import load_policy
from pipeline.sim import generate
from pipeline.wire import state_codec
from pipeline.wire.state_codec import MARKER
from pipeline.wire.state_migrations import MIGRATIONS
from pipeline.wire.state_schema import history

T0 = 1_760_000_000_000
BEFORE_INTERNED_LEDGER = bytes.fromhex("452dd40e7e4b2855")  # the last CustomerState schema with a list of PaymentRef
FIRST = bytes.fromhex("a1fbf83f007b67a1")  # the first one shipped: before the ledger remembered checkout's outcome


@cache
def population() -> tuple[CustomerState, ...]:
    states: dict[str, CustomerState] = {}
    events = [x.event for x in generate(7, 60, T0, 30)]
    for _ in replay(events, load_policy(), Context(link_secret=b"test"), states=states, index={}):
        pass
    return tuple(states.values())


@cache
def committed(fp: bytes) -> Any:
    return fastavro.parse_schema(history(CustomerState)[fp])


def written_under(fp: bytes, plain: dict[str, Any]) -> bytes:
    """A state value as a worker running under schema `fp` wrote it (fastavro, with the committed .avsc)."""
    buf = io.BytesIO()
    buf.write(MARKER + fp)
    fastavro.schemaless_writer(buf, committed(fp), plain)
    return buf.getvalue()


def as_earlier_versions_held(state: CustomerState) -> dict[str, Any]:
    """The plain value of a state as earlier versions held it: the ledger a list of PaymentRef in full (the oldest
    schemas also kept the card apart, as `card_fingerprint`)."""
    payments = [{**encoder(PaymentRef)(r), "card_fingerprint": r.card_fingerprint} for r in state.payments.refs()]
    return {**encoder(CustomerState)(state), "payments": payments}


def payment(pid: str, idents: list[str], **fields: Any) -> dict[str, Any]:
    return {"payment_id": pid, "order_id": f"ord-{pid}", "amount_minor": 300, "currency": "EUR", "method": "card",
            "initiator": "customer", "network": "visa", "card_issuer": "bank-fr-2", "identifiers": idents,
            "attempted_at": T0, "status": "failed", "checkout_outcome": "decline", **fields}


def test_a_state_the_last_schema_before_wrote_loads_with_each_payment_s_identifiers_as_they_were() -> None:
    payments = [
        payment("p3", ["device:D", "card:C3", "addr:A", "ip:I"]),
        payment("p2", ["device:D", "card:C2", "addr:A", "ip:I"], status="succeeded", checkout_outcome="approve"),
        payment("p1", ["device:D", "addr:A2"], method="paypal", network=None, card_issuer=None,
                initiator="merchant", status="attempted", checkout_outcome=""),
    ]
    plain = {**encoder(CustomerState)(CustomerState.empty("c1", "key-1")), "payments": payments}
    loaded = state_codec.loads(CustomerState, written_under(BEFORE_INTERNED_LEDGER, plain))
    assert [r.identifiers for r in loaded.payments.refs()] == [tuple(p["identifiers"]) for p in payments]
    assert loaded.payments.refs() == tuple(decoder(PaymentRef)(p) for p in payments)  # every field as it was
    assert [r.card_fingerprint for r in loaded.payments.refs()] == ["C3", "C2", None]
    assert sorted(loaded.payments.identities) == ["addr:A", "addr:A2", "card:C2", "card:C3", "device:D", "ip:I"]
    assert state_identifiers(loaded) == tuple(sorted({i for p in payments for i in p["identifiers"]}))
    assert state_codec.loads(CustomerState, state_codec.dumps(loaded)) == loaded  # and is written anew as it is


def test_every_state_of_a_population_written_under_any_older_schema_loads_with_the_same_payments() -> None:
    states = population()
    assert sum(len(s.payments.entries) for s in states) > 100
    for fp in MIGRATIONS[CustomerState].before:
        for state in states:
            loaded = state_codec.loads(CustomerState, written_under(fp, as_earlier_versions_held(state)))
            expected = state.payments.refs()
            if fp == FIRST:  # it had no checkout outcome: not known
                expected = tuple(replace(r, checkout_outcome="") for r in expected)
            assert loaded.payments.refs() == expected, fp.hex()
            assert sorted(loaded.payments.identifiers()) == sorted(state.payments.identifiers()), fp.hex()
            if fp == BEFORE_INTERNED_LEDGER:  # everything else as it was too (older schemas held less)
                assert replace(loaded, payments=state.payments) == state
                assert state_identifiers(loaded) == state_identifiers(state)


def test_a_state_earlier_versions_wrote_as_json_loads_with_the_same_payments() -> None:
    for state in population():
        loaded = state_codec.loads(CustomerState, json.dumps(as_earlier_versions_held(state)).encode())
        assert loaded.payments.refs() == state.payments.refs()
        assert state_identifiers(loaded) == state_identifiers(state)
