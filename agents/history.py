"""Each customer's last N records, inputs and outputs, for the explorer: the `customer-history` table.

Kept by the customer agent itself (agents/customer_events.py), with no second pass over the topics: as it decides
an event, it keeps the event and the outputs the step made for that customer, and writes each customer's history
once per batch, after the batch's outputs are delivered, like every other table write. Outputs are kept as they
were sent (they hold pseudonyms at most: the step only ever sees pseudonymised events). Inputs arrive raw as the
upstream services wrote them, so they are kept only redacted (`Redact`: identifiers as their pseudonyms, names and
user agents emptied, re-encoded); an input that is dead-lettered is not kept (the dead-letter topic has it). An
erasure deletes the customer's history, and what the batch kept for them before it. pipeline/explorer decodes a
customer's records when someone asks for them. A record processed again after a restart has the same bytes (outputs
are deterministic), so it is not appended twice while it is in the newest segment.

**Segments.** A customer's history is a ring of `segments(limit)` keys, `<customer id>\x1f<k>`, each holding up to
SEGMENT records: a batch rewrites only the newest segment (a few records), never the whole history, and moves on to
the next key, overwriting the oldest segment, when it is full. The first version kept all N records in one value,
rewritten on every batch: 12 KB per customer per batch into RocksDB and the changelog, a fifth of the worker's CPU
in a burst. `read` joins the segments in order and returns the newest `limit` records.

A segment value: its sequence number (unsigned LEB128), then repeated (topic index into HISTORY_TOPICS: 1 byte,
length: unsigned LEB128, the record's bytes), oldest first. Records larger than MAX_RECORD_BYTES are left out, so a
value stays small whatever the producers send. A value under the bare customer id (the one-value layout) is read as
the oldest segment and deleted by an erasure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any

from pipeline.topics import INPUT_TOPICS, OUTPUT_TOPICS

HISTORY_TOPICS = (*INPUT_TOPICS, *(t for t in OUTPUT_TOPICS if t != "erasures"))  # an erased customer has none
MAX_RECORD_BYTES = 8 * 1024
Entry = tuple[str, bytes]  # (topic, the record's bytes as kept)
Redact = Callable[[Any], bytes | None]
"""redact(decoded input event) -> the bytes to keep (pseudonymised, re-encoded), or None to keep nothing."""

SEGMENT = 8  # records per segment
MAX_SEGMENTS = 64  # an erasure deletes this many keys, whatever the limit was when they were written
HEADS_KEPT = 20_000  # customers whose newest segment is kept decoded in memory
SEP = "\x1f"

_INDEX = {t: i for i, t in enumerate(HISTORY_TOPICS)}


def segments(limit: int) -> int:
    """Keys in a customer's ring: enough full segments for `limit` records besides the one being filled."""
    return max(1, -(-limit // SEGMENT)) + 1


def segment_key(cid: str, k: int) -> str:
    return f"{cid}{SEP}{k}"


def _varint(n: int) -> bytes:
    """Unsigned LEB128."""
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(data: bytes | memoryview, pos: int) -> tuple[int, int] | None:
    """(value, position after it) of the unsigned LEB128 at `pos`; None when it runs past the end."""
    n = shift = 0
    while pos < len(data):
        byte, pos = data[pos], pos + 1
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return n, pos
    return None


def _segment(data: bytes | None) -> tuple[int, list[Entry]] | None:
    """(sequence number, entries) of a segment value; None for no value or one cut short."""
    found = _read_varint(data, 0) if data else None
    if not data or found is None:
        return None
    seq, pos = found
    return seq, unpack(data[pos:])


def _segments(histories: Mapping[str, bytes | None], cid: str, ring: int) -> list[tuple[int, list[Entry]]]:
    """The customer's segments, oldest first."""
    found = (_segment(histories.get(segment_key(cid, k))) for k in range(ring))
    return sorted((seg for seg in found if seg), key=lambda s: s[0])


def read(histories: Mapping[str, bytes | None], cid: str, limit: int) -> list[Entry]:
    """A customer's newest `limit` records, oldest first."""
    entries = unpack(histories.get(cid))  # the one-value layout, if any: older than every segment
    for _seq, seg in _segments(histories, cid, segments(limit)):
        entries += seg
    return entries[-limit:] if limit > 0 else []


def pack(entries: Sequence[Entry]) -> bytes:
    out = bytearray()
    for topic, data in entries:
        out.append(_INDEX[topic])
        out += _varint(len(data))
        out += data
    return bytes(out)


def unpack(data: bytes | None) -> list[Entry]:
    """The entries of a value; a truncated or unknown tail is dropped, never raised (values are read on request)."""
    entries: list[Entry] = []
    view = memoryview(data or b"")
    pos, end = 0, len(view)
    while pos < end:
        index = view[pos]
        found = _read_varint(view, pos + 1)
        if found is None:
            break
        n, pos = found
        if index >= len(HISTORY_TOPICS) or pos + n > end:
            break
        entries.append((HISTORY_TOPICS[index], bytes(view[pos:pos + n])))
        pos += n
    return entries


class History:
    """What one batch keeps, then one write per customer of their newest segment (`write`, after the batch's outputs
    are delivered)."""

    def __init__(self, histories: MutableMapping[str, bytes | None], limit: int, redact: Redact) -> None:
        self.histories, self.limit, self.redact = histories, limit, redact
        self.ring = segments(limit)
        self.kept: dict[str, list[Entry]] = {}
        self.erased: set[str] = set()
        self._heads: dict[str, tuple[int, bytes, list[Entry]]] = {}  # cid -> (seq, value, entries) of the newest

    def keep_input(self, cid: str, topic: str, event: Any) -> None:
        if topic in INPUT_TOPICS:
            data = self.redact(event)
            if data is not None:
                self.keep(cid, topic, data)

    def keep(self, cid: str, topic: str, data: bytes) -> None:
        if topic in _INDEX and len(data) <= MAX_RECORD_BYTES:
            self.kept.setdefault(cid, []).append((topic, data))

    def erase(self, cid: str) -> None:
        """The customer is erased: what was kept goes, and what this batch kept for them before."""
        self.erased.add(cid)
        self.kept.pop(cid, None)

    def write(self, bind: Callable[[str], None]) -> None:
        """Write the batch's histories; `bind(cid)` first makes the customer's message the current one (Faust writes
        a table key to the partition of the current event)."""
        kept, erased = self.kept, self.erased
        self.kept, self.erased = {}, set()
        for cid in erased:
            bind(cid)
            self._heads.pop(cid, None)
            for key in (cid, *(segment_key(cid, k) for k in range(MAX_SEGMENTS))):
                if self.histories.get(key) is not None:
                    del self.histories[key]
        for cid, new in kept.items():
            bind(cid)
            seq, entries = self._head(cid)
            seen = {data for _t, data in entries}
            fresh = False
            for topic, data in new:
                if data not in seen:  # processed again after a restart: the same bytes, kept once
                    seen.add(data)
                    entries.append((topic, data))
                    fresh = True
            if not fresh:
                continue
            while len(entries) > SEGMENT:  # the newest segment is full: on to the next key, over the oldest
                self.histories[segment_key(cid, seq % self.ring)] = _varint(seq) + pack(entries[:SEGMENT])
                seq, entries = seq + 1, entries[SEGMENT:]
            value = _varint(seq) + pack(entries)
            self.histories[segment_key(cid, seq % self.ring)] = value
            self._heads.pop(cid, None)
            self._heads[cid] = (seq, value, entries)
            if len(self._heads) > HEADS_KEPT:
                self._heads.pop(next(iter(self._heads)))

    def _head(self, cid: str) -> tuple[int, list[Entry]]:
        """(seq, a copy of the entries) of the customer's newest segment; (0, []) when they have none."""
        known = self._heads.get(cid)
        if known is not None and self.histories.get(segment_key(cid, known[0] % self.ring)) == known[1]:
            return known[0], list(known[2])
        found = _segments(self.histories, cid, self.ring)
        if not found:
            return 0, []
        seq, entries = found[-1]
        return seq, list(entries)
