"""The identity index: which customers, chargebacks and refund claims each identifier has been seen with.

An identifier is `kind:pseudonym` (device, addr, card, email, ip; the value is the keyed pseudonym of
agents/rules/pseudonyms.py, never the raw value). The index is keyed by identifier and fed by IdentityLinked records
derived from input events; checkout and refund rules read the nodes of the identifiers on the event in hand.
Bounded per node: the most recent customers, chargebacks and claims are kept.

An erased customer leaves a marker on each node they were on (`erased`: customer id and the time up to which they
are gone), so a copy of the node written before the erasure (another worker's, a changelog record applied late)
cannot bring them back when merged; links of theirs after that time count again (a new account under an erased
id starts afresh). Pure: no I/O.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from operator import itemgetter

from agents.rules.dataclass_replace import replace
from agents.rules.events import IdentityErased, IdentityLinked, LinkKind

STRONG_KINDS = frozenset({"device", "card", "email"})
"""Identifier kinds strong enough to tie two accounts to one person (addresses and IPs are shared by many)."""

MAX_CUSTOMERS = 50
MAX_MARKS = 50
MAX_ERASED = 100  # erasure markers kept per node, the most recent (erasures are rare; a node lists 50 customers)


def identifier(kind: str, value: str | None) -> str | None:
    """`kind:value`, or None when there is no value. `value` is already a pseudonym: the step pseudonymises every
    identifier field of an event before anything reads it (agents/rules/pseudonyms.py)."""
    if not value:
        return None
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
    erased: tuple[tuple[str, int], ...] = ()  # (customer_id, gone up to this time), most recent first

    def customer_ids(self) -> frozenset[str]:
        return frozenset(c for c, _ in self.customers)


_FIRST = itemgetter(0)

SEEN_REFRESH_MS = 24 * 3_600_000
"""A customer already on a node, seen there within this long, is not linked again: no record when nothing changes."""


def link(
    idents: tuple[str, ...], customer_id: str, at: int, kind: LinkKind, source_event_id: str,
    reason: str | None = None, ref: str | None = None,
) -> IdentityLinked | None:
    """The one IdentityLinked record of a source event (None without identifiers), with an id derived from its
    source, so a replayed source links once."""
    if not idents:
        return None
    return IdentityLinked(
        event_id=f"{source_event_id}|{kind}", identifiers=tuple(idents), customer_id=customer_id,
        occurred_at=at, kind=kind, reason=reason, ref=ref,
    )


SIGHTED_KINDS = frozenset({*STRONG_KINDS, "addr"})
"""Identifier kinds a sighting (a "seen" link) is recorded on: the strong kinds, whose customers tie accounts
together, and shipping addresses, which the refund rules count as weak links. Not IPs: no rule reads who was seen
on an IP (one IP is shared by everyone behind a carrier's or an office's gateway), only the chargebacks on it, so
a sighting writes no IP node and a hot IP costs no link, index write or changelog record per attempt."""


def changes(ident: str, node: IdentityNode | None, customer_id: str, at: int, kind: LinkKind) -> bool:
    """Would a link of this kind change what the rules read from the identifier's node? A "seen" changes nothing
    on an identifier of a kind sightings are not recorded on, nor on a node that shows the customer recently."""
    if kind != "seen":
        return True
    if kind_of(ident) not in SIGHTED_KINDS:
        return False
    if node is None:
        return True
    last = next((t for c, t in node.customers if c == customer_id), None)
    return last is None or at - last > SEEN_REFRESH_MS


def apply_link(node: IdentityNode | None, ident: str, rec: IdentityLinked) -> IdentityNode:
    """Fold one link into the node of one of its identifiers (see `merge`: the order of links does not matter)."""
    mark = Mark(customer_id=rec.customer_id, ref=rec.ref or rec.event_id, reason=rec.reason or "", at=rec.occurred_at)
    single = IdentityNode(
        identifier=ident,
        customers=((rec.customer_id, rec.occurred_at),),
        chargebacks=(mark,) if rec.kind == "chargeback" else (),
        claims=(mark,) if rec.kind == "claim" else (),
    )
    return merge(node, single)


def erase(node: IdentityNode, customer_id: str, at: int) -> IdentityNode:
    """The node without the customer and their chargebacks and claims, and with a marker that keeps them out of
    every merge with an older copy. The marker's time is the later of `at` and everything of theirs on the node, so
    a clock behind the event times erases them all the same."""
    theirs = [t for c, t in node.customers if c == customer_id]
    theirs += [m.at for m in (*node.chargebacks, *node.claims) if m.customer_id == customer_id]
    return merge(node, IdentityNode(identifier=node.identifier, erased=((customer_id, max([at, *theirs])),)))


def apply(node: IdentityNode | None, ident: str, rec: IdentityLinked | IdentityErased) -> IdentityNode | None:
    """Fold one identity-links record into the node of one of its identifiers (an erasure creates no node)."""
    if isinstance(rec, IdentityErased):
        return None if node is None else erase(node, rec.customer_id, rec.occurred_at)
    return apply_link(node, ident, rec)


def merge(a: IdentityNode | None, b: IdentityNode) -> IdentityNode:
    """The join of two versions of a node: each customer at their latest time, the union of marks and of erasure
    markers, the most recent kept; a customer or mark no later than the customer's erasure marker is left out.
    Commutative, associative and idempotent (up to the bounds), so nodes written from several partitions, or a
    changelog applied twice or out of order, converge on the same value."""
    if a is None:
        a = IdentityNode(identifier=b.identifier)
    if a == b:  # idempotent (a node merged with a copy of itself: the usual case)
        return _bounded(a)
    if (len(b.customers) == 1 and not (a.erased or b.erased or b.chargebacks or b.claims)
            and len(a.customers) <= MAX_CUSTOMERS):
        return _sighted(a, b)  # one customer seen once more on a node: every link does this
    return _joined(a, b)


def _joined(a: IdentityNode, b: IdentityNode) -> IdentityNode:
    """`merge` of any two nodes."""
    if a.erased or b.erased:
        gone = _latest(a.erased, b.erased)
        erased = tuple(sorted(gone.items(), key=lambda ct: (-ct[1], ct[0])))[:MAX_ERASED]
    else:
        gone, erased = {}, ()
    seen = _latest(a.customers, b.customers)
    kept = (ct for ct in seen.items() if ct[1] > gone.get(ct[0], -1)) if gone else seen.items()
    customers = tuple(sorted(kept, key=lambda ct: (-ct[1], ct[0])))[:MAX_CUSTOMERS]
    return IdentityNode(identifier=b.identifier, customers=customers,
                        chargebacks=_union(a.chargebacks, b.chargebacks, gone), claims=_union(a.claims, b.claims, gone),
                        erased=erased)


def _sighted(a: IdentityNode, b: IdentityNode) -> IdentityNode:
    """`merge(a, b)` for `b` a single customer sighting and `a` without erasure markers, without a dict and a sort of
    a's customers (a hot node, one IP behind many customers, is merged into on every link of each of them): the
    customer's older entry is found and the sighting's place bisected. `a` is in the form `merge` returns, as every
    stored node is (each is written from a merge): customers unique, ordered by (-time, id), at most MAX_CUSTOMERS;
    marks unique, ordered and bounded. A test holds the two paths equal."""
    cid, at = b.customers[0]
    customers = a.customers
    if customers:
        try:
            i = list(map(_FIRST, customers)).index(cid)
        except ValueError:
            i = -1
        if i >= 0:
            if customers[i][1] >= at:  # the node already shows them as late: unchanged
                return a if a.identifier == b.identifier else replace(a, identifier=b.identifier)
            customers = customers[:i] + customers[i + 1:]  # their older entry: the sighting replaces it
    # where the sighting goes: first in the usual case (the newest on the node), else before the first entry
    # ordered after it
    pos = 0 if not customers or customers[0][1] < at else bisect_right(customers, (-at, cid), key=_order)
    return IdentityNode(identifier=b.identifier,
                        customers=(*customers[:pos], (cid, at), *customers[pos:])[:MAX_CUSTOMERS],
                        chargebacks=a.chargebacks, claims=a.claims)


def _order(ct: tuple[str, int]) -> tuple[int, str]:
    return -ct[1], ct[0]


def _bounded(node: IdentityNode) -> IdentityNode:
    """`node` as `merge` would return it from itself: already so unless a list is over its bound."""
    if (len(node.customers) <= MAX_CUSTOMERS and len(node.chargebacks) <= MAX_MARKS and len(node.claims) <= MAX_MARKS
            and len(node.erased) <= MAX_ERASED):
        return node
    return merge(IdentityNode(identifier=node.identifier), node)


def _latest(a: tuple[tuple[str, int], ...], b: tuple[tuple[str, int], ...]) -> dict[str, int]:
    found: dict[str, int] = {}
    for c, t in (*a, *b):
        found[c] = max(t, found.get(c, t))
    return found


def _union(a: tuple[Mark, ...], b: tuple[Mark, ...], gone: dict[str, int]) -> tuple[Mark, ...]:
    if not a and not b:
        return ()
    marks: dict[tuple[str, str], Mark] = {}
    for m in (*a, *b):
        if m.at <= gone.get(m.customer_id, -1):
            continue
        key = (m.customer_id, m.ref)
        if key not in marks or (m.at, m.reason) > (marks[key].at, marks[key].reason):
            marks[key] = m
    return tuple(sorted(marks.values(), key=lambda m: (-m.at, m.customer_id, m.ref)))[:MAX_MARKS]
