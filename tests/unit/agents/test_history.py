"""The history agent's body keeps each customer's last records raw, bounded, once each, one write per batch."""

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


def test_a_batch_writes_each_customer_once_and_skips_what_it_cannot_keep() -> None:
    table = Table()
    body = History(table, limit=3)
    body.process_batch([
        msg("payments", b"c1", b"attempt"), msg("decisions", b"c1", b"decision"), msg("devices", b"c2", b"seen"),
        msg("payments", None, b"no key"), msg("payments", b"c3", None), msg("payments", b"\xff\xfe", b"bad key"),
        msg("payments", b"c4", b"x" * (MAX_RECORD_BYTES + 1)), msg("identity-links", b"c5", b"not kept"),
    ])
    assert sorted(table.writes) == ["c1", "c2"]
    assert unpack(table["c1"]) == [("payments", b"attempt"), ("decisions", b"decision")]
    body.process_batch([msg("decisions", b"c1", b"decision"), msg("refunds", b"c1", b"r1"),
                        msg("refunds", b"c1", b"r2")])  # a redelivered decision, then two more
    assert unpack(table["c1"]) == [("decisions", b"decision"), ("refunds", b"r1"), ("refunds", b"r2")]
    table.writes.clear()
    body.process_batch([msg("decisions", b"c1", b"decision")])  # nothing new: no write
    assert table.writes == []
