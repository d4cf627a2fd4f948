"""Each customer's last N records, inputs and outputs, for the explorer: the `customer-history` table.

Kept by the customer agent itself (agents/customer_events.py), with no second pass over the topics: as it decides
an event, it keeps the event and the outputs the step made for that customer, and writes each customer's history
once per batch, after the batch's outputs are delivered, like every other table write. Outputs are kept as they
were sent (they hold pseudonyms at most: the step only ever sees pseudonymised events). Inputs arrive raw as the
upstream services wrote them, so they are kept only redacted (`Redact`: identifiers as their pseudonyms, names and
user agents emptied, re-encoded); an input that is dead-lettered is not kept (the dead-letter topic has it). An
erasure deletes the customer's history, and what the batch kept for them before it. pipeline/explorer decodes a
customer's records when someone asks for them. A record processed again after a restart has the same bytes (outputs
are deterministic), so it is not appended twice.

A value: repeated (topic index into HISTORY_TOPICS: 1 byte, length: unsigned LEB128, the record's bytes), oldest
first. Records larger than MAX_RECORD_BYTES are left out, so a value stays small whatever the producers send.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping, Sequence
from typing import Any

from pipeline.topics import INPUT_TOPICS, OUTPUT_TOPICS

HISTORY_TOPICS = (*INPUT_TOPICS, *(t for t in OUTPUT_TOPICS if t != "erasures"))  # an erased customer has none
MAX_RECORD_BYTES = 8 * 1024
Entry = tuple[str, bytes]  # (topic, the record's bytes as kept)
Redact = Callable[[Any], bytes | None]
"""redact(decoded input event) -> the bytes to keep (pseudonymised, re-encoded), or None to keep nothing."""

_INDEX = {t: i for i, t in enumerate(HISTORY_TOPICS)}


def pack(entries: Sequence[Entry]) -> bytes:
    out = bytearray()
    for topic, data in entries:
        out.append(_INDEX[topic])
        n = len(data)
        while True:
            byte, n = n & 0x7F, n >> 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                break
        out += data
    return bytes(out)


def unpack(data: bytes | None) -> list[Entry]:
    """The entries of a value; a truncated or unknown tail is dropped, never raised (values are read on request)."""
    entries: list[Entry] = []
    pos, end = 0, len(data or b"")
    view = memoryview(data or b"")
    while pos < end:
        index, pos = view[pos], pos + 1
        n = shift = 0
        while pos < end:
            byte, pos = view[pos], pos + 1
            n |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        else:
            break
        if index >= len(HISTORY_TOPICS) or pos + n > end:
            break
        entries.append((HISTORY_TOPICS[index], bytes(view[pos:pos + n])))
        pos += n
    return entries


def appended(current: Sequence[Entry], new: Iterable[Entry], limit: int) -> list[Entry]:
    """`current` followed by the entries of `new` not already in it, the newest `limit` of them."""
    seen = {data for _t, data in current}
    out = list(current)
    for topic, data in new:
        if data not in seen:
            seen.add(data)
            out.append((topic, data))
    return out[-limit:] if limit > 0 else []


class History:
    """What one batch keeps, then one table write per customer (`write`, after the batch's outputs are delivered)."""

    def __init__(self, histories: MutableMapping[str, bytes | None], limit: int, redact: Redact) -> None:
        self.histories, self.limit, self.redact = histories, limit, redact
        self.kept: dict[str, list[Entry]] = {}
        self.erased: set[str] = set()

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
            if self.histories.get(cid) is not None:
                del self.histories[cid]
        for cid, new in kept.items():
            bind(cid)
            current = [] if cid in erased else unpack(self.histories.get(cid))
            updated = appended(current, new, self.limit)
            if updated != current:
                self.histories[cid] = pack(updated)

