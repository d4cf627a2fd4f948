"""agents/direct_tables.py: a direct table write puts the bytes Faust's store would put, where it would put them,
and sends the changelog record Faust would send, persisting its offset once delivered."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.streams import _current_event
from faust.types import TP

from agents.direct_tables import DirectChangelogs
from agents.topology import _table


@dataclass
class Message:
    topic: str
    partition: int


@dataclass
class Event:
    message: Message


class Sent:
    """A producer stand-in at the boundary we do not own: records each send, delivers at offsets 40, 41, ..."""

    def __init__(self, fail: bool = False) -> None:
        self.records: list[tuple[str, bytes, bytes | None, Any, int]] = []
        self.fail = fail

    async def __call__(self, topic: str, key: bytes, value: bytes | None, headers: Any, partition: int) -> Any:
        self.records.append((topic, key, value, headers, partition))
        future = asyncio.get_running_loop().create_future()
        if self.fail:
            future.set_exception(OSError("broker gone"))
        else:
            future.set_result(type("Meta", (), {"offset": 39 + len(self.records), "partition": partition})())
        return future


def app_with(tmp_path: Path, store: str) -> faust.App:
    return faust.App("direct-test", broker="kafka://127.0.0.1:1", store=store, web_enabled=False,
                     datadir=str(tmp_path))


def bind(partition: int) -> Event:
    event = Event(Message("payments", partition))
    _current_event.set(weakref.ref(event))  # type: ignore[arg-type]
    return event  # the caller keeps it alive (`_alive`): the context holds a weak reference


@pytest.fixture
def table(tmp_path: Path) -> Any:
    sent = Sent()
    direct = DirectChangelogs(sent)
    t = _table(app_with(tmp_path, "rocksdb://"), "customer-state", direct=direct, key_type=str, value_type=bytes,
               default=None)
    t.sent, t.direct = sent, direct
    return t


async def test_a_write_lands_in_the_partitions_database_with_fausts_key_bytes(table: Any) -> None:
    _alive = bind(2)
    table["cust-1"] = b"state-bytes"
    store = table.data
    raw = store._encode_key("cust-1")
    assert raw == b'"cust-1"'  # Faust's JSON key, the one its own writes and changelog records use
    assert store._db_for_partition(2).get(raw) == b"state-bytes"
    assert store._db_for_partition(1).get(raw) is None
    assert table.get("cust-1") == b"state-bytes"
    topic = table.changelog_topic.get_topic_name()
    assert topic == "direct-test-customer-state-changelog"
    assert table.direct.pending == [(store, topic, raw, b"state-bytes", 2)]
    assert table.sent.records == []  # nothing is sent before the batch hands its writes over


async def test_send_pending_hands_over_every_record_and_persists_its_offset(table: Any) -> None:
    _alive = bind(3)
    table["a"] = b"1"
    table["b"] = b"2"
    await table.direct.send_pending()
    topic = table.changelog_topic.get_topic_name()
    assert [(r[1], r[2], r[4]) for r in table.sent.records] == [(b'"a"', b"1", 3), (b'"b"', b"2", 3)]
    await asyncio.sleep(0)  # done callbacks run on the next loop iteration
    assert table.data.persisted_offset(TP(topic, 3)) == 41 and table.direct.pending == []


async def test_a_delete_removes_the_key_and_sends_a_tombstone(table: Any) -> None:
    _alive = bind(0)
    table["gone"] = b"x"
    del table["gone"]
    assert table.get("gone") is None
    assert [r[3] for r in table.direct.pending] == [b"x", None]


async def test_a_failed_delivery_is_counted_and_persists_no_offset(tmp_path: Path) -> None:
    counted: list[int] = []
    direct = DirectChangelogs(Sent(fail=True), on_failed=lambda: counted.append(1))
    t = _table(app_with(tmp_path, "rocksdb://"), "due-index", direct=direct, key_type=str, value_type=bytes,
               default=None)
    _alive = bind(1)
    t["c"] = b"123"
    await direct.send_pending()
    await asyncio.sleep(0)
    assert direct.failed == 1 and counted == [1]
    assert t.data.persisted_offset(TP(t.changelog_topic.get_topic_name(), 1)) is None


async def test_a_write_outside_of_a_bound_event_is_refused(table: Any) -> None:
    _current_event.set(None)
    with pytest.raises(RuntimeError, match="outside of a bound event"):
        table["x"] = b"y"


def test_the_memory_store_keeps_fausts_own_path(tmp_path: Path) -> None:
    direct = DirectChangelogs(Sent())
    t = _table(app_with(tmp_path, "memory://"), "customer-state", direct=direct, key_type=str, value_type=bytes,
               default=None)
    assert direct.write(t, "k", b"v") is False and direct.pending == []
