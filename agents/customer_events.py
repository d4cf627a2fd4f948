"""The customer agent's body: decode, deduplicate, run the pure journey step, emit, store.

Kept free of Faust so that the Faust agent (agents/__init__.py) stays a few lines and tests can drive it with plain
dicts. Order matters for at-least-once delivery: outputs are sent before the new state is stored, so a worker that
dies in between re-runs the event on restart and re-sends records with the same deterministic event ids (notifiers
deduplicate on them) instead of storing a state whose messages were never sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, cast

from agents.rules import dunning, journey
from agents.rules.events import INPUT_TYPES, DueAction, InputEvent
from agents.rules.identity import IdentityNode, apply_link
from agents.runtime import Runtime
from pipeline.errors import DecodeError, RegistryError
from pipeline.topics import dlq_topic

Send = Callable[[str, bytes, bytes, Mapping[str, bytes] | None], Awaitable[None]]
"""send(topic, key, value, headers)"""


def dead_letter_headers(err: DecodeError, topic: str, partition: int, offset: int) -> dict[str, bytes]:
    """Kafka Connect-style error headers, so any Kafka tool shows why a message was parked."""
    return {
        "error.reason": err.reason.encode(),
        "error.message": str(err).encode()[:500],
        "error.topic": topic.encode(),
        "error.partition": str(partition).encode(),
        "error.offset": str(offset).encode(),
    }


async def decode_waiting_for_registry(rt: Runtime, value: bytes) -> Any:
    """Decode; while the schema registry is unreachable, wait and retry rather than park good bytes or crash.

    Holding the partition is the right trade: its later events for the same customers must not overtake this one.
    """
    delay = 0.5
    while True:
        try:
            return rt.codec.decode(value)
        except RegistryError:
            rt.metrics.registry_waits.inc()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


class CustomerEvents:
    """Processes one message from an input topic (or dunning-due) for the customer it is keyed by."""

    def __init__(
        self,
        rt: Runtime,
        customers: MutableMapping[str, Any],
        due_index: MutableMapping[str, Any],
        identities: Mapping[str, Any],
        send: Send,
    ) -> None:
        self.rt, self.customers, self.due_index, self.identities, self.send = rt, customers, due_index, identities, send
        self.ctx = rt.context
        self.watermark = 0  # latest event time processed: the timer's clock when replaying history

    async def process(self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes) -> None:
        started = time.perf_counter()
        m = self.rt.metrics
        event: Any
        try:
            event = await decode_waiting_for_registry(self.rt, value)
            if not isinstance(event, (*INPUT_TYPES, DueAction)) or getattr(event, "TOPIC", None) != topic:
                raise DecodeError("wrong_topic", f"{type(event).__name__} does not belong on topic {topic}")
        except DecodeError as err:
            await self.send(dlq_topic(topic), key or b"", value, dead_letter_headers(err, topic, partition, offset))
            m.dead_letters.labels(topic, err.reason).inc()
            return
        event = cast("InputEvent | DueAction", event)
        cid = event.customer_id
        self.watermark = max(self.watermark, event.occurred_at)
        links = {i: self.identities.get(i) for i in journey.identifiers_needed(event)}
        step = journey.handle(self.customers.get(cid), event, links, self.rt.policy, self.ctx)
        if step.duplicate:
            m.duplicates.labels(topic).inc()
            return
        key_bytes = cid.encode()
        for record in step.outputs:
            await self.send(record.TOPIC, key_bytes, self.rt.codec.encode(record), None)
            self._count(record)
        for rec in step.links:
            await self.send(rec.TOPIC, rec.identifier.encode(), self.rt.codec.encode(rec), None)
        self.customers[cid] = step.state
        self._index_due(cid, dunning.next_due(step.state.dunning))
        m.events.labels(topic, type(event).__name__).inc()
        m.processing.labels(topic).observe(time.perf_counter() - started)

    def _index_due(self, cid: str, next_due: int | None) -> None:
        if next_due is None:
            if self.due_index.get(cid) is not None:
                self.due_index[cid] = None
        elif self.due_index.get(cid) != next_due:
            self.due_index[cid] = next_due

    def _count(self, record: Any) -> None:
        m = self.rt.metrics
        name = type(record).__name__
        if name == "PaymentDecision":
            m.decisions.labels(record.outcome, record.sca_strategy).inc()
        elif name == "DunningStep":
            m.dunning_steps.labels(record.action, record.decline_class, record.variant).inc()
            if record.action == "case_opened":
                m.cases_opened.labels(record.decline_class, record.variant).inc()
        elif name == "PaymentRecovered":
            m.recoveries.labels(record.decline_class, record.variant, record.recovered_by).inc()
        elif name == "RefundDecision":
            m.refund_decisions.labels(record.outcome).inc()
        elif name == "Notification":
            m.notifications.labels(record.channel).inc()


class IdentityIndex:
    """Folds IdentityLinked records (keyed by identifier) into the identity index table."""

    def __init__(self, rt: Runtime, identities: MutableMapping[str, Any], send: Send) -> None:
        self.rt, self.identities, self.send = rt, identities, send

    async def process(self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes) -> None:
        try:
            rec = await decode_waiting_for_registry(self.rt, value)
            if type(rec).__name__ != "IdentityLinked":
                raise DecodeError("wrong_topic", f"{type(rec).__name__} does not belong on topic {topic}")
        except DecodeError as err:
            await self.send(dlq_topic(topic), key or b"", value, dead_letter_headers(err, topic, partition, offset))
            self.rt.metrics.dead_letters.labels(topic, err.reason).inc()
            return
        node: IdentityNode | None = self.identities.get(rec.identifier)
        updated = apply_link(node, rec)
        if updated != node:
            self.identities[rec.identifier] = updated
