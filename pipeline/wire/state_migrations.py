"""State values of a layout Avro resolution cannot bring to the current one, and how they are brought instead.

Resolution fills the fields added since a value was written and drops those removed since: right when data was
added, wrong when it moved (a removed field's contents would be gone without a word). So a change that moves data
makes the new schema unresolvable from the old ones on purpose (the field keeps its name and changes its type, and
the codec refuses what does not resolve) and registers a `Migration` here: values under one of its `before`
fingerprints are read as its `pivot` (the last schema before the change, which every older one resolves to), passed
through `upgrade`, a pure function from that plain form to the plain form of `result` (the first schema after the
change, in the history too), and read from there on as if written under `result`. The JSON of earlier versions
is of the oldest layout: it goes through `upgrade` as well.

One migration per class: a later change that moves data again makes this one's `result` part of its own `before`
and composes the two upgrades.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agents.rules.journey import CustomerState
from agents.rules.ledger import Ledger, PaymentRef
from agents.rules.records import decoder, encoder

Plain = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Migration:
    before: frozenset[bytes]  # fingerprints of the values needing it: `pivot` and every schema older than it
    pivot: bytes
    result: bytes
    upgrade: Callable[[Plain], Plain]


def interned_ledger(state: Plain) -> Plain:
    """A CustomerState of before the ledger kept each identifier once: its `payments` were a list of PaymentRef,
    each with its identifiers in full. The same payments, with the same identifiers in the same order. (The
    initiators, statuses and checkout outcomes that became enums then are the same strings in plain form; an
    unknown outcome, "", is stored as None.)"""
    refs = tuple(map(decoder(PaymentRef), state.get("payments") or ()))
    return {**state, "payments": encoder(Ledger)(Ledger.of(refs))}


def _fingerprints(*hexes: str) -> frozenset[bytes]:
    return frozenset(bytes.fromhex(h) for h in hexes)


MIGRATIONS: Mapping[type, Migration] = {
    CustomerState: Migration(  # every CustomerState schema shipped before the interned ledger, oldest first
        before=_fingerprints("a1fbf83f007b67a1", "e388c385ec6f10c1", "8093c019fe52cd08", "af95dbd921dd9622",
                             "be8294ee1f5a25bf", "5f9eea4a5f080cbb", "3158471264bc8a1f", "396fc598b5c0c411",
                             "e0c35b8ce89c8ff0", "452dd40e7e4b2855"),
        pivot=bytes.fromhex("452dd40e7e4b2855"),
        result=bytes.fromhex("2da2223c87b5799a"),
        upgrade=interned_ledger,
    ),
}
"""The registered migrations, by class."""
