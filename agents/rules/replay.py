"""`journey replay`: run the live rules over a file of events, in event-time order, without a broker.

It calls the same `journey.handle` step as the live customer agent and folds identity links into an in-memory index
after each event, as the live index agent does; a flag for a linked account (AccountFlagged, which the live worker
sends through `account-flags` to that account's partition) is folded into that account's state right after the event
that raised it, with the same step; scheduled retries and reminders fire at their due times. So a replay of the
events the live pipeline saw, review verdicts included, yields the same records (compare them by event_id: live
output is ordered per partition, replay output by event time).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from agents.rules.events import AccountFlagged
from agents.rules.identity import IdentityNode, apply
from agents.rules.journey import Context, CustomerState, fire_due, handle, identifiers_needed
from agents.rules.policy import Policy


def replay(
    events: Iterable[Any], policy: Policy, ctx: Context, until: int | None = None,
    states: dict[str, CustomerState] | None = None, index: dict[str, IdentityNode] | None = None,
) -> Iterator[Any]:
    """Yield every output record, as the live pipeline would emit them, for `events` sorted by occurred_at.

    Retries and reminders still pending after the last event fire up to `until` (all of them when None).
    `states` and `index`, when given, start the replay and end up holding the customer states and identity nodes
    as they are after the last event (what the live tables hold).
    """
    states = {} if states is None else states
    index = {} if index is None else index
    ordered = sorted(events, key=lambda e: e.occurred_at)  # stable: ties keep file order
    for event in ordered:
        state = states.get(event.customer_id)
        links = {i: index.get(i) for i in identifiers_needed(event, ctx, state)}
        step = handle(state, event, links, policy, ctx)
        if step.duplicate or step.unchanged:
            continue
        if step.erased:
            states.pop(event.customer_id, None)
        else:
            states[event.customer_id] = step.state
        yield from step.outputs
        for rec in step.links:
            for ident in rec.identifiers:
                node = apply(index.get(ident), ident, rec)
                if node is not None:
                    index[ident] = node
        for flag in (o for o in step.outputs if isinstance(o, AccountFlagged)):
            flagged = handle(states.get(flag.customer_id), flag, {}, policy, ctx)
            if not (flagged.duplicate or flagged.unchanged):
                states[flag.customer_id] = flagged.state
            yield from flagged.outputs
    horizon = until if until is not None else 2**62
    tail: list[Any] = []
    for cid in sorted(states):
        _, fired = fire_due(states[cid], horizon, policy, ctx)
        tail += fired
    yield from sorted(tail, key=lambda r: r.occurred_at)


@dataclass(frozen=True)
class Change:
    key: str  # payment_id or refund_id
    kind: str  # PaymentDecision or RefundDecision
    before: str
    after: str


def compare(base: Iterable[Any], other: Iterable[Any]) -> tuple[int, list[Change]]:
    """Decisions whose outcome differs between two replays of the same events: (decisions compared, changes)."""
    a, b = _outcomes(base), _outcomes(other)
    changes = [Change(key=k[1], kind=k[0], before=a[k], after=b.get(k, "-")) for k in sorted(a) if a[k] != b.get(k)]
    return len(a), changes


def transitions(base: Iterable[Any], other: Iterable[Any]) -> Counter[tuple[str, str, str]]:
    """How many decisions of each kind went from each outcome to each other one: (kind, before, after) -> count.

    Unchanged decisions count too (before == after), so the counts of a kind add up to its decisions; a decision
    missing from the other replay is after "-". Outcomes only: an SCA strategy that changes is in `compare`.
    """
    a, b = _outcomes(base), _outcomes(other)
    return Counter((kind, a[(kind, key)].split("/")[0], b.get((kind, key), "-").split("/")[0]) for kind, key in a)


def _outcomes(records: Iterable[Any]) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for r in records:
        name = type(r).__name__
        if name == "PaymentDecision":
            found[(name, r.payment_id)] = f"{r.outcome}/{r.sca_strategy}"
        elif name == "RefundDecision":
            found[(name, r.refund_id)] = r.outcome
    return found
