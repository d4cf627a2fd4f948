"""Two workers share the identity index: another customer's chargeback on a card, made on the other worker, counts.

Customer A, on a partition worker X owns, pays with card K and has the payment charged back; customer C, on a
partition worker Y owns, paid with K before; then customer B, on Y, pays with K. B's decision must name the stolen
card and both other accounts on it, as `journey replay` (one index, every link at once) decides. That needs Y's copy
of the index to hold A's chargeback, written by X on X's changelog partition, merged with C's link that Y wrote on
its own partition (agents/topology.py `_merging_global_table`: the merge, the join of the partitions' copies, and
other workers' records applied as they arrive).

The events are a backlog (older than JOURNEY_ALIGN_LATENESS_MS), so B's attempt waits for X's progress marks to
pass its time (agents/progress.py) and the test needs no sleep: with the idle timeout and the hold bound raised out
of reach, a worker that never saw the other's marks would hold B's attempt past the test's patience instead of
deciding it on an incomplete index. Then both stop and Y alone starts again from its RocksDB tables: B's next attempt
must still see the merged node (Faust's RocksDB store keeps one copy per changelog partition).
"""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from agents.rules.events import Chargeback, DeviceSeen, PaymentAttempted, PaymentDecision, PaymentSucceeded
from pipeline.explorer.api import partition_of
from pipeline.wire.jsonio import record_to_json
from pipeline.wire.registry_api import serve_local_registry
from tests.integration.pipeline.worker.test_takeover import assigned, wait_for
from tests.integration.support import collect, journey, journey_env, start_worker, stop_process, write_jsonl

pytestmark = pytest.mark.integration
PARTITIONS = 4
MIN = 60_000
T0 = (time.time_ns() // 1_000_000 // MIN - 180) * MIN  # three hours ago: a backlog, not live traffic
PATIENT = {"JOURNEY_ALIGN_IDLE_MS": "600000", "JOURNEY_ALIGN_MAX_HOLD_MS": "600000"}  # no wait is cut short


def owned(port: str) -> set[int]:
    """Partitions of `devices` the worker on `port` holds, from its lag gauges (a series per held partition that has
    had a record)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:  # noqa: S310 - loopback
            text = resp.read().decode()
    except OSError:
        return set()
    return {int(p) for p in re.findall(r'^journey_consumer_lag\{partition="(\d+)",topic="devices"\}', text, re.M)}


def customer_on(partition: int, prefix: str) -> str:
    return next(c for c in (f"{prefix}-{n}" for n in range(1000)) if partition_of(c, PARTITIONS) == partition)


def paid(cid: str, pid: str, at: int, card: str = "card-k") -> list[Any]:
    return [PaymentAttempted(event_id=f"att-{pid}", customer_id=cid, occurred_at=at, payment_id=pid,
                             order_id=f"o-{pid}", amount_minor=4_500, currency="EUR", method="card",
                             initiator="customer", card_fingerprint=card, card_issuer="bank", card_country="GB",
                             customer_country="GB", sca_applies=False, network="visa"),
            PaymentSucceeded(event_id=f"ok-{pid}", customer_id=cid, occurred_at=at + 1_000, payment_id=pid,
                             authentication="none", order_id=f"o-{pid}", method="card", card_fingerprint=card,
                             amount_minor=4_500, currency="EUR")]


def clocks(at: int) -> list[DeviceSeen]:
    """An event on every partition after the others: each partition's progress mark passes every earlier time."""
    return [DeviceSeen(event_id=f"clock-{p}-{at}", customer_id=customer_on(p, "clock"), occurred_at=at,
                       device_id=f"dev-clock-{p}", ip="192.0.2.1", ip_country="GB", user_agent="ua")
            for p in range(PARTITIONS)]


def decided(bootstrap: str, data: Path, payment_ids: set[str]) -> dict[str, PaymentDecision]:
    got = collect(bootstrap, data, ["decisions"], timeout=120,
                  until=lambda g: payment_ids <= {getattr(r, "payment_id", None) for _, r, _ in g})
    return {r.payment_id: r for _, r, _ in got if isinstance(r, PaymentDecision) and r.payment_id in payment_ids}


def replayed(path: Path, env: dict[str, str], out: Path) -> dict[str, dict[str, Any]]:
    run = journey("replay", str(path), "--out", str(out), env=env)
    assert run.returncode == 0, run.stderr
    return {rec["value"]["payment_id"]: rec["value"] for rec in map(json.loads, out.read_text().splitlines())
            if rec["topic"] == "decisions"}


def test_a_chargeback_on_one_worker_counts_for_a_customer_of_the_other_also_after_a_restart(
        broker: Any, tmp_path: Path) -> None:
    bootstrap = broker.bootstrap
    shared = tmp_path / "shared"
    procs = []
    with serve_local_registry(shared) as api:
        envs = [journey_env(bootstrap, tmp_path / f"w{i}", SCHEMA_REGISTRY_URL=api.url,
                            JOURNEY_PARTITIONS=str(PARTITIONS), **PATIENT) for i in (0, 1)]
        ports = [env["JOURNEY_WEB_PORT"] for env in envs]
        try:
            procs = [start_worker(env, tmp_path / f"worker-{i}.log") for i, env in enumerate(envs)]
            wait_for(lambda: all(assigned(p) > 0 for p in ports) and sum(assigned(p) for p in ports) == PARTITIONS,
                     90, "both workers to hold partitions")
            warm_up = clocks(T0 - 60 * MIN)  # a record on every partition, for the gauges
            published = journey("publish", str(write_jsonl(tmp_path / "warm-up.jsonl", warm_up)), env=envs[0])
            assert published.returncode == 0, published.stderr
            wait_for(lambda: owned(ports[0]) | owned(ports[1]) == set(range(PARTITIONS))
                     and not owned(ports[0]) & owned(ports[1]), 60, "each worker's partitions in its gauges")
            x, y = owned(ports[0]), owned(ports[1])
            a, b = customer_on(min(x), "cust-a"), customer_on(min(y), "cust-b")
            c = customer_on(max(y), "cust-c")  # on Y too, on its other partition when it has two
            history = [*paid(c, "c1", T0), *paid(a, "a1", T0 + MIN),
                       Chargeback(event_id="cb-a1", customer_id=a, occurred_at=T0 + 2 * MIN, payment_id="a1",
                                  reason="fraudulent"),
                       *paid(b, "b1", T0 + 3 * MIN, card="card-k")[:1], *clocks(T0 + 10 * MIN)]
            path = write_jsonl(tmp_path / "history.jsonl", history)
            assert journey("publish", str(path), env=envs[0]).returncode == 0
            first = decided(bootstrap, shared, {"c1", "a1", "b1"})
            assert all(p.poll() is None for p in procs), "the workers run on"
        finally:
            for proc in procs:
                stop_process(proc, signal.SIGTERM)

        # Y alone again, from its own RocksDB tables (and what the changelogs hold beyond them)
        later = [*paid(b, "b2", T0 + 20 * MIN)[:1]]
        with_later = write_jsonl(tmp_path / "all.jsonl", [*warm_up, *history, *later])
        restarted = start_worker(envs[1], tmp_path / "worker-1-again.log")
        try:
            wait_for(lambda: assigned(ports[1]) == PARTITIONS, 90, "the restarted worker to hold every partition")
            assert journey("publish", str(write_jsonl(tmp_path / "later.jsonl", later)), env=envs[1]).returncode == 0
            second = decided(bootstrap, shared, {"b2"})
            assert restarted.poll() is None
        finally:
            stop_process(restarted, signal.SIGTERM)

    offline = replayed(with_later, envs[0], tmp_path / "replay.jsonl")
    live = {**first, **second}
    for pid in ("c1", "a1", "b1", "b2"):
        assert pid in live, f"{pid} decided"
        assert record_to_json(live[pid])["value"] == offline[pid], pid
    for pid in ("b1", "b2"):
        codes = [r.code for r in live[pid].reasons]
        assert live[pid].outcome == "decline" and "STOLEN_CARD" in codes, (pid, live[pid])
        assert any(r.code == "CARD_ON_OTHER_ACCOUNTS" and "2 other accounts" in r.detail for r in live[pid].reasons), (
            "the node B's worker read holds C (its own partition) and A (the other worker's)", live[pid].reasons)
