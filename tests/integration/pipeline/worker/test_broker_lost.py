"""A worker whose embedded broker came back empty rebuilds its state instead of dying (issue 11 item 6).

Tansu keeps topics in memory only, so after a broker restart the RocksDB tables of <data dir>/worker hold changelog
offsets the new, empty changelogs never reached: Faust's recovery would raise ConsistencyError.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from agents.rules.events import PaymentAttempted
from pipeline.kafka.embedded import EmbeddedBroker
from tests.integration.support import collect, journey, journey_env, worker, write_jsonl

pytestmark = pytest.mark.integration


def attempt(payment_id: str) -> PaymentAttempted:
    return PaymentAttempted(event_id=f"att-{payment_id}", customer_id="cust-lost", occurred_at=time.time_ns() // 10**6,
                            payment_id=payment_id, order_id=f"o-{payment_id}", amount_minor=2_500, currency="EUR",
                            method="card", initiator="customer", card_fingerprint="card-l", card_issuer="bank",
                            card_country="GB", customer_country="GB", sca_applies=False, network="visa")


def decide(bootstrap: str, data_dir: Path, env: dict[str, str], payment_id: str) -> None:
    events = write_jsonl(data_dir.parent / f"{payment_id}.jsonl", [attempt(payment_id)])
    assert journey("publish", str(events), env=env).returncode == 0
    got = collect(bootstrap, data_dir, ["decisions"], lambda g: any(r.payment_id == payment_id for _, r, _ in g),
                  timeout=60)
    assert any(r.payment_id == payment_id for _, r, _ in got), f"{payment_id} was not decided"


def test_a_worker_on_a_restarted_empty_broker_moves_its_stale_state_aside_and_decides(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = EmbeddedBroker(tmp_path / "broker-data")
    second = None
    try:
        first.start()
        env = journey_env(first.bootstrap, data)  # rocksdb:// tables: offsets persisted in <data>/worker
        with worker(env, tmp_path / "worker-1.log"):
            decide(first.bootstrap, data, env, "p-before")
            time.sleep(2)  # the changelog writes and their offsets reach RocksDB
        port = first.port
        first.stop()
        second = EmbeddedBroker(tmp_path / "broker-data", port=port).start()  # same address, empty topics
        with worker(env, tmp_path / "worker-2.log"):
            decide(second.bootstrap, data, env, "p-after")
    finally:
        first.stop()
        if second is not None:
            second.stop()
    log = (tmp_path / "worker-2.log").read_text()
    assert "ConsistencyError" not in log and "Traceback" not in log, log[-3000:]
    assert "ahead of their changelogs" in log and "the worker rebuilds its state" in log, log[-3000:]
    assert len(list(data.glob("worker.stale-*"))) == 1


def test_a_running_worker_whose_broker_comes_back_empty_stops_with_one_sentence_and_rebuilds_on_restart(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = EmbeddedBroker(tmp_path / "broker-data")
    second = None
    try:
        first.start()
        env = journey_env(first.bootstrap, data)
        with worker(env, tmp_path / "worker-1.log") as proc:
            decide(first.bootstrap, data, env, "p-before")
            port = first.port
            first.stop()
            second = EmbeddedBroker(tmp_path / "broker-data", port=port).start()  # same address, empty topics
            events = write_jsonl(tmp_path / "later.jsonl", [attempt("p-later")])
            assert journey("publish", str(events), env=env).returncode == 0
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.5)
            assert proc.poll() == 3, "the worker must stop by itself once its broker lost its topics"
        log = (tmp_path / "worker-1.log").read_text()
        assert "the broker lost its topics" in log and "Traceback" not in log, log[-3000:]
        with worker(env, tmp_path / "worker-2.log"):
            decide(second.bootstrap, data, env, "p-after")
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_a_worker_killed_while_it_created_a_table_partition_restarts_and_decides(tmp_path: Path) -> None:
    """A SIGKILL between rocksdict's config file and RocksDB's CURRENT leaves a folder with no database (seen in the
    kill test). The restarted worker must not die on it in the stale-state check, and must keep what it had."""
    data = tmp_path / "data"
    broker = EmbeddedBroker(tmp_path / "broker-data")
    try:
        broker.start()
        env = journey_env(broker.bootstrap, data)
        with worker(env, tmp_path / "worker-1.log"):
            decide(broker.bootstrap, data, env, "p-before")
            time.sleep(2)  # the changelog writes and their offsets reach RocksDB
        tables = next((data / "worker").glob("v*/tables"))
        cut = next(tables / f"identity-index-{p}.db" for p in range(64)
                   if not (tables / f"identity-index-{p}.db").exists())
        cut.mkdir()
        (cut / "rocksdict-config.json").write_text('{"raw_mode":true,"prefix_extractors":{}}')
        with worker(env, tmp_path / "worker-2.log"):
            decide(broker.bootstrap, data, env, "p-after")
    finally:
        broker.stop()
    log = (tmp_path / "worker-2.log").read_text()
    assert "Traceback" not in log and "ahead of their changelogs" not in log, log[-3000:]
    assert not list(data.glob("worker.stale-*")), "the state it had is kept"
