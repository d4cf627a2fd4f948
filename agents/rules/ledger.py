"""Recent payments of one customer, so later events that carry only a payment_id (a failure, a chargeback, an
authentication result) can be tied back to the order, amount, card and identifiers of the attempt. Bounded. Pure.

The ledger keeps each identity-index key once (`Ledger.identities`) and its entries name theirs by position
(`LedgerEntry.keys`): a customer's payments mostly share a device, an address and an IP, and kept in full on each
payment, those of a card tester's 20-odd attempts were the largest part of the largest states. A slot no entry
names any more is left empty (FREE) for the next new key, so adding or dropping a payment never renumbers the others
(the state writer reuses the bytes of every entry it did not rebuild). Readers never see positions: `find` and
`refs` hand out `PaymentRef`s, each payment with its identifiers spelled out, in the attempt's order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from agents.rules.dataclass_replace import replace
from agents.rules.events import Initiator, Outcome, PaymentAttempted
from agents.rules.identity import identifier

MAX_PAYMENTS = 50
CARD = "card:"
FREE = ""  # an identity slot no entry names
Status = Literal["attempted", "succeeded", "failed"]
CheckoutOutcome = Literal["", "approve", "challenge", "decline"]  # events.Outcome, or "": not known


@dataclass(frozen=True, slots=True)
class PaymentRef:
    """One payment as the rules read it."""

    payment_id: str
    order_id: str
    amount_minor: int
    currency: str
    method: str
    initiator: Initiator
    network: str | None
    card_issuer: str | None
    identifiers: tuple[str, ...]  # identity-index keys seen on the attempt (the card's among them)
    attempted_at: int
    status: Status = "attempted"
    checkout_outcome: CheckoutOutcome = ""  # what checkout decided on the attempt

    @property
    def card_fingerprint(self) -> str | None:
        """The attempt's card (its pseudonym), kept once: as the `card:` identifier."""
        return next((i[len(CARD):] for i in self.identifiers if i.startswith(CARD)), None)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One payment as the ledger stores it: a PaymentRef whose identifiers are positions in `Ledger.identities`."""

    payment_id: str
    order_id: str
    amount_minor: int
    currency: str
    method: str
    initiator: Initiator
    network: str | None
    card_issuer: str | None
    keys: tuple[int, ...]  # positions of its identifiers in the ledger's identities, in the attempt's order
    attempted_at: int
    status: Status = "attempted"
    checkout_outcome: Outcome | None = None  # None: not known (stored before the ledger remembered it)


@dataclass(frozen=True, slots=True)
class Ledger:
    """A customer's recent payments (`CustomerState.payments`)."""

    entries: tuple[LedgerEntry, ...] = ()  # newest first, at most MAX_PAYMENTS
    identities: tuple[str, ...] = ()  # every key an entry names, each once; FREE: a slot nobody names

    @classmethod
    def of(cls, refs: tuple[PaymentRef, ...]) -> Ledger:
        """The ledger holding these payments (newest first) as they are, each identifier once."""
        identities: list[str] = []
        entries = tuple(_entry(r, _interned(identities, r.identifiers)) for r in refs)
        return cls(entries=entries, identities=tuple(identities))

    def refs(self) -> tuple[PaymentRef, ...]:
        return tuple(self._ref(e) for e in self.entries)

    def find(self, payment_id: str) -> PaymentRef | None:
        entry = next((e for e in self.entries if e.payment_id == payment_id), None)
        return None if entry is None else self._ref(entry)

    def identifiers(self) -> tuple[str, ...]:
        """Every identity-index key the ledger holds."""
        return tuple(i for i in self.identities if i)

    def remember(self, ref: PaymentRef) -> Ledger:
        """Newest first; an attempt seen again replaces the old entry; the oldest falls off past MAX_PAYMENTS."""
        rest = tuple(e for e in self.entries if e.payment_id != ref.payment_id)[:MAX_PAYMENTS - 1]
        identities = list(self.identities)
        if len(rest) < len(self.entries):  # entries left: the keys only they named are free for this one's
            named = {k for e in rest for k in e.keys}
            identities = [i if k in named or i in ref.identifiers else FREE for k, i in enumerate(identities)]
        entry = _entry(ref, _interned(identities, ref.identifiers))
        return Ledger(entries=(entry, *rest), identities=_trimmed(identities))

    def mark(self, payment_id: str, status: Status) -> Ledger:
        if not any(e.payment_id == payment_id for e in self.entries):
            return self
        return replace(self, entries=tuple(replace(e, status=status) if e.payment_id == payment_id else e
                                           for e in self.entries))

    def remapped(self, f: Callable[[str], str | None]) -> Ledger:
        """Each key replaced by f(key), or forgotten when that is None (each entry loses it). Keys that become
        equal share the first one's slot. Slots stay where they are, so a remap that changes nothing returns an
        equal ledger."""
        identities: list[str] = []
        moved: dict[int, int | None] = {}
        first: dict[str, int] = {}
        for k, key in enumerate(self.identities):
            new = f(key) if key else None
            target = None if new is None else first.setdefault(new, k)
            identities.append(new if new is not None and target == k else FREE)
            moved[k] = target
        entries = tuple(
            e if all(moved[k] == k for k in e.keys)
            else replace(e, keys=tuple(t for k in e.keys if (t := moved[k]) is not None))
            for e in self.entries
        )
        return Ledger(entries=entries, identities=_trimmed(identities))

    def _ref(self, e: LedgerEntry) -> PaymentRef:
        ids = self.identities
        return PaymentRef(
            payment_id=e.payment_id, order_id=e.order_id, amount_minor=e.amount_minor, currency=e.currency,
            method=e.method, initiator=e.initiator, network=e.network, card_issuer=e.card_issuer,
            identifiers=tuple(ids[k] for k in e.keys), attempted_at=e.attempted_at, status=e.status,
            checkout_outcome=e.checkout_outcome or "",
        )


def _entry(r: PaymentRef, keys: tuple[int, ...]) -> LedgerEntry:
    return LedgerEntry(
        payment_id=r.payment_id, order_id=r.order_id, amount_minor=r.amount_minor, currency=r.currency,
        method=r.method, initiator=r.initiator, network=r.network, card_issuer=r.card_issuer, keys=keys,
        attempted_at=r.attempted_at, status=r.status, checkout_outcome=r.checkout_outcome or None,
    )


def _interned(identities: list[str], idents: tuple[str, ...]) -> tuple[int, ...]:
    """The positions of `idents` in `identities`, which gains those it lacks (in a free slot, else at the end)."""
    keys = []
    for ident in idents:
        try:
            k = identities.index(ident)
        except ValueError:
            try:
                k = identities.index(FREE)
                identities[k] = ident
            except ValueError:
                k = len(identities)
                identities.append(ident)
        keys.append(k)
    return tuple(keys)


def _trimmed(identities: list[str]) -> tuple[str, ...]:
    while identities and identities[-1] == FREE:
        identities.pop()
    return tuple(identities)


def identifiers_of_attempt(a: PaymentAttempted) -> tuple[str, ...]:
    found = (
        identifier("device", a.device_id),
        identifier("card", a.card_fingerprint),
        identifier("addr", a.shipping_address_id),
        identifier("ip", a.ip),
    )
    return tuple(i for i in found if i)


def ref_of(a: PaymentAttempted) -> PaymentRef:
    return PaymentRef(
        payment_id=a.payment_id, order_id=a.order_id, amount_minor=a.amount_minor, currency=a.currency,
        method=a.method, initiator=a.initiator, network=a.network,
        card_issuer=a.card_issuer, identifiers=identifiers_of_attempt(a), attempted_at=a.occurred_at,
    )

