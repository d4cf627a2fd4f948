"""Flags that reach linked accounts: one AccountFlagged per account that shares a strong identifier (device, card,
e-mail: agents.rules.identity.STRONG_KINDS) with an account just judged a serial refund claimant or confirmed as
fraud or abuse by a reviewer.

Those accounts live on other partitions, so the record is keyed by the linked account's own customer id and travels
through the internal `account-flags` topic to the customer agent there, which folds it with the same pure step
(state.apply_flag). Its id derives from the source event and the linked account, so a redelivered source event
sends records a consumer recognises, and folding one twice changes nothing. Fan-out is bounded by [reviews]
linked_flag_max_accounts: the accounts sharing the most kinds of identifier, then the most recently seen, first.
Addresses and IPs never flag anyone: households, offices and hotels share them. Pure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from agents.rules.events import AccountFlagged, FlagCause
from agents.rules.identity import STRONG_KINDS, IdentityNode, kind_of
from agents.rules.reviews.policy import ReviewPolicy

READABLE_ID_CHARS = 64
"""A flag id longer than this is hashed: it must stay within the worker's identifier limit (JOURNEY_MAX_ID_CHARS)."""


def flag_id(source_event_id: str, customer_id: str) -> str:
    readable = f"{source_event_id}|flag|{customer_id}"
    if len(readable) <= READABLE_ID_CHARS:
        return readable
    return "flag-" + hashlib.sha256(readable.encode()).hexdigest()[:40]


def linked_accounts(customer_id: str, links: Mapping[str, IdentityNode]) -> dict[str, tuple[tuple[str, ...], int]]:
    """Other accounts on the strong identifiers' nodes: customer -> (kinds shared, strongest first; last seen)."""
    kinds: dict[str, set[str]] = {}
    seen: dict[str, int] = {}
    for ident, node in links.items():
        kind = kind_of(ident)
        if kind not in STRONG_KINDS:
            continue
        for other, at in node.customers:
            if other != customer_id:
                kinds.setdefault(other, set()).add(kind)
                seen[other] = max(at, seen.get(other, at))
    return {c: (tuple(sorted(k)), seen[c]) for c, k in kinds.items()}


def flags_for_linked(customer_id: str, links: Mapping[str, IdentityNode], cause: FlagCause, source_event_id: str,
                     at: int, policy: ReviewPolicy) -> tuple[AccountFlagged, ...]:
    """The records that flag every account linked to `customer_id` through the strong identifiers in `links`."""
    found = linked_accounts(customer_id, links)
    ranked = sorted(found, key=lambda c: (-len(found[c][0]), -found[c][1], c))[:policy.linked_flag_max_accounts]
    return tuple(
        AccountFlagged(event_id=flag_id(source_event_id, other), customer_id=other, occurred_at=at,
                       source_event_id=source_event_id, cause=cause, via=found[other][0])
        for other in sorted(ranked)
    )
