"""The history agent's body: each customer's last N records, inputs and outputs, kept raw for the explorer.

Off the customer agent's hot path: a separate agent reads the input and output topics (co-partitioned with the
customer agent, so a customer's records arrive where their history is kept) and appends each record's bytes as they
came, to the customer's value in the `customer-history` table, keeping the newest N. Outputs are kept as they
came (they hold pseudonyms at most: the step only ever sees pseudonymised events). Inputs are raw as the upstream
services wrote them, so they are kept only redacted (`Redact`: identifiers as their pseudonyms, names and user
agents emptied, re-encoded); an input that does not decode is not kept (the customer agent dead-letters it). A
tombstone on `customers` (an erasure) deletes the customer's history. pipeline/explorer decodes a customer's
records when someone asks for them. A record delivered again after a
restart has the same bytes (outputs are deterministic), so it is not appended twice.

A value: repeated (topic index into HISTORY_TOPICS: 1 byte, length: unsigned LEB128, the record's bytes), oldest
first. Records larger than MAX_RECORD_BYTES are left out, so a value stays small whatever the producers send.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence

from agents.customer_events import Bind, Incoming, no_bind
from pipeline.topics import ERASURE_TOPIC, INPUT_TOPICS, OUTPUT_TOPICS

HISTORY_TOPICS = (*INPUT_TOPICS, *(t for t in OUTPUT_TOPICS if t != "erasures"))  # an erased customer has none
MAX_RECORD_BYTES = 8 * 1024
MAX_KEY_BYTES = 512
Entry = tuple[str, bytes]  # (topic, the record's bytes as kept)
Redact = Callable[[bytes], Awaitable[bytes | None]]
"""redact(input record's bytes) -> the bytes to keep (pseudonymised, re-encoded), or None to keep nothing."""
ERASE_ON = ERASURE_TOPIC  # a tombstone on `customers` erases the customer (agents/customer_events.py)

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
    """Appends batches of consumed records to their customers' histories, one table write per customer per batch."""

    def __init__(self, histories: MutableMapping[str, bytes | None], limit: int, redact: Redact,
                 bind: Bind = no_bind) -> None:
        self.histories, self.limit, self.redact, self.bind = histories, limit, redact, bind

    async def process_batch(self, messages: Iterable[Incoming]) -> None:
        grouped: dict[str, list[Entry]] = {}
        source: dict[str, Incoming] = {}
        erased: set[str] = set()
        for msg in messages:
            if not msg.key or len(msg.key) > MAX_KEY_BYTES or msg.topic not in _INDEX:
                continue
            try:
                cid = msg.key.decode()
            except UnicodeDecodeError:
                continue
            if msg.value is None:
                if msg.topic == ERASE_ON:  # an erasure: what was kept goes, and what came before it in this batch
                    erased.add(cid)
                    grouped.pop(cid, None)
                    source[cid] = msg
                continue
            if len(msg.value) > MAX_RECORD_BYTES:
                continue
            data = await self.redact(msg.value) if msg.topic in INPUT_TOPICS else msg.value
            if data is not None:
                grouped.setdefault(cid, []).append((msg.topic, data))
                source[cid] = msg
        for cid in erased:
            self.bind(source[cid])
            if self.histories.get(cid) is not None:
                del self.histories[cid]
        for cid, new in grouped.items():
            self.bind(source[cid])  # Faust writes a table key to the partition of the current event
            current = [] if cid in erased else unpack(self.histories.get(cid))
            updated = appended(current, new, self.limit)
            if updated != current:
                self.histories[cid] = pack(updated)
