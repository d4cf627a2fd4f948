"""The identity index: which customers, chargebacks and refund claims each identifier has been seen with.

An identifier is `kind:value` (device, addr, card, email, ip). The index is keyed by identifier and fed by
IdentityLinked records derived from input events; checkout and refund rules read the nodes of the identifiers on
the event in hand. Bounded per node: the most recent customers, chargebacks and claims are kept. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from agents.rules.events import IdentityLinked, LinkKind

STRONG_KINDS = frozenset({"device", "card", "email"})
"""Identifier kinds strong enough to tie two accounts to one person (addresses and IPs are shared by many)."""

MAX_CUSTOMERS = 50
MAX_MARKS = 50


def identifier(kind: str, value: str | None) -> str | None:
    """`kind:value`, or None when there is no value. E-mails are normalised and hashed, never stored raw."""
    if not value:
        return None
    if kind == "email":
        digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:24]
        return f"email:{digest}"
    return f"{kind}:{value}"


def kind_of(ident: str) -> str:
    return ident.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class Mark:
    """A chargeback or refund claim seen on an identifier."""

    customer_id: str
    ref: str  # payment_id or refund_id
    reason: str
    at: int


@dataclass(frozen=True, slots=True)
class IdentityNode:
    identifier: str
    customers: tuple[tuple[str, int], ...] = ()  # (customer_id, last seen ms), most recent first
    chargebacks: tuple[Mark, ...] = ()  # most recent first
    claims: tuple[Mark, ...] = ()  # most recent first

    def customer_ids(self) -> frozenset[str]:
        return frozenset(c for c, _ in self.customers)


def link(
    ident: str, customer_id: str, at: int, kind: LinkKind, source_event_id: str,
    reason: str | None = None, ref: str | None = None,
) -> IdentityLinked:
    """An IdentityLinked record with an id derived from its source, so a replayed source links once."""
    return IdentityLinked(
        event_id=f"{source_event_id}|{ident}|{kind}", identifier=ident, customer_id=customer_id,
        occurred_at=at, kind=kind, reason=reason, ref=ref,
    )


def apply_link(node: IdentityNode | None, rec: IdentityLinked) -> IdentityNode:
    """Fold one link into the node for its identifier; a repeated link (same ref) changes nothing."""
    node = node or IdentityNode(identifier=rec.identifier)
    others = tuple((c, t) for c, t in node.customers if c != rec.customer_id)
    last_seen = max([rec.occurred_at, *(t for c, t in node.customers if c == rec.customer_id)])
    customers = tuple(sorted(((rec.customer_id, last_seen), *others), key=lambda ct: -ct[1]))[:MAX_CUSTOMERS]
    chargebacks, claims = node.chargebacks, node.claims
    if rec.kind != "seen":
        mark = Mark(customer_id=rec.customer_id, ref=rec.ref or rec.event_id, reason=rec.reason or "",
                    at=rec.occurred_at)
        existing = chargebacks if rec.kind == "chargeback" else claims
        if all(m.ref != mark.ref or m.customer_id != mark.customer_id for m in existing):
            merged = tuple(sorted((mark, *existing), key=lambda m: -m.at))[:MAX_MARKS]
            if rec.kind == "chargeback":
                chargebacks = merged
            else:
                claims = merged
    return IdentityNode(identifier=node.identifier, customers=customers, chargebacks=chargebacks, claims=claims)
