"""The identity index agent's body: IdentityLinked and IdentityErased records in, the `identity-index` global table
updated; progress marks (InputsProcessed) stored behind them.

Batches like the customer agent (agents/customer_events.py): each node is decoded once per batch, every record of the
batch is folded in (`agents.rules.identity.apply`: a link adds, an erasure removes the customer and leaves its
marker), and each changed node is written once per partition whose records changed it (a table write goes to the
changelog partition of its source message). Dead letters are delivered before any node is written.

Progress marks (`InputsProcessed`, agents/progress.py) are written into the table under `~progress:<partition>`
after the batch's nodes, bound to their own message: on every changelog partition a mark comes after the nodes the
records before it changed, so a worker whose copy holds the mark holds those links too.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from functools import partial

from agents.customer_events import (
    Bind,
    DecodedValues,
    Incoming,
    Outgoing,
    Producer,
    no_bind,
    node_cache,
    wait_for_registry,
)
from agents.progress import progress_key
from agents.rules.events import IdentityErased, IdentityLinked, InputsProcessed
from agents.rules.identity import IdentityNode, apply
from agents.runtime import Runtime
from pipeline.wire import state_codec
from pipeline.wire.dead_letters import DeadLetter, triage


class IdentityIndex:
    """Folds identity-links records (keyed by customer id) into the identity index table."""

    def __init__(self, rt: Runtime, identities: MutableMapping[str, bytes | None], producer: Producer,
                 bind: Bind = no_bind, nodes: DecodedValues[IdentityNode] | None = None) -> None:
        self.rt, self.identities, self.producer, self.bind = rt, identities, producer, bind
        # nodes kept decoded while the table holds their bytes: a hot node is read by every batch (shared with the
        # customer agent, which reads what this one writes)
        self._nodes = nodes if nodes is not None else node_cache()

    async def process_batch(self, messages: Iterable[Incoming]) -> None:
        nodes: dict[str, IdentityNode | None] = {}
        changed: dict[str, IdentityNode] = {}
        source: dict[str, dict[int, Incoming]] = {}  # ident -> partition -> the last message that changed it
        marks: dict[int, Incoming] = {}  # partition -> its latest mark in the batch
        parked: list[Outgoing] = []
        s = self.rt.settings
        for msg in messages:
            found = await wait_for_registry(self.rt, partial(
                triage, self.rt.codec, msg.topic, msg.partition, msg.offset, msg.key, msg.value, msg.headers,
                max_value_bytes=s.max_value_bytes, max_id_chars=s.max_id_chars,
                accepts=(IdentityLinked, IdentityErased, InputsProcessed)))
            if isinstance(found, DeadLetter):
                parked.append(Outgoing(found.topic, found.key, found.value, list(found.headers.items())))
                self.rt.metrics.dead_letters.labels(msg.topic, found.reason).inc()
                continue
            if isinstance(found.event, InputsProcessed):
                if found.event.partition == msg.partition:  # a mark describes the partition it travels on
                    marks[msg.partition] = msg
                continue
            rec: IdentityLinked | IdentityErased = found.event
            for ident in rec.identifiers:
                if ident not in nodes:
                    data = self.identities.get(ident)
                    nodes[ident] = None if data is None else self._nodes.get(ident, data)
                updated = apply(nodes[ident], ident, rec)
                # an erasure is written to every partition it arrives on (it is sent to each): every changelog
                # partition's copy of the node is rewritten without the customer
                if updated is not None and (updated != nodes[ident] or isinstance(rec, IdentityErased)):
                    nodes[ident] = changed[ident] = updated
                    source.setdefault(ident, {})[msg.partition] = msg
        await self.producer.deliver(parked)
        for ident, node in changed.items():
            data = state_codec.dumps(node)
            self._nodes.put(ident, data, node)
            for msg in source[ident].values():
                self.bind(msg)
                self.identities[ident] = data
        for p, msg in marks.items():
            self.bind(msg)
            self.identities[progress_key(p)] = msg.value
