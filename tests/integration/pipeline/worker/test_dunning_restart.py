"""A worker killed between scheduling a retry and firing it fires it exactly once after restart (issue 4)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest

from agents.rules.events import CustomerPreferencesUpdated, OrderPlaced, PaymentAttempted, PaymentFailed
from tests.integration.support import collect, journey, journey_env, start_worker, stop_process, write_jsonl

pytestmark = pytest.mark.integration
HOUR = 3_600_000


def failing_payment(failed_at: int) -> list[Any]:
    cid = "cust-restart"
    return [
        CustomerPreferencesUpdated(event_id="pref", customer_id=cid, occurred_at=failed_at - 3 * HOUR, name="R",
                                   locale="en-GB", timezone="UTC", channels=("email",)),
        OrderPlaced(event_id="ord", customer_id=cid, occurred_at=failed_at - 2 * HOUR, order_id="o-1",
                    channel="online", amount_minor=5_000, currency="EUR"),
        PaymentAttempted(event_id="att", customer_id=cid, occurred_at=failed_at - HOUR, payment_id="p-1",
                         order_id="o-1", amount_minor=5_000, currency="EUR", method="card", initiator="customer",
                         card_fingerprint="card-r", card_issuer="bank", card_country="GB", customer_country="GB",
                         sca_applies=False, network="visa"),
        PaymentFailed(event_id="fail", customer_id=cid, occurred_at=failed_at, payment_id="p-1",
                      decline_code="insufficient_funds", network="visa", network_response_code="51",
                      initiator="customer", order_id="o-1", card_fingerprint="card-r", amount_minor=5_000,
                      currency="EUR"),
    ]


def test_worker_killed_between_scheduling_and_firing_fires_the_retry_once(broker: Any, tmp_path: Path) -> None:
    # memory:// tables: the restarted worker must rebuild its state from the changelogs on the broker.
    env = journey_env(broker.bootstrap, tmp_path, JOURNEY_STORE="memory://")
    now = time.time_ns() // 1_000_000
    events = failing_payment(now - 24 * HOUR + 12_000)  # a soft decline's first retry falls due ~12 s from now
    first = start_worker(env, tmp_path / "worker-1.log")
    try:
        assert journey("publish", str(write_jsonl(tmp_path / "e.jsonl", events)), env=env).returncode == 0
        got = collect(broker.bootstrap, tmp_path, ["dunning"],
                      lambda g: any(r.action == "retry_scheduled" for _, r, _ in g), timeout=60)
        scheduled = [r for _, r, _ in got if r.action == "retry_scheduled"]
        assert scheduled and scheduled[0].due_at is not None and scheduled[0].due_at > now
        assert not any(r.action == "retry_due" for _, r, _ in got)
        time.sleep(2)  # let the worker commit its offsets and changelog
    finally:
        stop_process(first, signal.SIGKILL)  # no clean shutdown
    second = start_worker(env, tmp_path / "worker-2.log")
    try:
        due_at = scheduled[0].due_at
        got = collect(broker.bootstrap, tmp_path, ["dunning", "notifications"],
                      lambda g: any(r.action == "retry_due" for t, r, _ in g if t == "dunning"),
                      timeout=90, settle=max(0.0, (due_at - time.time_ns() // 1_000_000) / 1000) + 6)
    finally:
        stop_process(second)
    fired = [r for t, r, _ in got if t == "dunning" and r.action == "retry_due"]
    assert len(fired) == 1, [r.event_id for r in fired]
    ids = [r.event_id for _, r, _ in got]
    assert len(ids) == len(set(ids)), "no step or notification may be sent twice"
