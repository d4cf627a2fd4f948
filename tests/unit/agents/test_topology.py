"""The identity index's global table on Faust's own stores and recovery, without a broker.

Each worker holds a copy of the index, and one key can have records on several changelog partitions (a card used by
customers on partitions of different workers). These tests drive the real Faust table (memory and RocksDB stores)
and Faust's own changelog reader (faust/tables/recovery.py) with changelog events as the consumer builds them: the
key as the table's JSON key serializer wrote it, the value as bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.events import Event
from faust.types import TP
from faust.types.tuples import Message

from agents.customer_events import node_cache
from agents.progress import progress_key
from agents.rules.identity import IdentityNode, Mark, merge
from agents.topology import NodeJoins, _merging_global_table, _raw_node
from pipeline.wire import state_codec

STORES = ("memory://", "rocksdb://")
A = IdentityNode("card:k", customers=(("cust-a", 1_000),), chargebacks=(Mark("cust-a", "pay-1", "fraud", 2_000),))
C = IdentityNode("card:k", customers=(("cust-c", 500),))  # the same card, seen on another partition first


def index(store: str, datadir: Path) -> tuple[faust.App, Any]:
    app = faust.App("t", store=store, datadir=str(datadir), key_serializer="raw", value_serializer="raw",
                    topic_partitions=4)
    table = _merging_global_table(app, "identity-index", NodeJoins(node_cache()), _raw_node, key_type=str,
                                  value_type=bytes, default=None)
    return app, table


def record(app: faust.App, table: Any, partition: int, offset: int, key: str, value: bytes) -> Event:
    """A changelog event as Faust's consumer hands it over: key decoded, message key as written (JSON)."""
    raw_key = app.serializers.dumps_key(str, key, serializer="json")
    msg = Message(table.changelog_topic.get_topic_name(), partition, offset, 0.0, 0, None, raw_key, value, None)
    return Event(app, key, value, {}, msg)


def node(table: Any, key: str = "card:k") -> IdentityNode | None:
    data = table.get(key)
    return None if data is None else state_codec.loads(IdentityNode, data)


@pytest.mark.parametrize("store", STORES)
def test_a_changelog_record_is_merged_into_the_node_already_held_not_written_over_it(store: str,
                                                                                   tmp_path: Path) -> None:
    app, table = index(store, tmp_path)
    table.apply_changelog_batch([record(app, table, 2, 0, "card:k", state_codec.dumps(C))])
    table.apply_changelog_batch([record(app, table, 0, 0, "card:k", state_codec.dumps(A))])
    got = node(table)
    assert got is not None
    assert got.customer_ids() == {"cust-a", "cust-c"} and got.chargebacks == A.chargebacks


@pytest.mark.parametrize("store", STORES)
def test_records_of_one_batch_on_several_partitions_merge_in_any_order(store: str, tmp_path: Path) -> None:
    app, table = index(store, tmp_path)
    table.apply_changelog_batch([record(app, table, 0, 0, "card:k", state_codec.dumps(A)),
                                 record(app, table, 2, 0, "card:k", state_codec.dumps(C))])
    got = node(table)
    assert got is not None and got.customer_ids() == {"cust-a", "cust-c"} and got.chargebacks == A.chargebacks


def test_a_newer_progress_mark_replaces_the_one_before(tmp_path: Path) -> None:
    app, table = index("memory://", tmp_path)
    table.apply_changelog_batch([record(app, table, 1, 0, progress_key(1), b"old"),
                                 record(app, table, 1, 1, progress_key(1), b"new")])
    assert table.get(progress_key(1)) == b"new"


def test_rocksdb_reads_the_join_of_every_partitions_copy_also_after_a_restart(tmp_path: Path) -> None:
    """Faust's RocksDB store reads a global table's key from the partition it first found it in; a record applied
    later on another partition went unseen (and after a restart, whichever partition is found first wins)."""
    app, table = index("rocksdb://", tmp_path)
    table.apply_changelog_batch([record(app, table, 2, 0, "card:k", state_codec.dumps(C))])
    assert node(table) == C  # read once: Faust's key index now says partition 2
    # another worker's write on partition 0, made before it saw C (a worker's copy lags)
    table.apply_changelog_batch([record(app, table, 0, 0, "card:k", state_codec.dumps(A))])
    got = node(table)
    assert got is not None and got.customer_ids() == {"cust-a", "cust-c"} and got.chargebacks == A.chargebacks
    # a stale copy left in a partition (this worker's own older write there): the join still holds everything
    table.data._db_for_partition(1).put(table.data._encode_key("card:k"), state_codec.dumps(C))
    for db in table.data._dbs.values():
        db.close()  # Faust's store never closes them (its stop() only drops them)

    app, again = index("rocksdb://", tmp_path)
    for p in range(4):  # recovery opens every partition's database (persisted offsets)
        again.data._db_for_partition(p)
    got = node(again)
    assert got is not None and got.customer_ids() == {"cust-a", "cust-c"} and got.chargebacks == A.chargebacks
    for db in again.data._dbs.values():
        db.close()


def test_another_workers_record_is_applied_as_it_arrives_after_recovery(tmp_path: Path) -> None:
    """The assignor makes each partition of a global table's changelog active on every worker and, where another
    worker owns it, a standby as well; Faust's changelog reader buffers an active partition's records up to
    `recovery_buffer_size` (1000 by default) before applying them, so another worker's nodes and progress marks
    waited there until a full buffer or the next rebalance."""
    app, table = index("memory://", tmp_path)

    async def run() -> IdentityNode | None:
        recovery = app.tables.recovery
        tp = TP(table.changelog_topic.get_topic_name(), 2)
        recovery.add_active(table, tp)  # as faust/assignor/partition_assignor.py assigns a global table
        recovery.add_standby(table, tp)
        recovery._set_recovery_ended()  # recovery is over: the partition is read on as a standby
        app.flow_control.resume()
        await app.tables.changelog_queue.put(record(app, table, 2, 0, "card:k", state_codec.dumps(C)))
        reader = asyncio.ensure_future(type(recovery)._slurp_changelogs(recovery))  # Faust's own loop
        try:
            for _ in range(200):
                await asyncio.sleep(0.01)
                if table.get("card:k") is not None:
                    break
            return node(table)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    assert asyncio.run(run()) == C


def test_a_record_this_worker_wrote_itself_is_not_applied_again_when_it_is_read_back(tmp_path: Path) -> None:
    merged: list[str] = []

    class Spy(NodeJoins):
        def merge(self, key: str, current: bytes | None, incoming: bytes) -> bytes:
            merged.append(key)
            return super().merge(key, current, incoming)

    spy = Spy(node_cache())

    app = faust.App("t", store="rocksdb://", datadir=str(tmp_path), key_serializer="raw", value_serializer="raw",
                    topic_partitions=4)
    table = _merging_global_table(app, "identity-index", spy, _raw_node, key_type=str, value_type=bytes, default=None)
    table.apply_changelog_batch([record(app, table, 0, 0, "card:k", state_codec.dumps(C))])
    mine = state_codec.dumps(A)
    table.unread[("card:k", mine)] = 1  # what __setitem__ remembers when the index agent writes A (needs a stream)
    table.apply_changelog_batch([record(app, table, 0, 1, "card:k", mine)])
    assert merged == ["card:k"], "the own write came back and was skipped: only the first record was merged"
    assert node(table) == C, "(a real write had stored A locally already; skipping it leaves the store as it was)"
    assert table.data.persisted_offset(TP(table.changelog_topic.get_topic_name(), 0)) == 1, "its offset counts"
    assert not table.unread
    table.apply_changelog_batch([record(app, table, 0, 2, "card:k", mine)])  # the same bytes again: not ours now
    assert merged == ["card:k", "card:k"]
    got = node(table)
    assert got is not None and got.customer_ids() == {"cust-a", "cust-c"}
    for db in table.data._dbs.values():
        db.close()


def test_the_join_of_several_copies_is_made_again_when_any_copy_changes(tmp_path: Path) -> None:
    """Joins are remembered by the copies they were made from (a hot node is read by every event): a copy that
    changes, on any partition, gives a new join, the same as merging the copies afresh."""
    app, table = index("rocksdb://", tmp_path)
    raw_key = table.data._encode_key("card:k")
    table.data._db_for_partition(0).put(raw_key, state_codec.dumps(A))
    table.data._db_for_partition(2).put(raw_key, state_codec.dumps(C))
    first = node(table)
    assert first is not None and first.customer_ids() == {"cust-a", "cust-c"}
    assert node(table) == first
    d = IdentityNode("card:k", customers=(("cust-d", 3_000),))
    table.data._db_for_partition(2).put(raw_key, state_codec.dumps(merge(C, d)))  # partition 2's copy moved on
    again = node(table)
    assert again == merge(merge(A, C), d)
    assert again is not None and again.customer_ids() == {"cust-a", "cust-c", "cust-d"}
    table.data._db_for_partition(3).put(raw_key, state_codec.dumps(d))  # and a third copy appears
    assert node(table) == again
    for db in table.data._dbs.values():
        db.close()
