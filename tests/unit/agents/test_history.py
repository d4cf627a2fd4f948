"""The history agent's body keeps each customer's last records (inputs redacted), bounded, once each, one write per
batch, and forgets a customer on erasure."""

from __future__ import annotations

from typing import Any

from agents.customer_events import Incoming
from agents.history import HISTORY_TOPICS, MAX_RECORD_BYTES, History, appended, pack, unpack


def test_entries_survive_packing_whatever_their_size() -> None:
    entries = [("payments", b""), ("decisions", b"x" * 127), ("dunning", b"y" * 128), ("recovery", b"z" * 70_000)]
    assert unpack(pack(entries)) == entries
    assert unpack(None) == [] and unpack(b"") == []


def test_a_truncated_or_unknown_tail_is_dropped_not_raised() -> None:
    data = pack([("payments", b"one"), ("orders", b"two")])
    assert unpack(data[:-1]) == [("payments", b"one")]
    assert unpack(data + bytes([len(HISTORY_TOPICS), 1, 0])) == [("payments", b"one"), ("orders", b"two")]
    assert unpack(data + b"\x00\xff") == [("payments", b"one"), ("orders", b"two")]  # a length that never ends


def test_appending_keeps_the_newest_records_and_each_once() -> None:
    kept = appended([("payments", b"a"), ("decisions", b"b")], [("decisions", b"b"), ("orders", b"c")], limit=10)
    assert kept == [("payments", b"a"), ("decisions", b"b"), ("orders", b"c")]
    assert appended(kept, [("orders", b"d")], limit=2) == [("orders", b"c"), ("orders", b"d")]


class Table(dict[str, Any]):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes.append(key)
        super().__setitem__(key, value)


def msg(topic: str, key: bytes | None, value: bytes | None, offset: int = 0) -> Incoming:
    return Incoming(topic, 0, offset, key, value)


async def redact(data: bytes) -> bytes | None:
    """Stands in for decode -> pseudonymise -> encode: marks what it kept; b"garbage" does not decode."""
    return None if data == b"garbage" else b"redacted:" + data


async def test_a_batch_writes_each_customer_once_and_skips_what_it_cannot_keep() -> None:
    table = Table()
    body = History(table, limit=3, redact=redact)
    await body.process_batch([
        msg("payments", b"c1", b"attempt"), msg("decisions", b"c1", b"decision"), msg("devices", b"c2", b"seen"),
        msg("payments", None, b"no key"), msg("payments", b"c3", None), msg("payments", b"\xff\xfe", b"bad key"),
        msg("payments", b"c4", b"x" * (MAX_RECORD_BYTES + 1)), msg("identity-links", b"c5", b"not kept"),
    ])
    assert sorted(table.writes) == ["c1", "c2"]
    assert unpack(table["c1"]) == [("payments", b"redacted:attempt"), ("decisions", b"decision")]
    await body.process_batch([msg("decisions", b"c1", b"decision"), msg("refunds", b"c1", b"r1"),
                              msg("refunds", b"c1", b"r2")])  # a redelivered decision, then two more
    assert unpack(table["c1"]) == [("decisions", b"decision"), ("refunds", b"redacted:r1"),
                                   ("refunds", b"redacted:r2")]
    table.writes.clear()
    await body.process_batch([msg("decisions", b"c1", b"decision"), msg("payments", b"c1", b"garbage")])
    assert table.writes == []  # nothing new (a redelivery, and an input that does not decode): no write


async def test_an_erasure_deletes_the_history_and_what_came_before_it_in_the_batch() -> None:
    table = Table()
    body = History(table, limit=5, redact=redact)
    await body.process_batch([msg("payments", b"c1", b"a1"), msg("payments", b"c2", b"a2")])
    await body.process_batch([msg("decisions", b"c1", b"d1"), msg("customers", b"c1", None),
                              msg("erasures", b"c1", b"erased"), msg("payments", b"c1", b"new")])
    assert unpack(table["c1"]) == [("payments", b"redacted:new")]  # only what came after (the CustomerErased not)
    assert unpack(table["c2"]) == [("payments", b"redacted:a2")]
    await body.process_batch([msg("customers", b"c2", None)])
    assert "c2" not in table
    await body.process_batch([msg("payments", b"c3", None)])  # a null on another topic erases nothing
    assert "c3" not in table
