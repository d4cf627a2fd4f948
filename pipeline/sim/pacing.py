"""Delivering a compressed history the way time would: in waves that respect what Kafka and the index guarantee.

Kafka orders a customer's events within one topic, not across topics, and the identity index is fed asynchronously
through identity-links. Real traffic is spread over hours and days, so both questions settle by themselves; a history
replayed onto the topics in seconds (the demo, tests) must be cut into waves instead, each processed before the next:
a wave ends before a customer's next event on a different topic, before an event that reads identifiers another
customer touched in the wave, and after a chargeback (it marks identifiers other customers read).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agents.rules.events import Chargeback, DeviceSeen, PaymentAttempted, RefundRequested
from agents.rules.identity import identifier
from agents.rules.journey import identifiers_of
from agents.rules.ledger import identifiers_of_attempt


def touched(e: Any) -> set[str]:
    """Identifiers whose index nodes this event's links update."""
    if isinstance(e, PaymentAttempted):
        return set(identifiers_of_attempt(e))
    if isinstance(e, RefundRequested):
        return set(identifiers_of(e))
    if isinstance(e, DeviceSeen):
        return {i for i in (identifier("device", e.device_id), identifier("ip", e.ip)) if i}
    return set()


def days(events: Sequence[Any], day_ms: int = 86_400_000) -> list[list[Any]]:
    """Events (in time order) grouped by day: coarse waves for a demo. Cross-customer effects (chargebacks, serial
    claims) span days, so they settle; a customer's same-day events on different topics may still race."""
    out: dict[int, list[Any]] = {}
    first = events[0].occurred_at if events else 0
    for e in events:
        out.setdefault((e.occurred_at - first) // day_ms, []).append(e)
    return [out[k] for k in sorted(out)]


def waves(events: Sequence[Any]) -> list[list[Any]]:
    """Events (in time order) cut into the fewest waves that keep live processing equal to replay."""
    out: list[list[Any]] = [[]]
    topics: dict[str, str] = {}
    idents: dict[str, str] = {}
    for e in events:
        switch = topics.get(e.customer_id, e.TOPIC) != e.TOPIC
        foreign = any(idents.get(i, e.customer_id) != e.customer_id for i in identifiers_of(e))
        if out[-1] and (switch or foreign):
            out.append([])
            topics, idents = {}, {}
        out[-1].append(e)
        topics[e.customer_id] = e.TOPIC
        idents.update(dict.fromkeys(touched(e), e.customer_id))
        if isinstance(e, Chargeback):
            out.append([])
            topics, idents = {}, {}
    return [w for w in out if w]
