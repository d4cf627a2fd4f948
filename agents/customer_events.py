"""The customer agent's body: a batch of messages in, decisions out, state stored, in an order that loses nothing.

Kept free of Faust so that the Faust agent (agents/topology.py) stays a few lines and tests can drive it with plain
dicts and a recording producer.

**The at-least-once rule, in one place.** For every batch:

1. each message is triaged (pipeline/wire/dead_letters.py): it decodes to an input event, or it is parked on its
   dead-letter topic with the reason; nothing a message holds can raise out of here;
2. each customer's state is read and decoded once, the pure step (`agents.rules.journey.handle`) runs for each of
   their events in offset order, and every output record is encoded (a step or an encoding that fails parks the
   input event with reason `step_failed`: that event changes no state and sends nothing);
3. every output and dead letter of the batch is handed to the producer without waiting for each, then the batch
   waits until the broker has acknowledged all of them (failed sends are retried, with the same bytes, until they
   succeed: the partition waits rather than skip a decision);
4. only then is each changed customer's state written, once per batch (one table write, one changelog record),
   and with it the customer's entries in the small index tables derived from it (`due-index`: their next due time;
   `review-queue`: their open review cases; `customer-history`: the explorer's records, agents/history.py), so an
   index is never ahead of the state it derives from either; each erased customer's state, due-index, review-queue
   and history entries are deleted (a tombstone in each changelog);
5. the agent hands the changelog records of step 4 to the producer (agents/direct_tables.py) and acks the
   batch's messages; offsets are committed after that, and Faust flushes the producer (so those changelog
   records) before it commits.

Events held for event-time alignment (agents/alignment.py) are neither processed nor acknowledged until released.
The progress marks of a batch (agents/progress.py) go out with the next delivery, behind the batch's links.

So the stored state is never ahead of the delivered outputs. A worker killed before 3 completes stores nothing and
re-runs the batch when it comes back, re-sending records with the same deterministic ids (consumers deduplicate on
them); killed between 3 and 4, the same; killed after 4 but before the commit, it comes back with the state its
changelog holds (the tables are written without RocksDB's log: pipeline/worker/unlogged_tables.py), so the
redelivered events are found in the state's deduplication window and skipped, their outputs delivered, or, where
the state's changelog record had not reached the broker, run again as before. Nothing is decided twice differently
and nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from agents.alignment import TP, Aligner
from agents.history import History
from agents.progress import Pending, Progress, RemoteGate, progress_key
from agents.rules import dunning, journey
from agents.rules.events import AccountFlagged, IdentityErased, InputsProcessed
from agents.rules.identity import IdentityNode, apply
from agents.rules.journey import CustomerState, Event
from agents.rules.reviews import OpenReviews
from agents.runtime import Runtime
from pipeline.errors import DecodeError, RegistryError, SchemaLookupNeeded
from pipeline.topics import INPUT_TOPICS
from pipeline.wire import state_codec
from pipeline.wire.dead_letters import DeadLetter, Decoded, step_failed, triage
from pipeline.wire.headers import cloudevent_headers, event_source

log = logging.getLogger(__name__)

FLAGS = AccountFlagged.TOPIC
ALIGNED = (*INPUT_TOPICS, FLAGS)
"""Topics whose events are released in event-time order (agents/alignment.py): the inputs, and the flags linked
accounts receive, which must reach an account before its later events do, as in `journey replay`."""

T = TypeVar("T")
DECODED_KEPT = 20_000  # states (about 2 KB each in memory) and identity nodes kept decoded, each


class DecodedValues(Generic[T]):
    """Table values kept decoded, by key, for as long as the table holds the very bytes they came from: another
    worker's write, a rebalance or a recovery changes the bytes, and they are decoded again. The least recently
    stored go first."""

    def __init__(self, decode: Callable[[bytes], T], limit: int = DECODED_KEPT) -> None:
        self.decode, self.limit = decode, limit
        self._kept: dict[str, tuple[bytes, T]] = {}

    def get(self, key: str, data: bytes) -> T:
        known = self._kept.get(key)
        if known is not None and known[0] == data:
            return known[1]
        value = self.decode(data)
        self.put(key, data, value)
        return value

    def peek(self, key: str, data: bytes) -> T | None:
        """The value kept for `key` if it came from these very bytes (None: not kept), without decoding."""
        known = self._kept.get(key)
        return known[1] if known is not None and known[0] == data else None

    def put(self, key: str, data: bytes, value: T) -> None:
        """`value` is what `data`, just written, decodes to."""
        self._kept.pop(key, None)
        self._kept[key] = (data, value)
        if len(self._kept) > self.limit:
            self._kept.pop(next(iter(self._kept)))

    def forget(self, key: str) -> None:
        self._kept.pop(key, None)
def node_cache() -> DecodedValues[IdentityNode]:
    """Identity nodes kept decoded by their bytes (one per worker: the index table's joins and both agents)."""
    return DecodedValues(lambda data: state_codec.loads(IdentityNode, data))


Headers = list[tuple[str, bytes]]
Send = Callable[[str, bytes, bytes, Headers | None, int | None], Awaitable[Awaitable[Any]]]
"""send(topic, key, value, headers, partition) -> a future that resolves once the broker has the record (aiokafka's
contract); partition None: the producer's partitioner picks it from the key."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One consumed message, as Faust hands it over."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = field(default_factory=list)
    source: Any = None  # the framework's own event object, for `Bind`
    timestamp_ms: int | None = None  # the message's timestamp (an erasure's time: its tombstone has no value)


Bind = Callable[[Incoming], None]
"""Makes a message the one table writes belong to (Faust needs it: a table write goes to its source partition)."""


def no_bind(msg: Incoming) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    key: bytes
    value: bytes
    headers: Headers | None = None
    partition: int | None = None


class Producer:
    """Hands records to the Kafka producer without waiting for each, then waits for all of them to be delivered."""

    def __init__(self, send: Send, on_retry: Callable[[int], None] | None = None, max_backoff_s: float = 5.0,
                 push: Callable[[], object] | None = None) -> None:
        self._send, self._on_retry, self._max_backoff_s = send, on_retry, max_backoff_s
        self._push = push  # sends what the producer holds without its linger (pipeline/kafka/push.py)
        self.watched: frozenset[str] = frozenset()  # topics whose delivered offsets are remembered in `written`
        self.written: dict[tuple[str, int], int] = {}  # (topic, partition) -> the offset after the last delivered

    async def deliver(self, records: Sequence[Outgoing]) -> None:
        """Return once the broker acknowledged every record; records whose send failed are sent again."""
        pending, delay = list(records), 0.05
        while pending:
            futures: list[Awaitable[Any] | BaseException] = []
            for r in pending:
                try:
                    futures.append(await self._send(r.topic, r.key, r.value, r.headers, r.partition))
                except Exception as err:  # noqa: BLE001 - a refused send is retried like a failed delivery
                    futures.append(err)
            if self._push is not None:
                self._push()  # the whole batch is handed over: lingering would only delay its delivery
            results = await _settled(futures)
            failed = [r for r, err in zip(pending, results, strict=True) if err is not None]
            if self.watched:
                self._remember(pending, futures, results)
            if failed:
                reasons = sorted({type(e).__name__ for e in results if e is not None})
                log.warning("%d of %d records not delivered (%s); sending them again in %.2f s",
                            len(failed), len(pending), ", ".join(reasons), delay)
                if self._on_retry:
                    self._on_retry(len(failed))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff_s)
            pending = failed

    def _remember(self, records: Sequence[Outgoing], futures: Sequence[Any], errors: Sequence[Any]) -> None:
        for r, f, err in zip(records, futures, errors, strict=True):
            if err is None and r.topic in self.watched and isinstance(f, asyncio.Future):
                meta = f.result()  # aiokafka's RecordMetadata
                if getattr(meta, "offset", None) is None:
                    continue
                tp = (r.topic, int(meta.partition))
                self.written[tp] = max(self.written.get(tp, 0), int(meta.offset) + 1)


async def _settled(futures: Sequence[Awaitable[Any] | BaseException]) -> list[BaseException | None]:
    """Each send's error, or None, once all are settled (a future is waited for as it is: no task per record)."""
    waiting = [f for f in futures if isinstance(f, asyncio.Future) and not f.done()]
    if waiting:
        await asyncio.wait(waiting)
    return [(f.exception() if not f.cancelled() else asyncio.CancelledError()) if isinstance(f, asyncio.Future)
            else await _settle(f) for f in futures]


async def _settle(future: Awaitable[Any] | BaseException) -> BaseException | None:
    if isinstance(future, BaseException):
        return future
    try:
        await future
    except Exception as err:  # noqa: BLE001 - reported to the caller, which retries
        return err
    return None


async def wait_for_registry(rt: Runtime, decode: Callable[[], T]) -> T:
    """Decode; while the schema registry is unreachable, wait and try again rather than park good bytes.

    A schema id the codec has not seen is looked up in a thread (the registry call blocks), then decode runs again.
    Holding the partition is the right trade: its later events for the same customers must not overtake this one.
    """
    delay = 0.5
    while True:
        try:
            try:
                return decode()
            except SchemaLookupNeeded as need:
                await asyncio.to_thread(rt.codec.resolve, need.schema_id)
        except DecodeError:
            pass  # the registry refused the id; the codec remembers it and the next decode parks the message
        except RegistryError:
            rt.metrics.registry_waits.inc()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


@dataclass(slots=True)
class _Batch:
    """What one batch has read and changed; states and identity nodes are decoded once per batch."""

    states: dict[str, CustomerState | None] = field(default_factory=dict)
    changed: dict[str, CustomerState] = field(default_factory=dict)
    erased: set[str] = field(default_factory=set)  # customers erased by the batch (and not written again since)
    nodes: dict[str, IdentityNode | None] = field(default_factory=dict)
    out: list[Outgoing] = field(default_factory=list)
    counted: list[tuple[str, str]] = field(default_factory=list)  # (topic, type) of events processed
    stamps: list[tuple[str, int]] = field(default_factory=list)  # (topic, record timestamp ms) of those events
    records: list[Any] = field(default_factory=list)  # outputs, for the metrics once delivered
    source: dict[str, Incoming] = field(default_factory=dict)  # customer -> their last message in the batch
    done: list[Incoming] = field(default_factory=list)  # messages finished by this batch: to be acknowledged
    links: Pending | None = None  # the links this batch makes, seen by its later events at once


class CustomerEvents:
    """Processes batches of messages from the input topics, dunning-due and account-flags, keyed by customer id.

    Every output is keyed by its own customer_id: the customer's, except a flag for a linked account
    (AccountFlagged), which must land on that account's partition."""

    def __init__(
        self,
        rt: Runtime,
        customers: MutableMapping[str, bytes | None],
        due_index: MutableMapping[str, bytes | None],
        identities: Mapping[str, bytes | None],
        producer: Producer,
        bind: Bind = no_bind,
        aligner: Aligner | None = None,
        read_up: Callable[[TP, Mapping[TP, int]], Awaitable[bool]] | None = None,
        review_queue: MutableMapping[str, bytes | None] | None = None,
        history: History | None = None,
        nodes: DecodedValues[IdentityNode] | None = None,
    ) -> None:
        self.rt, self.customers, self.due_index, self.identities = rt, customers, due_index, identities
        self.review_queue = review_queue  # customer id -> OpenReviews bytes, only for customers with open cases
        self.history = history  # the explorer's `customer-history` (agents/history.py); None when it is off
        self.producer, self.bind = producer, bind
        self.producer.watched = frozenset({FLAGS})
        self.aligner, self._read_up = aligner, read_up
        self.ctx = rt.context
        self._source = event_source(rt.settings.app_id)  # the CloudEvents `source` of every output
        self.watermarks: dict[int, int] = {}  # partition -> latest event time processed: the replay timer's clock
        self.processed: dict[TP, int] = {}  # (topic, partition) -> every offset below is done
        self.read: dict[TP, int] = {}  # (topic, partition) -> next offset to read
        self._lock = asyncio.Lock()  # the agent's batches and the alignment tick take turns
        self._states: DecodedValues[CustomerState] = DecodedValues(lambda data: state_codec.loads(CustomerState, data))
        # identity nodes kept decoded by their bytes (shared with the index agent, which decodes what it writes)
        self._nodes = nodes if nodes is not None else node_cache()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}  # labelled metric children (`_child`)
        s = rt.settings
        self.progress = Progress(self.mark_of, s.align_idle_s)
        self.remote = RemoteGate(s.partitions, self.mark_of, s.align_idle_s, s.align_lateness_ms,
                                 on_idle=rt.metrics.align_forced.labels("idle_partition").inc)
        self._marks: dict[int, tuple[bytes, InputsProcessed | None]] = {}  # partition -> (bytes, decoded)
        self._marks_due: list[Outgoing] = []

    async def process_batch(self, messages: Iterable[Incoming]) -> list[Incoming]:
        """Process what can be processed now; returns the messages finished (to acknowledge), held ones excluded."""
        async with self._lock:
            started, now, wall_ms = time.perf_counter(), time.monotonic(), time.time_ns() // 1_000_000
            batch = _Batch(links=self.progress.begin(wall_ms))
            batch.out += self._marks_due  # the previous batch's marks: its links are delivered
            self._marks_due = []
            ready: list[tuple[Incoming, Any]] = []
            for msg in messages:
                tp = (msg.topic, msg.partition)
                self.read[tp] = max(self.read.get(tp, 0), msg.offset + 1)
                found = await self._triage(msg)
                if isinstance(found, DeadLetter):
                    self._park(msg, found, batch)
                elif self.aligner is not None and msg.topic in ALIGNED:
                    self.aligner.add(msg, found.event, now)
                else:
                    ready.append((msg, found.event))
            for msg, event in ready:  # dunning-due: not aligned
                self._one(msg, event, batch)
                batch.done.append(msg)
            if self.aligner is not None:
                for tp, after in self.producer.written.items():
                    if self.read.get(tp, 0) < after:  # a flag we sent is on its way back: not a stalled topic
                        self.aligner.advancing(tp, now)
                gate = self.remote.gate(self.aligner.partitions_owned(), now, wall_ms)
                released = await self.aligner.release(self._tp_read_up, now, gate)
                for i, h in enumerate(released):
                    flagged = self._one(h.msg, h.event, batch)
                    batch.done.append(h.msg)
                    if flagged and i + 1 < len(released):
                        # a flag for a linked account goes out with this batch; the events after it wait until it
                        # is read back from account-flags (`_tp_read_up`), so it reaches its account first
                        self.aligner.put_back(released[i + 1:])
                        break
            await self.producer.deliver(batch.out)
            delivered_ms = time.time_ns() // 1_000_000
            for cid in batch.erased:  # after delivery, like every write
                self.bind(batch.source[cid])
                self._states.forget(cid)
                if self.customers.get(cid) is not None:
                    del self.customers[cid]  # a tombstone: the changelog compacts the customer away
                self._index_due(cid, None)
                self._index_reviews(cid, CustomerState.empty(cid))  # no open cases: no review-queue entry
            for cid, state in batch.changed.items():  # after delivery: see the module docstring
                self.bind(batch.source[cid])
                data = state_codec.dumps(state)
                self.customers[cid] = data
                self._states.put(cid, data, state)  # the next batch reads these bytes without decoding them
                self._index_due(cid, dunning.next_due(state.dunning))
                self._index_reviews(cid, state)
            if self.history is not None:
                self.history.write(lambda cid: self.bind(batch.source[cid]))
            for tp, next_read in self.read.items():
                held = self.aligner.lowest_held(tp) if self.aligner is not None else None
                self.processed[tp] = next_read if held is None else held
            await self._progress(now, wall_ms)
            self._count(batch, time.perf_counter() - started, delivered_ms)
            return batch.done

    async def _progress(self, now: float, wall_ms: int) -> None:
        """Forget links the index has applied; make the marks that go out with the next delivery."""
        self.progress.prune()
        if self.aligner is None:
            return
        aligner = self.aligner

        async def watermark(p: int) -> tuple[int, bool]:
            return await aligner.watermark(p, self._tp_read_up)

        for mark in await self.progress.marks(aligner.partitions_owned(), watermark, now, wall_ms):
            self._marks_due.append(Outgoing(mark.TOPIC, mark.customer_id.encode(), self.rt.codec.encode(mark),
                                            cloudevent_headers(mark, self._source), mark.partition))

    def mark_of(self, partition: int) -> InputsProcessed | None:
        """The latest progress mark of a partition that this worker's copy of the identity index holds."""
        data = self.identities.get(progress_key(partition))
        if data is None:
            return None
        known = self._marks.get(partition)
        if known is None or known[0] != data:
            try:
                mark = self.rt.codec.decode(data)
            except Exception:  # noqa: BLE001 - an unreadable mark counts as none: waiting is bounded
                mark = None
            known = (data, mark if isinstance(mark, InputsProcessed) else None)
            self._marks[partition] = known
        return known[1]

    async def tick(self) -> list[Incoming]:
        """Release held events whose wait is over (a topic caught up, or the hold ran out)."""
        return await self.process_batch(())

    def drop_partitions(self, keep: Callable[[int], bool]) -> None:
        """Forget what is held and read on partitions no longer ours (after a rebalance)."""
        if self.aligner is not None:
            self.aligner.drop(keep)
        self.progress.forget(keep)
        for offsets in (self.read, self.processed):
            for tp in [tp for tp in offsets if not keep(tp[1])]:
                del offsets[tp]

    def log_shrunk(self, highwater: Callable[[TP], int | None]) -> tuple[TP, int, int] | None:
        """A partition whose log now ends before what this worker already read from it, as (tp, end, read).

        A Kafka log never loses its end; this one did because the broker came back without its topics (the embedded
        broker keeps them in memory only), or an unclean leader election truncated it."""
        for tp, read in self.read.items():
            end = highwater(tp)
            if end is not None and end < read:
                return tp, end, read
        return None

    async def _tp_read_up(self, tp: TP) -> bool:
        """Read up to its high watermark, and past every record this worker itself delivered there (the consumer's
        high watermark may not know of a flag we just sent)."""
        if self.read.get(tp, 0) < self.producer.written.get(tp, 0):
            return False
        return self._read_up is not None and await self._read_up(tp, self.read)

    def _one(self, msg: Incoming, event: Event, batch: _Batch) -> bool:
        """Run the step for one event; True when it sent a flag to a linked account."""
        cid = event.customer_id
        if cid not in batch.states:
            self.bind(msg)  # Faust reads a table key from the current event's partition
            batch.states[cid] = self._load(cid)
        links = {i: self._node(i, batch) for i in journey.identifiers_needed(event, self.ctx, batch.states[cid])}
        try:
            step = journey.handle(batch.states[cid], event, links, self.rt.policy, self.ctx)
            if step.duplicate:
                self._child(self.rt.metrics.duplicates, msg.topic).inc()
            if step.duplicate or step.unchanged:
                return False
            key = cid.encode()
            out = [Outgoing(r.TOPIC, key if r.customer_id == cid else r.customer_id.encode(),
                            self.rt.codec.encode(r), cloudevent_headers(r, self._source)) for r in step.outputs]
            for r in step.links:
                data, headers = self.rt.codec.encode(r), cloudevent_headers(r, self._source)
                # a link goes to the partition its marks describe; an erasure to every partition, so every
                # changelog partition holding a copy of a node rewrites it without the customer
                targets = range(self.rt.settings.partitions) if isinstance(r, IdentityErased) else (msg.partition,)
                out += [Outgoing(r.TOPIC, key, data, headers, p) for p in targets]
        except Exception as err:  # noqa: BLE001 - a rule or encoding bug parks this event, never the partition
            log.exception("step failed for an event on %s[%d]@%d", msg.topic, msg.partition, msg.offset)
            parked = step_failed(err, msg.topic, msg.partition, msg.offset, msg.key, msg.value, msg.headers)
            self._send_dead_letter(msg, parked, batch)  # the caller marks the message done
            return False
        if self.history is not None:
            self._keep(cid, msg.topic, event, out, step.erased)
        if step.erased:
            batch.states[cid] = None
            batch.changed.pop(cid, None)
            batch.erased.add(cid)
        else:
            batch.states[cid] = batch.changed[cid] = step.state
            batch.erased.discard(cid)
        batch.source[cid] = msg
        for rec in step.links:  # as replay folds them into its index: later events see them at once
            if batch.links is not None:
                self.progress.linked_in(batch.links, msg.partition, rec)
            for ident in rec.identifiers:
                if ident in batch.nodes:
                    batch.nodes[ident] = apply(batch.nodes[ident], ident, rec)
        batch.out += out
        batch.records += step.outputs
        batch.counted.append((msg.topic, type(event).__name__))
        if msg.timestamp_ms is not None:
            batch.stamps.append((msg.topic, msg.timestamp_ms))
        if msg.topic in INPUT_TOPICS and not step.erased:  # an erasure's time is the wall clock's, not event time
            self.watermarks[msg.partition] = max(self.watermarks.get(msg.partition, 0), event.occurred_at)
        return any(isinstance(r, AccountFlagged) for r in step.outputs)

    def _keep(self, cid: str, topic: str, event: Event, out: Sequence[Outgoing], erased: bool) -> None:
        """The event and the customer's own outputs into their history (written with the batch's other tables)."""
        assert self.history is not None
        if erased:
            self.history.erase(cid)
            return
        self.history.keep_input(cid, topic, event)
        key = cid.encode()
        for o in out:
            if o.key == key and o.partition is None:  # not links (sent to a chosen partition) nor other customers'
                self.history.keep(cid, o.topic, o.value)

    async def _triage(self, msg: Incoming) -> Decoded | DeadLetter:
        limits = self.rt.settings
        return await wait_for_registry(self.rt, lambda: triage(
            self.rt.codec, msg.topic, msg.partition, msg.offset, msg.key, msg.value, msg.headers,
            max_value_bytes=limits.max_value_bytes, max_id_chars=limits.max_id_chars, timestamp_ms=msg.timestamp_ms))

    def _park(self, msg: Incoming, dl: DeadLetter, batch: _Batch) -> None:
        batch.done.append(msg)
        self._send_dead_letter(msg, dl, batch)

    def _send_dead_letter(self, msg: Incoming, dl: DeadLetter, batch: _Batch) -> None:
        batch.out.append(Outgoing(dl.topic, dl.key, dl.value, list(dl.headers.items())))
        self._child(self.rt.metrics.dead_letters, msg.topic, dl.reason).inc()

    def _load(self, cid: str) -> CustomerState | None:
        data = self.customers.get(cid)
        return None if data is None else self._states.get(cid, data)

    def _node(self, ident: str, batch: _Batch) -> IdentityNode | None:
        if ident not in batch.nodes:
            data = self.identities.get(ident)
            stored = None if data is None else self._nodes.get(ident, data)  # hot nodes are read by every batch
            batch.nodes[ident] = self.progress.node(ident, stored)
        return batch.nodes[ident]

    def _index_due(self, cid: str, next_due: int | None) -> None:
        known = self.due_index.get(cid)
        if next_due is None:
            if known is not None:
                del self.due_index[cid]  # a tombstone: raw table values are bytes, never None
        elif known != str(next_due).encode():
            self.due_index[cid] = str(next_due).encode()

    def _index_reviews(self, cid: str, state: CustomerState) -> None:
        """Keep the customer's entry in the review queue equal to their open cases (none: no entry)."""
        if self.review_queue is None:
            return
        known = self.review_queue.get(cid)
        if not state.reviews.open:
            if known is not None:
                del self.review_queue[cid]
            return
        # without the cases' identifiers: every worker holds this table, and listing needs none of them
        cases = tuple(replace(c, identifiers=()) for c in state.reviews.open)
        data = state_codec.dumps(OpenReviews(customer_id=cid, cases=cases))
        if known != data:
            self.review_queue[cid] = data

    def _count(self, batch: _Batch, seconds: float, delivered_ms: int) -> None:
        m = self.rt.metrics
        for topic, kind in batch.counted:
            self._child(m.events, topic, kind).inc()
        for topic, stamp in batch.stamps:  # a clock behind the producer's counts as no wait, not a negative one
            self._child(m.event_latency, topic).observe(max(0, delivered_ms - stamp) / 1000)
        if batch.counted:
            m.batch_seconds.observe(seconds)
            m.batch_events.observe(len(batch.counted))
        for record in batch.records:
            name = type(record).__name__
            if name == "PaymentDecision":
                self._child(m.decisions, record.outcome, record.sca_strategy).inc()
                for reason in record.reasons:
                    self._child(m.decision_reasons, "payment", reason.code).inc()
            elif name == "DunningStep":
                self._child(m.dunning_steps, record.action, record.decline_class, record.variant).inc()
                if record.action == "case_opened":
                    self._child(m.cases_opened, record.decline_class, record.variant).inc()
            elif name == "PaymentRecovered":
                self._child(m.recoveries, record.decline_class, record.variant, record.recovered_by).inc()
            elif name == "RefundDecision":
                self._child(m.refund_decisions, record.outcome).inc()
                for reason in record.reasons:
                    self._child(m.decision_reasons, "refund", reason.code).inc()
            elif name == "Notification":
                self._child(m.notifications, record.channel).inc()
            elif name == "AccountFlagged":
                self._child(m.account_flags, record.cause).inc()

    def _child(self, metric: Any, *labels: str) -> Any:
        """A labelled child of a metric, looked up once (prometheus_client's `labels` validates and locks on every
        call: a few microseconds per decision reason)."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found
