"""The customer agent keeps each customer's last records (inputs redacted), bounded, once each, one write per batch,
and forgets a customer on erasure."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from agents.customer_events import CustomerEvents, Incoming, Producer
from agents.history import HISTORY_TOPICS, MAX_RECORD_BYTES, SEGMENT, History, pack, read, segment_key, unpack
from agents.rules.events import PaymentAttempted
from agents.runtime import Runtime
from tests.unit.agents.test_customer_events import Sent, attempt, runtime

T0 = 1_760_000_000_000


def test_entries_survive_packing_whatever_their_size() -> None:
    entries = [("payments", b""), ("decisions", b"x" * 127), ("dunning", b"y" * 128), ("recovery", b"z" * 70_000)]
    assert unpack(pack(entries)) == entries
    assert unpack(None) == [] and unpack(b"") == []


def test_a_truncated_or_unknown_tail_is_dropped_not_raised() -> None:
    data = pack([("payments", b"one"), ("orders", b"two")])
    assert unpack(data[:-1]) == [("payments", b"one")]
    assert unpack(data + bytes([len(HISTORY_TOPICS), 1, 0])) == [("payments", b"one"), ("orders", b"two")]
    assert unpack(data + b"\x00\xff") == [("payments", b"one"), ("orders", b"two")]  # a length that never ends


class Table(dict[str, Any]):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes.append(key)
        super().__setitem__(key, value)


def attempt_of(cid: str, n: int, **changes: Any) -> PaymentAttempted:
    return replace(attempt(), event_id=f"a-{cid}-{n}", payment_id=f"p-{cid}-{n}", order_id=f"o-{cid}-{n}",
                   occurred_at=T0 + n * 60_000, customer_id=cid, ip="203.0.113.7", device_id="dev-raw-1", **changes)


def history_agent(tmp_path: Path, table: Table, limit: int = 10) -> tuple[Runtime, Sent, CustomerEvents]:
    rt, sent = runtime(tmp_path), Sent()

    def redacted(event: Any) -> bytes | None:
        return rt.codec.encode(rt.context.pseudonyms.redacted(event))

    kept = History(table, limit, redacted)
    return rt, sent, CustomerEvents(rt, {}, {}, {}, Producer(sent, max_backoff_s=0), history=kept)


def msg(rt: Runtime, event: Any, offset: int = 0, topic: str = "payments") -> Incoming:
    return Incoming(topic, 0, offset, event.customer_id.encode(), rt.codec.encode(event))


async def test_the_customer_agent_keeps_each_event_redacted_and_its_outputs_one_write_per_customer(
        tmp_path: Path) -> None:
    table = Table()
    rt, sent, ce = history_agent(tmp_path, table)
    a1, a2, b1 = attempt_of("c1", 1), attempt_of("c1", 2), attempt_of("c2", 1)
    await ce.process_batch([msg(rt, a1, 0), msg(rt, a2, 1), msg(rt, b1, 2),
                            Incoming("payments", 0, 3, b"c3", b"not avro")])  # dead-lettered: not kept
    assert sorted(table.writes) == [segment_key("c1", 0), segment_key("c2", 0)], "one write each, no dead letter"
    kept = [(t, rt.codec.decode(d)) for t, d in read(table, "c1", 10)]
    assert [t for t, _ in kept] == ["payments", "decisions", "payments", "decisions"]
    first = kept[0][1]
    assert first.payment_id == a1.payment_id and first.ip != a1.ip and first.device_id != a1.device_id
    assert not any(a1.ip.encode() in v or a1.device_id.encode() in v for v in table.values()), "never raw identifiers"
    sent_decisions = [v for t, k, v, _ in sent.records if t == "decisions" and k == b"c1"]
    assert [d for t, d in read(table, "c1", 10) if t == "decisions"] == sent_decisions, "outputs as they were sent"
    assert not any(t == "identity-links" for t, _ in read(table, "c1", 10))
    table.writes.clear()
    await ce.process_batch([msg(rt, a1, 0)])  # redelivered after a restart: a duplicate, nothing new
    assert table.writes == []


async def test_the_history_keeps_the_newest_records_rewriting_only_the_newest_segment(tmp_path: Path) -> None:
    table = Table()
    rt, _sent, ce = history_agent(tmp_path, table, limit=3)
    await ce.process_batch([msg(rt, attempt_of("c1", n), n) for n in range(4)])
    kept = [(t, rt.codec.decode(d)) for t, d in read(table, "c1", 3)]
    assert [t for t, _ in kept] == ["decisions", "payments", "decisions"]
    assert kept[1][1].payment_id == "p-c1-3"
    table.writes.clear()
    for n in range(4, 4 + 3 * SEGMENT):  # one attempt per batch, as live traffic comes
        await ce.process_batch([msg(rt, attempt_of("c1", n), n)])
    assert all(len(table[k]) < 2 * SEGMENT * 200 for k in table.writes), "each write is a segment, not the history"
    assert len(table) == 2, "a ring of two segments holds three records and the one being filled"
    newest = [rt.codec.decode(d) for t, d in read(table, "c1", 3) if t == "payments"]
    assert [e.payment_id for e in newest] == [f"p-c1-{3 + 3 * SEGMENT}"]


async def test_an_erasure_deletes_the_history_and_what_came_before_it_in_the_batch(tmp_path: Path) -> None:
    table = Table()
    rt, _sent, ce = history_agent(tmp_path, table)
    await ce.process_batch([msg(rt, attempt_of("c1", 1), 0), msg(rt, attempt_of("c2", 1), 1)])
    assert read(table, "c1", 10) and read(table, "c2", 10)
    await ce.process_batch([msg(rt, attempt_of("c1", 2), 2), Incoming("customers", 0, 0, b"c1", None,
                                                                       timestamp_ms=T0 + 10 * 60_000)])
    assert read(table, "c1", 10) == [] and not any(k.startswith("c1") for k in table)
    assert [t for t, _ in read(table, "c2", 10)] == ["payments", "decisions"]


def test_records_too_large_or_on_topics_a_history_does_not_keep_are_left_out() -> None:
    table = Table()
    kept = History(table, 10, lambda e: None)
    kept.keep("c1", "decisions", b"x" * (MAX_RECORD_BYTES + 1))
    kept.keep("c1", "identity-links", b"link")
    kept.keep_input("c1", "payments", object())  # redaction kept nothing
    kept.keep("c1", "decisions", b"small")
    kept.write(lambda cid: None)
    assert read(table, "c1", 10) == [("decisions", b"small")]


def test_a_history_in_the_one_value_layout_is_read_as_the_oldest_and_erased_with_the_rest() -> None:
    table = Table()
    table["c1"] = pack([("payments", b"old")])
    kept = History(table, 10, lambda e: None)
    kept.keep("c1", "decisions", b"new")
    kept.write(lambda cid: None)
    assert read(table, "c1", 10) == [("payments", b"old"), ("decisions", b"new")]
    kept.erase("c1")
    kept.write(lambda cid: None)
    assert dict(table) == {}
