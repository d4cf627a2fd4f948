"""Identity links in flight, and the progress marks that tell every worker when the identity index has applied them.

`journey replay` folds each event's identity links into the index before the next event is decided. The live worker
sends its links to `identity-links`, whose agent folds them into the `identity-index` global table later, perhaps on
another worker. Two things close that gap:

- **Links this worker sent** are kept here (`Progress.node` merges them into what the table says) from the moment the
  step makes them until the index shows them applied, so the next event, in this batch or the next, sees them at once.
  `merge` is a join, so merging a link the table already holds changes nothing.
- **Progress marks.** After a batch is delivered, the worker publishes, for each partition it owns, an
  `InputsProcessed` record on that partition of `identity-links`, behind the links: "every input event of partition p
  with an event time before W is processed and its links are delivered". The index agent applies it after those links,
  into the same table (key `~progress:<p>`, its changelog partition p), so a worker whose copy of the table holds the
  mark holds the links before it (agents/identity_index.py). A held event at time t is released only when every
  partition owned by another worker shows W >= t (`RemoteGate`); the worker's own partitions are aligned by
  agents/alignment.py directly. Marks are made at most every MARK_EVERY_S, when something changed, and at least every
  third of the idle timeout (a heartbeat).

Bounded waiting: a caught-up partition counts as done for an event read within the allowed lateness of its event time
(`JOURNEY_ALIGN_LATENESS_MS`: live traffic waits for no idle partition), and a partition whose mark has not moved for
the idle timeout (`JOURNEY_ALIGN_IDLE_MS`) while an event waits for it counts as done (a worker stopped, or nothing
to read). An event older than the lateness is backlog: it waits for the marks to pass its time, so a catch-up after
downtime decides as replay does.
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field

from agents.rules.events import IdentityErased, IdentityLinked, InputsProcessed
from agents.rules.identity import IdentityNode, apply, merge

log = logging.getLogger(__name__)
PROGRESS_PREFIX = "~progress:"  # keys of marks in identity-links and identity-index; never an identifier (kind:value)
MARK_EVERY_S = 0.05
MAX_PENDING = 5_000  # batches whose links are kept while the index has not shown them applied (a stalled index)


def progress_key(partition: int) -> str:
    return f"{PROGRESS_PREFIX}{partition}"


def is_progress_key(key: str | bytes) -> bool:
    """Also for a changelog record's key: Faust writes a table's str keys as JSON (`"~progress:0"`)."""
    text = key.decode(errors="replace") if isinstance(key, bytes) else key
    return text.lstrip('"').startswith(PROGRESS_PREFIX)


@dataclass(slots=True)
class Pending:
    """The links one batch sent, kept until the index shows them applied on every partition they went to."""

    seq: int
    wall_ms: int
    partitions: set[int] = field(default_factory=set)
    idents: set[str] = field(default_factory=set)  # the identifiers its links are on


Marks = Callable[[int], InputsProcessed | None]
"""mark_of(partition): the latest mark the local copy of the identity index holds for a partition."""
Watermark = Callable[[int], Awaitable[tuple[int, bool]]]
"""watermark(partition) -> (W, caught up) of an owned partition (agents.alignment.Aligner.watermark)."""


class Progress:
    """This worker's links in flight and its marks (one instance per worker start: `writer` is random)."""

    def __init__(self, mark_of: Marks, idle_s: float, writer: str | None = None) -> None:
        self.mark_of, self.idle_s = mark_of, idle_s
        self.writer = writer or uuid.uuid4().hex[:12]
        self.seq = 0
        self.pending: deque[Pending] = deque()
        # identifier -> (batches in flight with a link on it, the join of their nodes): what `node` merges in
        self.inflight: dict[str, tuple[int, IdentityNode]] = {}
        self.sent: dict[int, InputsProcessed] = {}  # partition -> the last mark made
        self.linked: set[int] = set()  # partitions with links since their last mark
        self._made_at = -1e18

    def begin(self, wall_ms: int) -> Pending:
        """A new batch: its links are kept from now on."""
        self.seq += 1
        gen = Pending(self.seq, wall_ms)
        self.pending.append(gen)
        if len(self.pending) > MAX_PENDING:
            self._release(self.pending.popleft())
        return gen

    def node(self, ident: str, stored: IdentityNode | None) -> IdentityNode | None:
        """The node as the index will hold it once this worker's links in flight are applied."""
        held = self.inflight.get(ident)
        return stored if held is None else merge(stored, held[1])

    def linked_in(self, gen: Pending, partition: int, rec: IdentityLinked | IdentityErased) -> None:
        """Fold a link the batch `gen` sent into the nodes in flight.

        `inflight` holds, per identifier, the join of every link in flight on it, so folding the record into that
        join is the same as joining in the batch's own node (merge is a join), and takes one pass over a hot node.
        An erasure with nothing in flight leaves a marker that hides the customer on the stored node too, once
        merged with it."""
        for ident in rec.identifiers:
            held = self.inflight.get(ident)
            node = apply(held[1] if held is not None else IdentityNode(identifier=ident), ident, rec)
            if node is None:
                continue
            new = ident not in gen.idents
            gen.idents.add(ident)
            self.inflight[ident] = (1, node) if held is None else (held[0] + new, node)
        gen.partitions.add(partition)
        self.linked.add(partition)

    def _release(self, gen: Pending) -> None:
        """`gen` is no longer in flight: an identifier no other batch in flight has leaves `inflight`. (One that
        another still has keeps the merged node, with this batch's part in it: the index holds that part now, and
        merging what it holds changes nothing.)"""
        for ident in gen.idents:
            held = self.inflight.get(ident)
            if held is None:
                continue
            if held[0] <= 1:
                del self.inflight[ident]
            else:
                self.inflight[ident] = (held[0] - 1, held[1])

    def applied(self, gen: Pending, mark_of: Marks | None = None) -> bool:
        """Does the index show every link of `gen` applied (a later mark of ours, or a newer owner's, behind them)?"""
        mark_of = mark_of or self.mark_of
        for p in gen.partitions:
            m = mark_of(p)
            if m is None:
                return False
            if m.writer == self.writer and m.seq < gen.seq:
                return False
            if m.writer != self.writer and m.occurred_at < gen.wall_ms:
                return False
        return True

    def prune(self) -> None:
        """Forget batches whose links the index has applied (and batches that sent none)."""
        marks: dict[int, InputsProcessed | None] = {}

        def mark_of(p: int) -> InputsProcessed | None:
            if p not in marks:
                marks[p] = self.mark_of(p)
            return marks[p]

        kept: deque[Pending] = deque()
        for g in self.pending:
            if g.idents and not self.applied(g, mark_of):
                kept.append(g)
            else:
                self._release(g)
        self.pending = kept

    async def marks(self, owned: Iterable[int], watermark: Watermark, now_s: float,
                    wall_ms: int) -> list[InputsProcessed]:
        """The marks to publish now for the partitions this worker owns (none if one was made just before)."""
        if now_s - self._made_at < MARK_EVERY_S:
            return []
        self._made_at = now_s
        out: list[InputsProcessed] = []
        for p in sorted(owned):
            w, caught_up = await watermark(p)
            last = self.sent.get(p)
            if (last is not None and (last.watermark, last.caught_up) == (w, caught_up) and p not in self.linked
                    and wall_ms - last.occurred_at < self.idle_s * 1000 / 3):
                continue
            key = progress_key(p)
            mark = InputsProcessed(event_id=f"{self.writer}|{p}|{self.seq}", customer_id=key, occurred_at=wall_ms,
                                   partition=p, watermark=w, caught_up=caught_up, writer=self.writer, seq=self.seq)
            self.sent[p] = mark
            out.append(mark)
        self.linked.clear()
        return out

    def forget(self, keep: Callable[[int], bool]) -> None:
        """Partitions no longer ours: their next owner makes their marks."""
        for p in [p for p in self.sent if not keep(p)]:
            del self.sent[p]


@dataclass(slots=True)
class _Seen:
    key: tuple[int, bool, str] | None
    mark: InputsProcessed | None
    blocked_s: float | None = None  # since when an event has waited for this partition (no progress since)
    idle: bool = False  # counted as done after the idle timeout


class RemoteGate:
    """May a held event go, as far as the partitions other workers own are concerned?"""

    def __init__(self, partitions: int, mark_of: Marks, idle_s: float, lateness_ms: int,
                 on_idle: Callable[[], None] | None = None) -> None:
        self.partitions, self.mark_of, self.idle_s, self.lateness_ms = partitions, mark_of, idle_s, lateness_ms
        self.on_idle = on_idle
        self.seen: dict[int, _Seen] = {}

    def gate(self, owned: Collection[int], now_s: float, wall_ms: int) -> Callable[[int], bool] | None:
        """A test of an event time, for one release (None when this worker owns every partition)."""
        remote = [q for q in range(self.partitions) if q not in owned]
        if not remote:
            return None
        for q in remote:
            m = self.mark_of(q)
            key = None if m is None else (m.watermark, m.caught_up, m.writer)
            s = self.seen.get(q)
            if s is None or s.key != key:
                self.seen[q] = _Seen(key, m)
            else:
                s.mark = m  # a heartbeat: same progress, newer time

        def allows(at: int) -> bool:
            fresh = at >= wall_ms - self.lateness_ms
            for q in remote:
                s = self.seen[q]
                m = s.mark
                if m is not None and m.watermark >= at:
                    continue
                if (m is not None and m.caught_up and fresh
                        and wall_ms - m.occurred_at <= self.idle_s * 1000):
                    continue
                if s.blocked_s is None:
                    s.blocked_s = now_s
                if now_s - s.blocked_s >= self.idle_s:
                    if not s.idle:
                        log.warning("partition %d made no progress for %.1f s (watermark %s, caught up %s); counting "
                                    "it as done", q, now_s - s.blocked_s, None if m is None else m.watermark,
                                    None if m is None else m.caught_up)
                        if self.on_idle is not None:
                            self.on_idle()
                    s.idle = True
                    continue  # no progress for the idle timeout while we waited: counts as done
                return False
            return True

        return allows
