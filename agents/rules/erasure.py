"""Erasure and re-keying: every place a customer's state keeps an identifier, in one walk.

`remap_*` rebuild the profile, the payment ledger and the dunning state with each identifier value passed through
`f(kind, value)`: a new value, or None to forget it (a Seen entry, a low-value counter or a card hold goes with it).
The same walk answers "which identity-index nodes is this customer on?" (`identifiers_of`, with an `f` that only
records) for an erasure, migrates a state written before pseudonymisation (raw values become pseudonyms) and forgets
the identifiers of a state written under another pseudonym key (they can never match again). Kinds are those of the
identity index (device, ip, addr, card); dunning's stand-in for a card-less payment (`order:<id>`) is no identifier.

An erasure is asked for by a tombstone on `customers` (`ErasureRequested`, built by the wire layer from the message
key and timestamp: there is no value to decode). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agents.rules.dataclass_replace import replace
from agents.rules.dunning.state import DunningState
from agents.rules.ledger import Ledger
from agents.rules.profile import CustomerProfile
from agents.rules.profile.records import Seen

Remap = Callable[[str, str], str | None]
"""f(kind, value) -> the value to keep in its place, or None to forget it."""

STAND_IN = "order:"  # dunning keeps per-order limits under this prefix when a payment has no card fingerprint


@dataclass(frozen=True, slots=True)
class ErasureRequested:
    """A tombstone on `customers`: erase this customer. Its id is derived from the tombstone's position, its time
    is the tombstone's timestamp."""

    TOPIC = "customers"
    event_id: str
    customer_id: str
    occurred_at: int


def remap_profile(p: CustomerProfile, f: Remap) -> CustomerProfile:
    alert = p.device_alert
    if alert is not None:
        device = f("device", alert.device_id)
        alert = None if device is None else replace(alert, device_id=device)
    return replace(
        p,
        devices=_seen(p.devices, "device", f), ips=_seen(p.ips, "ip", f), addresses=_seen(p.addresses, "addr", f),
        cards=_seen(p.cards, "card", f),
        issuers=tuple(replace(i, cards=_values(i.cards, "card", f)) for i in p.issuers),
        low_value=tuple(replace(c, card=card) for c in p.low_value if (card := _opt(c.card, "card", f))),
        recent_attempts=tuple(replace(m, card=_opt(m.card, "card", f)) for m in p.recent_attempts),
        device_alert=alert,
    )


def remap_payments(payments: Ledger, f: Remap) -> Ledger:
    """The ledger keeps each identifier once, for all the payments that name it: remapped there, once."""
    return payments.remapped(lambda ident: _key(ident, f))


def remap_dunning(d: DunningState, f: Remap) -> DunningState:
    """Cases keep their card (or lose it to a per-case stand-in); the retry ledger and the holds of a forgotten card
    go: they could never match that card again."""
    cases = tuple(replace(c, card=_card(c.card, f) or f"{STAND_IN}{c.case_id}") for c in d.cases)
    attempts = tuple(replace(a, card=card) for a in d.attempts if (card := _card(a.card, f)))
    holds = tuple((card, until) for c, until in d.card_holds if (card := _card(c, f)))
    return replace(d, cases=cases, attempts=attempts, card_holds=holds)


def identifiers_of(profile: CustomerProfile, payments: Ledger,
                   dunning: DunningState) -> tuple[str, ...]:
    """Every identity-index key (`kind:value`) these parts of a state hold, each once, sorted."""
    found: set[str] = set()

    def record(kind: str, value: str) -> str:
        found.add(f"{kind}:{value}")
        return value

    remap_profile(profile, record)
    remap_payments(payments, record)
    remap_dunning(dunning, record)
    return tuple(sorted(found))


def _seen(entries: tuple[Seen, ...], kind: str, f: Remap) -> tuple[Seen, ...]:
    return tuple(replace(s, value=v) for s in entries if (v := f(kind, s.value)))


def _values(values: tuple[str, ...], kind: str, f: Remap) -> tuple[str, ...]:
    return tuple(v for v in (f(kind, x) for x in values) if v)


def _opt(value: str | None, kind: str, f: Remap) -> str | None:
    return f(kind, value) if value else value


def _card(card: str, f: Remap) -> str | None:
    return card if card.startswith(STAND_IN) else f("card", card)


def remap_identifiers(idents: tuple[str, ...], f: Remap) -> tuple[str, ...]:
    """Identity-index keys (`kind:value`) remapped; forgotten ones left out."""
    return tuple(new for ident in idents if (new := _key(ident, f)))


def _key(ident: str, f: Remap) -> str | None:
    """One identity-index key (`kind:value`) remapped, or None when forgotten."""
    kind, _, value = ident.partition(":")
    new = f(kind, value)
    return f"{kind}:{new}" if new else None
