"""Earlier claims by the same actor across accounts: who is linked to the claimant, and what their claims weigh.

The claimant's identifiers (device, shipping address, card, e-mail) lead to the identity-index nodes; every account
seen on or claiming through those nodes is a candidate. A candidate counts as the same actor when a strong identifier
(device, card, e-mail) ties it to the claimant, or when enough distinct identifiers do (the policy's
`weak_links_needed`): an address alone is shared by households, apartment blocks and hotels, and must not brand a
stranger. The claimant's own history counts too, even for claims made from other devices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agents.rules.identity import IdentityNode, Mark, kind_of
from agents.rules.refunds.history import RefundHistory, cleared_refs, recent_claims
from agents.rules.refunds.policy import RefundPolicy
from agents.rules.timeunits import DAY_MS


@dataclass(frozen=True, slots=True)
class PriorClaims:
    """Distinct earlier claims by the claimant and linked accounts within the look-back window."""

    claims: tuple[Mark, ...] = ()  # oldest first; own claims carry their weighed label as reason
    weight: float = 0.0
    own_claims: int = 0  # of which the claimant's own
    other_accounts: int = 0  # linked accounts other than the claimant that made claims
    via: tuple[str, ...] = ()  # identifier kinds that linked those accounts, strong kinds first

    @property
    def refs(self) -> tuple[str, ...]:
        return tuple(m.ref for m in self.claims)


def linked_accounts(customer_id: str, links: Mapping[str, IdentityNode],
                    policy: RefundPolicy) -> dict[str, frozenset[str]]:
    """Accounts that count as the claimant's actor, each with the identifiers that reach it."""
    reach: dict[str, set[str]] = {}
    for ident, node in links.items():
        for other in node.customer_ids() | {m.customer_id for m in node.claims}:
            reach.setdefault(other, set()).add(ident)
    return {
        c: frozenset(ids) for c, ids in reach.items()
        if c == customer_id or len(ids) >= policy.weak_links_needed
        or any(kind_of(i) in policy.strong_kinds for i in ids)
    }


def prior_claims(h: RefundHistory, links: Mapping[str, IdentityNode], customer_id: str, refund_id: str,
                 policy: RefundPolicy, now: int) -> PriorClaims:
    """Earlier claims (not `refund_id` itself) by the claimant's actor, counted once each by refund id; the
    claimant's own claims that a reviewer cleared do not count."""
    since = now - policy.lookback_days * DAY_MS
    cleared = cleared_refs(h)
    found: dict[str, Mark] = {
        c.refund_id: Mark(customer_id=customer_id, ref=c.refund_id, reason=c.label, at=c.at)
        for c in recent_claims(h, policy, now) if c.refund_id != refund_id
    }
    actors = linked_accounts(customer_id, links, policy)
    for ident in sorted(links):
        for m in links[ident].claims:
            own_cleared = m.customer_id == customer_id and m.ref in cleared
            if m.customer_id in actors and m.ref != refund_id and since <= m.at <= now and not own_cleared:
                found.setdefault(m.ref, m)
    claims = tuple(sorted(found.values(), key=lambda m: (m.at, m.ref)))
    others = {m.customer_id for m in claims} - {customer_id}
    via = sorted({kind_of(i) for c in others for i in actors[c]}, key=lambda k: (k not in policy.strong_kinds, k))
    return PriorClaims(
        claims=claims,
        weight=round(sum(policy.weight_of(m.reason) for m in claims), 6),
        own_claims=sum(1 for m in claims if m.customer_id == customer_id),
        other_accounts=len(others),
        via=tuple(via),
    )
