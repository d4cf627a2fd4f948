"""The worker's topology: the Faust agents, their topics and tables, and the due-action timer.

- process_customer_events: every input topic plus dunning-due, keyed by customer_id -> decisions, dunning,
  notifications, recovery, refund-decisions, identity-links. One table, `customer-state`, holds each customer's picture.
- index_identities: identity-links, keyed by identifier -> the `identity-index` global table read by the first agent.
- publish_due: a timer that publishes due retries/reminders onto dunning-due (tables cannot be written from a timer).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from agents.rules import dunning

if TYPE_CHECKING:
    import faust

    from agents.runtime import Runtime

def stored_as(codec: str) -> type:
    """A value type for a Faust table whose values are encoded by the named codec (see pipeline/app.py).

    Faust reads a table's serializer from `value_type._options.serializer` and rebuilds values with
    `value_type.from_data`; the codec already returns the finished value, so from_data passes it through.
    """

    def from_data(cls: type, data: Any, preferred_type: Any = None) -> Any:
        return data

    return type(f"StoredAs_{codec}", (), {"_options": SimpleNamespace(serializer=codec),
                                         "from_data": classmethod(from_data)})


INPUTS = ("payments", "devices", "orders", "refunds", "customers", "dunning-due")
REPUBLISH_AFTER_MS = 30_000


def register_agents(app: faust.App, rt: Runtime) -> None:
    from agents.customer_events import CustomerEvents, IdentityIndex
    from pipeline.topics import ALL_TOPICS

    topics = {name: app.topic(name) for name in ALL_TOPICS}
    customers = app.Table("customer-state", default=None, key_type=str, value_type=stored_as("customer_state"))
    due_index = app.Table("due-index", default=None, key_type=str, value_type=stored_as("json"))
    identities = app.GlobalTable("identity-index", default=None, key_type=str, value_type=stored_as("identity_node"))

    async def send(topic: str, key: bytes, value: bytes, headers: Mapping[str, bytes] | None) -> None:
        await topics[topic].send(key=key, value=value, headers=dict(headers) if headers else None)

    customer_events = CustomerEvents(rt, customers, due_index, identities, send)
    identity_index = IdentityIndex(rt, identities, send)

    @app.agent(app.topic(*INPUTS), name="process_customer_events", concurrency=1)
    async def process_customer_events(stream: Any) -> None:
        async for event in stream.events():
            msg = event.message
            await customer_events.process(msg.topic, msg.partition, msg.offset, msg.key, event.value)

    @app.agent(topics["identity-links"], name="index_identities", concurrency=1)
    async def index_identities(stream: Any) -> None:
        async for event in stream.events():
            msg = event.message
            await identity_index.process(msg.topic, msg.partition, msg.offset, msg.key, event.value)

    published: dict[str, int] = {}

    @app.timer(rt.settings.timer_interval_s, name="publish_due")
    async def publish_due() -> None:
        wall = time.time_ns() // 1_000_000
        now = wall if rt.settings.timer_clock == "wall" else customer_events.watermark
        for cid, due_at in list(due_index.items()):
            if due_at is None or due_at > now:
                continue
            state = customers.get(cid)
            for due in dunning.due_actions(state.dunning, cid, now) if state else ():
                if wall - published.get(due.event_id, -REPUBLISH_AFTER_MS) < REPUBLISH_AFTER_MS:
                    continue
                published[due.event_id] = wall
                await send("dunning-due", cid.encode(), rt.codec.encode(due), None)
                rt.metrics.due_published.inc()
        for event_id, at in list(published.items()):
            if wall - at > REPUBLISH_AFTER_MS:
                del published[event_id]
