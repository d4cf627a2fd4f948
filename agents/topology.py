"""The worker's topology: the Faust agents, their topics and tables, and the due-action timer.

- process_customer_events: every input topic plus dunning-due and account-flags, keyed by customer_id -> decisions,
  dunning, notifications, recovery, refund-decisions, identity-links, account-flags (keyed by the linked account).
  One table, `customer-state`, holds each customer's picture; `due-index` and `review-queue` are derived from it;
  `customer-history` (unless JOURNEY_EXPLORER_HISTORY=0) keeps each customer's last records for the explorer
  (agents/history.py), written by the same agent with no second pass over the topics.
- review-queue: a global table, customer id -> their open review cases (OpenReviews), so any worker's explorer lists
  every case without reading every customer (pipeline/explorer/reviews.py).
- index_identities: identity-links, keyed by customer_id (one record per source event) -> the `identity-index` global
  table read by the first agent (its changelog is applied by merging: see `_merging_global_table`), plus the
  progress marks the first agent publishes there (agents/progress.py), kept under `~progress:<partition>`.
- publish_due: a timer that publishes due retries/reminders onto dunning-due (tables cannot be written from a timer).

Both agents take their stream in batches (`take_events`, JOURNEY_BATCH_MAX / JOURNEY_BATCH_LINGER_MS, the index
agent JOURNEY_INDEX_LINGER_MS) and hand them to the Faust-free bodies in agents/. Table values are the bytes of
pipeline/wire/state_codec.py, encoded once by the body (the tables' serializer is `raw`), so a write is encoded once
for RocksDB and its changelog alike.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiokafka.partitioner import DefaultPartitioner

from agents.alignment import TP, Aligner
from agents.batching import Gather, Load
from agents.consumer_gauges import INTERVAL_S, ConsumerGauges
from agents.customer_events import (
    ALIGNED,
    CustomerEvents,
    DecodedValues,
    Headers,
    Incoming,
    Producer,
    Send,
    node_cache,
)
from agents.direct_tables import DirectChangelogs
from agents.due_timer import CatchUp, DueTimer
from agents.history import History
from agents.identity_index import IdentityIndex
from agents.progress import is_progress_key
from agents.rules.identity import IdentityNode, merge
from pipeline.errors import EncodeError
from pipeline.kafka.push import faust_push
from pipeline.topics import INPUT_TOPICS
from pipeline.wire import state_codec

if TYPE_CHECKING:
    import faust

    from agents.runtime import Runtime

CUSTOMER_INPUTS = (*INPUT_TOPICS, "dunning-due", "account-flags")
RELEASE_INTERVAL_S = 0.05  # how often `release_held` looks for held events, gathered batches and marks to send
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registered:
    """What the web layer needs from the topology: the review queue to list, and a way to send a record."""

    review_queue: Any  # the `review-queue` global table: customer id -> OpenReviews bytes
    send: Send
    histories: Any | None  # the `customer-history` table (None when the explorer's history is off)


def incoming(event: Any) -> Incoming:
    m = event.message
    headers = list(m.headers.items()) if isinstance(m.headers, dict) else list(m.headers or ())
    stamp = getattr(m, "timestamp", None)  # seconds (float) in Faust's Message
    return Incoming(m.topic, m.partition, m.offset, m.key, m.value, headers, source=event,
                    timestamp_ms=None if stamp is None else int(stamp * 1000))


def bind(msg: Incoming) -> None:
    """Faust routes a table write to the partition of the stream's current event; a batch sets it per write."""
    from faust.streams import _current_event

    _current_event.set(weakref.ref(msg.source))


def register_agents(app: faust.App, rt: Runtime) -> Registered:
    s = rt.settings
    raw: dict[str, Any] = {"key_type": str, "value_type": bytes, "default": None}  # the app's serializer is raw

    async def send(topic: str, key: bytes, value: bytes, headers: Headers | None, partition: int | None) -> Any:
        return await app.producer.send(topic, key, value, partition, None, headers)

    # the customer agent's table writes (agents/direct_tables.py)
    changelogs = DirectChangelogs(send, rt.metrics.changelog_failures.inc)
    customers = _table(app, "customer-state", direct=changelogs, **raw)
    # customer id -> their next due time, as decimal ASCII
    due_index = _table(app, "due-index", direct=changelogs, **raw)
    nodes = node_cache()  # identity nodes kept decoded, shared by the index table's joins and both agents
    identities = _merging_global_table(app, "identity-index", NodeJoins(nodes), _raw_node, **raw)
    # customer id -> their open review cases; written only by the owner of the customer's partition
    review_queue = _table(app, "review-queue", is_global=True, direct=changelogs, **raw)

    producer = Producer(send, on_retry=rt.metrics.send_retries.inc, push=lambda: faust_push(app))
    catch_up = CatchUp(highwater=_highwater(app), start=_start(app), processed={})
    aligner = Aligner(s.align_max_hold_s, s.align_max_held, ALIGNED,
                      on_forced=lambda why: rt.metrics.align_forced.labels(why).inc())
    kept = history(app, rt, changelogs)
    customer_events = CustomerEvents(rt, customers, due_index, identities, producer, bind, aligner, catch_up.read_up,
                                     review_queue, kept, nodes)
    catch_up.processed = customer_events.processed
    identity_index = IdentityIndex(rt, identities, producer, bind, nodes)
    streams: list[Any] = []

    async def ack(done: list[Incoming]) -> None:
        await changelogs.send_pending()  # the batch's table writes, before its messages are acknowledged
        for msg in done:
            await streams[0].ack(msg.source)

    def behind() -> bool:
        """Do the partitions this worker reads hold at least a batch it has not read yet?"""
        unread = 0
        for tp, next_read in list(customer_events.read.items()):
            end = catch_up.highwater(tp)
            if end is not None:
                unread += max(0, end - next_read)
        return unread >= s.batch_max

    gather: Gather[Any] = Gather(s.batch_catchup_max, s.batch_catchup_s, behind, busy_s=s.batch_busy_s,
                                 busy=Load().busy)

    async def process(events: list[Any]) -> None:
        await ack(await customer_events.process_batch([incoming(e) for e in events]))

    @app.agent(app.topic(*CUSTOMER_INPUTS), name="process_customer_events", concurrency=1)
    async def process_customer_events(stream: Any) -> None:
        streams[:] = [stream]
        # noack: a message held for event-time alignment (agents/alignment.py) is acknowledged once processed
        async for events in stream.noack_take(s.batch_max, s.batch_linger_s):
            batch = gather.add(events)  # larger batches while behind (agents/batching.py)
            if batch:
                await process(batch)

    @app.agent(app.topic("identity-links"), name="index_identities", concurrency=1)
    async def index_identities(stream: Any) -> None:
        # its own linger (JOURNEY_INDEX_LINGER_MS): the customer agent reads its links in flight at once, so a
        # longer wait costs no decision any latency and writes a hot node once for more of its links
        async for events in stream.take_events(s.batch_max, s.index_linger_s):
            await identity_index.process_batch([incoming(e) for e in events])

    partitioner = DefaultPartitioner()
    all_partitions = list(range(s.partitions))

    def partition_of(cid: str) -> int:
        """The producers' murmur2 partition of a customer: the partition all of their topics put them on."""
        return int(partitioner(cid.encode(), all_partitions, all_partitions))

    timer = DueTimer(rt, customer_events, due_index, producer, catch_up, partition_of)
    assigned: list[frozenset[Any]] = [frozenset()]

    def on_assignment() -> None:
        now_assigned = frozenset(app.consumer.assignment())
        if now_assigned != assigned[0]:
            assigned[0] = now_assigned
            catch_up.reset()
            mine = {tp.partition for tp in now_assigned if tp.topic in INPUT_TOPICS}
            customer_events.drop_partitions(mine.__contains__)
            aligner.assign(mine)
            gather.drop(lambda e: e.message.tp not in now_assigned)  # another worker's now

    @app.timer(s.timer_interval_s, name="publish_due")
    async def publish_due() -> None:
        on_assignment()
        shrunk = customer_events.log_shrunk(catch_up.highwater)
        if shrunk is not None:
            _stop_for_lost_log(*shrunk)
        await timer.tick(time.time_ns() // 1_000_000)

    gauges = ConsumerGauges(rt.metrics, _highwater(app), _start(app), customer_events.processed, CUSTOMER_INPUTS)

    def on_partitions_assigned(_app: Any, /, *args: Any, signal: Any, **_: Any) -> None:  # args: (assignment,)
        gauges.assigned(args[0])

    app.on_partitions_assigned.connect(on_partitions_assigned)
    _stop_when_recovery_finds_a_lost_log(app)

    @app.timer(INTERVAL_S, name="consumer_gauges")
    async def consumer_gauges() -> None:
        await gauges.update()

    @app.task
    async def release_held() -> None:
        """Every RELEASE_INTERVAL_S: processes a gathered batch whose time is up, releases held events whose wait is
        over, and sends the progress marks (also when nothing arrives). A loop, not a Faust timer: while catching up,
        one round processes a gathered batch of up to JOURNEY_BATCH_CATCHUP_MAX events, longer than the interval,
        and a timer would warn that it overlaps on every such round."""
        while True:
            await asyncio.sleep(RELEASE_INTERVAL_S)
            if streams:
                on_assignment()
                gathered = gather.due()
                if gathered:
                    await process(gathered)
                await ack(await customer_events.tick())

    return Registered(review_queue=review_queue, send=send, histories=None if kept is None else kept.histories)


def history(app: faust.App, rt: Runtime, direct: DirectChangelogs | None = None) -> History | None:
    """The `customer-history` table, kept by the customer agent (None when JOURNEY_EXPLORER_HISTORY is 0)."""
    limit = rt.settings.explorer_history
    if limit <= 0:
        return None
    histories = _table(app, "customer-history", key_type=str, value_type=bytes, default=None, direct=direct)
    return History(histories, limit, redactor(rt))


def redactor(rt: Runtime) -> Callable[[Any], bytes | None]:
    """An input event as the history may keep it: pseudonymised, personal fields emptied, re-encoded."""
    pseudonyms = rt.context.pseudonyms

    def redact(event: Any) -> bytes | None:
        try:
            return rt.codec.encode(pseudonyms.redacted(event))
        except EncodeError:
            return None

    return redact


def _stop_when_recovery_finds_a_lost_log(app: faust.App) -> None:
    """Faust's table recovery of a running worker may meet the lost log before `log_shrunk` does (after the broker
    came back empty, a rebalance restarts recovery, which finds a changelog ending before the local table): stop
    with the same one sentence instead of Faust's ConsistencyError traceback."""
    from faust.exceptions import ConsistencyError

    recovery: Any = getattr(app.tables, "recovery")  # noqa: B009 - not in TableManagerT, but always there
    crash = recovery.crash

    async def crash_or_stop(reason: BaseException) -> None:
        if isinstance(reason, ConsistencyError):
            _exit_for_lost_log("a table's changelog now ends before this worker's local state")
        await crash(reason)

    recovery.crash = crash_or_stop


def _stop_for_lost_log(tp: TP, end: int, read: int) -> None:
    """Exit at once with one sentence: state is consistent at every moment (see customer_events), so this is as safe
    as a crash, and the next start finds its local state ahead of the changelogs and rebuilds it (or says how)."""
    _exit_for_lost_log(f"{tp[0]}[{tp[1]}] now ends at offset {end}, this worker had read up to {read}")


def _exit_for_lost_log(what: str) -> None:
    """The one sentence, and exit 3 at once (state is consistent at every moment: as safe as a crash)."""
    print(f"journey worker: the broker lost its topics ({what}); stopping: start the worker again to rebuild its "
          "local state", file=sys.stderr, flush=True)
    os._exit(3)


def _highwater(app: faust.App) -> Any:
    def highwater(tp: TP) -> int | None:
        try:
            end = app.consumer.highwater(_tp(tp))
        except Exception:  # noqa: BLE001 - consumer not started or partition not assigned: not caught up
            return None
        return None if end is None else int(end)

    return highwater


def _start(app: faust.App) -> Any:
    async def start(tp: TP) -> int:
        """Where the group resumes a partition: its committed offset, or the log start."""
        thread: Any = getattr(app.consumer, "_thread")  # noqa: B009 - aiokafka's committed() runs on Faust's thread
        consumer = thread._ensure_consumer()
        committed = await thread.call_thread(consumer.committed, _tp(tp))
        if committed is not None:
            return int(committed)
        earliest = await app.consumer.earliest_offsets(_tp(tp))
        return int(next(iter(earliest.values()), 0) or 0)

    return start


def _tp(tp: TP) -> Any:
    from faust.types import TP as FaustTP

    return FaustTP(tp[0], tp[1])


def _table(app: faust.App, name: str, *, is_global: bool = False, direct: DirectChangelogs | None = None,
           **kwargs: Any) -> Any:
    """A table (a global one with `is_global`) whose `get` reads its store once: Faust's, through mode's
    FastUserDict, asks the store whether it holds the key and then reads it, two RocksDB reads per look-up. With
    `direct`, writes skip Faust's per-write machinery (agents/direct_tables.py)."""
    from faust import GlobalTable, Table

    class OneReadTable(GlobalTable if is_global else Table):  # type: ignore[misc]
        def get(self, key: Any, default: Any = None) -> Any:
            self.on_key_get(key)
            try:
                return self.data[key]  # the store raises KeyError for a key it does not hold
            except KeyError:
                return default

        def __setitem__(self, key: Any, value: Any) -> None:
            if direct is None or value is None or not direct.write(self, key, value):
                super().__setitem__(key, value)

        def __delitem__(self, key: Any) -> None:
            if direct is None or not direct.write(self, key, None):
                super().__delitem__(key)

    if is_global:  # as app.GlobalTable makes one: other workers' changes applied as they come
        kwargs.update(is_global=True, standby_buffer_size=1)
    return app.tables.add(OneReadTable(app, name=name, beacon=app.tables.beacon, **kwargs))


JOINS_KEPT = 20_000  # joins of several copies remembered, by key (hot nodes: the keys read and written the most)


class NodeJoins:
    """How the identity index's copies combine (see `_merging_global_table`): nodes by `merge`, a progress mark by
    replacing the one before (agents/progress.py). Each copy is decoded once while its bytes stay the same, and
    the join of the same copies is made once: a hot node (one IP behind many customers) has a copy on every
    partition its customers are on, and is read by every event of each of them."""

    def __init__(self, nodes: DecodedValues[IdentityNode]) -> None:
        self.nodes = nodes  # identifier -> its joined node, by the bytes read (shared with the agents)
        self._copies = node_cache()  # "<partition>|<identifier>" -> that partition's copy
        self._joins: dict[str, tuple[tuple[bytes, ...], bytes]] = {}

    def merge(self, key: str, current: bytes | None, incoming: bytes) -> bytes:
        """A changelog record applied to what the table holds."""
        if current is None or current == incoming or is_progress_key(key):
            return incoming  # a progress mark replaces the one before; a node merged with itself
        node = merge(self.nodes.get(key, current), state_codec.loads(IdentityNode, incoming))
        data = state_codec.dumps(node)
        self.nodes.put(key, data, node)
        return data

    def join(self, key: str, copies: list[tuple[int, bytes]]) -> bytes:
        """The join of two or more partitions' copies of a key, as (partition, bytes)."""
        if is_progress_key(key):
            return copies[-1][1]
        seen = tuple(data for _, data in copies)
        known = self._joins.get(key)
        if known is not None and known[0] == seen:
            return known[1]
        node: IdentityNode | None = None
        for p, data in copies:
            # a copy this worker wrote is usually what the agents last decoded (the index agent puts what it writes)
            copy = self.nodes.peek(key, data) or self._copies.get(f"{p}|{key}", data)
            node = copy if node is None else merge(node, copy)
        assert node is not None
        joined = state_codec.dumps(node)
        self.nodes.put(key, joined, node)
        self._joins.pop(key, None)
        self._joins[key] = (seen, joined)
        if len(self._joins) > JOINS_KEPT:
            self._joins.pop(next(iter(self._joins)))
        return joined


def _raw_node(key: str, value: bytes) -> bool:
    """A node written before identifiers were pseudonymised (progress marks are not nodes: never skipped)."""
    return not is_progress_key(key) and state_codec.pre_pseudonym(IdentityNode, value)


UNREAD_KEPT = 100_000  # own identity-index writes remembered until read back (see 4 in `_merging_global_table`)


def _merging_global_table(app: faust.App, name: str, joins: NodeJoins, skip: Callable[[str, bytes], bool],
                          **kwargs: Any) -> Any:
    """A global table whose changelog is applied by merging, not overwriting, and read as the join of its copies.

    Every worker keeps a copy of the identity index and the index agents of several workers write to it; each
    writes a node merged from its own copy, bound to the partition of its source message, so one key can have
    records on several changelog partitions (a card used by customers on different partitions). A plain overwrite
    would let one worker's write undo another's. `agents.rules.identity.merge` is a join (commutative, associative,
    idempotent), so applying every changelog record by merging converges on the same node everywhere, whatever the
    order. Three things Faust (faust-streaming 0.15) does differently, each overridden here, and a fourth that
    saves work:

    1. A changelog record's key is the JSON the table's key serializer wrote (b'"card:x"'), not the key: the
       current value is looked up by the event's decoded key (`event.key`), or it is never found and the record
       overwrites. The merged value is put in `event.value` as well as `message.value`: the memory store applies
       the former, RocksDB the latter.
    2. The RocksDB store keeps one database per changelog partition and, for a global table, reads a key from the
       partition it last wrote or first found it in (`_key_index`, an LRU cache, empty after a restart), while
       applying a changelog record writes the record's partition without updating that index: after another
       worker's record lands in partition B, reads kept returning partition A's older copy. So `get` returns the
       join of every partition's copy (one copy, the usual case, is returned as it is, undecoded; the join of
       several is made once for the same copies, `NodeJoins`).
    3. The assignor gives every worker each partition of a global table's changelog as an active one (so it is
       recovered at start) and those another worker owns also as standbys (read on afterwards). Recovery files an
       event under `recovery_buffer_size` when its partition is active, even one read as a standby after recovery
       (faust/tables/recovery.py `_slurp_changelogs`), so other workers' records waited in a buffer of 1000 that
       only a full buffer or the next rebalance flushes: a worker never saw the others' nodes nor progress marks
       until then (faust-streaming issues #212 and #283 describe the same). `recovery_buffer_size=1`, as
       GlobalTable's own docstring advises for several instances, applies each record as it arrives; it also makes
       Faust read on the partitions the worker writes itself (its own records merge into what it holds: no change).
    4. So a worker reads every record it wrote back from the changelog, and merging it changes nothing: its copy
       already holds that value, or a join including it. Its own writes not read back yet are remembered (key and
       bytes) and skipped when they come back, their offsets persisted as applied: no decoding, merging and
       rewriting of a hot node (one IP behind many customers) for each of its writes. After a restart nothing is
       remembered and recovery applies every record.

    Records `skip` says are unusable (nodes written before identifiers were pseudonymised: keyed by raw ones) are
    not applied; a warning says how many and how to purge them. The table is never written a tombstone (erasure
    leaves markers in nodes); one would delete the key from its partition only.
    """
    from faust.tables.globaltable import GlobalTable

    class MergingGlobalTable(GlobalTable):
        def __init__(self, *args: Any, **kw: Any) -> None:
            super().__init__(*args, **kw)
            # (key, value) -> how many of this worker's own writes of it have not been read back from the changelog
            self.unread: dict[tuple[str, bytes], int] = {}

        def __setitem__(self, key: str, value: Any) -> None:
            super().__setitem__(key, value)
            unread = self.unread
            if len(unread) >= UNREAD_KEPT:
                unread.clear()  # a worker that stopped reading its own writes back (it lost the partition)
            unread[(key, value)] = unread.get((key, value), 0) + 1

        def own_write(self, key: Any, value: bytes | None) -> bool:
            """Is this changelog record one this worker wrote itself? Then the local copy already holds it, or a
            join including it (a node only grows by merging), and applying it again would change nothing."""
            unread = self.unread
            if not unread or value is None or not isinstance(key, str):
                return False
            n = unread.get((key, value), 0)
            if n <= 0:
                return False
            if n == 1:
                del unread[(key, value)]
            else:
                unread[(key, value)] = n - 1
            return True

        def __getitem__(self, key: str) -> Any:
            self.on_key_get(key)
            value = self.joined(key)
            return self.__missing__(key) if value is None else value

        def joined(self, key: str) -> bytes | None:
            """The join of every changelog partition's copy of a key (see 2 above)."""
            store: Any = self.data
            dbs = getattr(store, "_dbs", None)
            if dbs is None:  # the memory store: one value per key, every record merged into it
                return store.get(key)
            raw_key = store._encode_key(key)
            copies = [(p, v) for p, v in ((p, db.get(raw_key)) for p, db in list(dbs.items())) if v is not None]
            if not copies:
                return None
            if len(copies) == 1:
                return copies[0][1]
            return joins.join(key, copies)

        def apply_changelog_batch(self, batch: Any) -> None:
            events = list(batch)
            own = [e for e in events if self.own_write(e.key, e.message.value)]
            if own:  # see 4 above: nothing to apply, but their offsets count as applied
                store: Any = self.data
                persist = getattr(store, "set_persisted_offset", None)
                if persist is not None:
                    for e in own:
                        persist(e.message.tp, e.message.offset)
                skipped = {id(e) for e in own}
                events = [e for e in events if id(e) not in skipped]
            kept = [e for e in events if e.message.value is None or not skip(e.key, e.message.value)]
            if len(kept) < len(events):
                log.warning("%d %s changelog record(s) written before identifiers were pseudonymised are ignored; "
                            "delete the topic %s to purge their raw identifiers", len(events) - len(kept), name,
                            self.changelog_topic.get_topic_name())
                events = kept
            merged: dict[str, bytes] = {}
            for event in events:
                msg = event.message
                if msg.value is None or event.key is None:
                    merged.pop(event.key, None)
                    continue
                current = merged.get(event.key)
                if current is None:
                    current = self.joined(event.key)
                msg.value = event.value = merged[event.key] = joins.merge(event.key, current, msg.value)
            super().apply_changelog_batch(events)

    table = MergingGlobalTable(app, name=name, beacon=app.tables.beacon, standby_buffer_size=1,
                               recovery_buffer_size=1, is_global=True, **kwargs)
    return app.tables.add(table)
