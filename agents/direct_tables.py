"""The customer agent's table writes without Faust's per-write machinery: the store written at once, the changelog
records handed to the producer together once the batch is written.

Why: a Faust table write (`table[key] = value`) encodes the key twice (store and changelog), wraps the changelog
record in a FutureMessage and a PendingMessage, queues it in the send-soon buffer, whose task awaits each record's
send on its own, and persists the offset from a callback per record: about 120 µs of the worker's CPU per write,
two writes per event (the customer's state and history) at live rates, more than the RocksDB put and the send
themselves.

What a write does here, for a table on RocksDB (the worker's store; the memory store of tests keeps Faust's path):

1. the key is encoded once, by the store's own encoder (the bytes Faust writes: a JSON string), and the value,
   already bytes, is put into the RocksDB database of the current event's partition (`bind` sets it), exactly as
   Faust's store does (its key index updated too), so a read right after finds it;
2. the changelog record (the same key and value bytes; a tombstone for a delete) is queued, for that partition;
3. `send_pending`, which the agent awaits after each batch and before acknowledging its messages, hands every
   queued record to the producer without waiting for each; as each is delivered its offset is persisted in the
   partition's database, as Faust's `_on_changelog_sent` does for at-least-once.

The at-least-once order of agents/customer_events.py holds as before: the writes happen after the batch's outputs
are delivered, and Faust flushes the producer (these records included) before it commits the batch's offsets.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

log = logging.getLogger(__name__)

Send = Callable[..., Awaitable[Any]]
"""send(topic, key, value, headers, partition) -> a future resolving to the record's metadata once delivered; as
agents/customer_events.py `Send`, but a value may be None (a tombstone)."""


class DirectChangelogs:
    """The changelog records of direct table writes, queued until `send_pending`."""

    def __init__(self, send: Send, on_failed: Callable[[], object] | None = None) -> None:
        self._send, self._on_failed = send, on_failed
        self.pending: list[tuple[Any, str, bytes, bytes | None, int]] = []  # (store, topic, key, value, partition)
        self.failed = 0  # changelog records whose delivery failed (logged and counted, not retried: see _delivered)
        self._topics: dict[str, str] = {}  # table name -> its changelog topic

    def write(self, table: Any, key: Any, value: bytes | None) -> bool:
        """Write `table[key] = value` (None: delete) directly; False when the table's store is not RocksDB (then
        the caller takes Faust's own path)."""
        store = table.data
        dbs = getattr(store, "_dbs", None)
        if dbs is None:
            return False
        from faust.streams import current_event

        event = current_event()
        if event is None:
            raise RuntimeError(f"a write of table {table.name!r} outside of a bound event")
        partition = event.message.partition
        raw = store._encode_key(key)
        if value is None:
            for db in store._dbs_for_key(raw):
                db.delete(raw)
            store._key_index.pop(raw, None)
        else:
            store._db_for_partition(partition).put(raw, value)
            store._key_index[raw] = partition
        topic = self._topics.get(table.name)
        if topic is None:
            topic = self._topics[table.name] = table.changelog_topic.get_topic_name()
        self.pending.append((store, topic, raw, value, partition))
        return True

    async def send_pending(self) -> None:
        """Hand every queued changelog record to the producer; each persists its offset once delivered."""
        pending, self.pending = self.pending, []
        for store, topic, key, value, partition in pending:
            future = await self._send(topic, key, value, None, partition)
            future.add_done_callback(partial(self._delivered, store, topic, partition))

    def _delivered(self, store: Any, topic: str, partition: int, future: Any) -> None:
        if future.cancelled() or future.exception() is not None:
            # not retried: a later write of the same key may already be on its way, and a retried older record
            # landing after it would make the changelog end on the stale value (Faust's own path does not retry)
            self.failed += 1
            if self._on_failed is not None:
                self._on_failed()
            log.error("a changelog record of %s[%d] was not delivered: %r", topic, partition,
                      None if future.cancelled() else future.exception())
            return
        from faust.types import TP

        store.set_persisted_offset(TP(topic, partition), future.result().offset)
