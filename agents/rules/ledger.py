"""Recent payments of one customer, so later events that carry only a payment_id (a failure, a chargeback, an
authentication result) can be tied back to the order, amount, card and identifiers of the attempt. Bounded. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from agents.rules.events import PaymentAttempted
from agents.rules.identity import identifier

MAX_PAYMENTS = 50
CARD = "card:"


@dataclass(frozen=True, slots=True)
class PaymentRef:
    payment_id: str
    order_id: str
    amount_minor: int
    currency: str
    method: str
    initiator: str
    network: str | None
    card_issuer: str | None
    identifiers: tuple[str, ...]  # identity-index keys seen on the attempt (the card's among them)
    attempted_at: int
    status: str = "attempted"  # attempted, succeeded, failed
    checkout_outcome: str = ""  # what checkout decided on the attempt: approve, challenge or decline

    @property
    def card_fingerprint(self) -> str | None:
        """The attempt's card (its pseudonym), kept once: as the `card:` identifier."""
        return next((i[len(CARD):] for i in self.identifiers if i.startswith(CARD)), None)


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


def find(payments: tuple[PaymentRef, ...], payment_id: str) -> PaymentRef | None:
    return next((p for p in payments if p.payment_id == payment_id), None)


def remember(payments: tuple[PaymentRef, ...], ref: PaymentRef) -> tuple[PaymentRef, ...]:
    """Newest first; an attempt seen again replaces the old entry."""
    rest = tuple(p for p in payments if p.payment_id != ref.payment_id)
    return (ref, *rest)[:MAX_PAYMENTS]


def mark(payments: tuple[PaymentRef, ...], payment_id: str, status: str) -> tuple[PaymentRef, ...]:
    return tuple(replace(p, status=status) if p.payment_id == payment_id else p for p in payments)
