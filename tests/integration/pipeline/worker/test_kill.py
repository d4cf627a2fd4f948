"""At-least-once under SIGKILL, and a backlog that never duns a payer (issue 9).

A simulated history is published at once (a backlog, as a worker meets it after downtime) while the worker is
SIGKILLed at random moments, also in the middle of a batch, and restarted each time. Then:

- every payment attempt has exactly one distinct decision (redelivered copies only with the same id and content),
- every refund request exactly one refund decision,
- no customer-facing record (notification, dunning step, recovery) exists in two versions under one id,
- no retry falls due and no reminder goes out for a case after its order was paid.

The timer runs on the wall clock and the history lies in the past, so every retry and reminder in it is overdue the
moment the worker starts: exactly the case where a timer that fires before the backlog is read duns payers.
`make test` runs a short version; `make soak` sets JOURNEY_SOAK_KILLS and JOURNEY_SOAK_CUSTOMERS for a long one.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from agents.rules.events import PaymentAttempted, PaymentSucceeded, RefundRequested
from pipeline.kafka.clients import encode_all, produce
from pipeline.sim import generate, simulation_start
from pipeline.wire.codec import Codec
from pipeline.wire.jsonio import record_to_json
from pipeline.wire.registry import LocalRegistry
from tests.integration.support import collect, journey_env, start_worker, stop_process

KILLS = int(os.environ.get("JOURNEY_SOAK_KILLS", "3"))
CUSTOMERS = int(os.environ.get("JOURNEY_SOAK_CUSTOMERS", "150"))
SEED = int(os.environ.get("JOURNEY_SOAK_SEED", "11"))
OUTPUTS = ("decisions", "refund-decisions", "dunning", "notifications", "recovery")


def paid_at(events: list[Any]) -> dict[str, int]:
    """Case id (order id, else payment id) -> when it was first paid."""
    paid: dict[str, int] = {}
    for e in events:
        if isinstance(e, PaymentSucceeded):
            for case in {e.order_id, e.payment_id} - {None}:
                paid[case] = min(paid.get(case, e.occurred_at), e.occurred_at)
    return paid


def dunned_after_payment(records: list[tuple[str, Any]], paid: dict[str, int]) -> list[str]:
    """Retries that fell due, and reminders sent, for a case after it was paid."""
    found = []
    for topic, r in records:
        if topic == "dunning" and r.action == "retry_due":
            case = r.case_id
        elif topic == "notifications" and ":notification:" in r.event_id:
            case = r.event_id.split(":notification:")[0]
        else:
            continue
        if case in paid and r.occurred_at > paid[case]:
            found.append(f"{topic} {r.event_id} at {r.occurred_at} > paid {paid[case]}")
    return found


def two_versions(records: list[tuple[str, Any]]) -> list[str]:
    """Ids that arrived with different content (a redelivered copy must be byte-for-byte the same record)."""
    seen: dict[tuple[str, str], Any] = {}
    clashes = []
    for topic, r in records:
        body = record_to_json(r)["value"]
        key = (topic, r.event_id)
        if key in seen and seen[key] != body:
            clashes.append(f"{topic} {r.event_id}")
        seen.setdefault(key, body)
    return clashes


@pytest.mark.integration
def test_sigkills_during_a_backlog_lose_no_decision_and_never_dun_a_payer(broker: Any, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    events = [x.event for x in generate(SEED, CUSTOMERS, simulation_start(30), 30)]
    attempts = {e.payment_id for e in events if isinstance(e, PaymentAttempted)}
    refunds = {e.refund_id for e in events if isinstance(e, RefundRequested)}
    env = journey_env(broker.bootstrap, tmp_path, JOURNEY_TIMER_CLOCK="wall", JOURNEY_BATCH_MAX="50",
                      JOURNEY_TIMER_INTERVAL=os.environ.get("DBG_TIMER", "0.2"))
    codec = Codec(LocalRegistry(tmp_path / "schema-registry.json"))
    started: list[Any] = []

    def decided(got: list[Any]) -> bool:
        return ({r.payment_id for t, r, _ in got if t == "decisions"} >= attempts
                and {r.refund_id for t, r, _ in got if t == "refund-decisions"} >= refunds)

    try:
        proc = start_worker(env, tmp_path / "worker-0.log")
        started.append(proc)
        asyncio.run(produce(broker.bootstrap, encode_all(codec, events)))  # the whole history at once
        for n in range(1, KILLS + 1):
            time.sleep(rng.uniform(0.5, 4.0))  # random: before the join, mid-batch, while the timer fires
            stop_process(proc, signal.SIGKILL)
            proc = start_worker(env, tmp_path / f"worker-{n}.log")
            started.append(proc)
        got = collect(broker.bootstrap, tmp_path, OUTPUTS, decided, timeout=120 + CUSTOMERS, settle=6)
        assert proc.poll() is None, "the worker must still be running"
    finally:
        for p in started:
            stop_process(p, signal.SIGKILL)
        assert all(p.poll() is not None for p in started)

    records = [(t, r) for t, r, _ in got]
    decisions: dict[str, set[str]] = defaultdict(set)
    for t, r in records:
        if t == "decisions":
            decisions[r.payment_id].add(r.event_id)
    assert set(decisions) == attempts, "every attempt is decided"
    assert [p for p, ids in decisions.items() if len(ids) != 1] == [], "exactly one distinct decision per attempt"
    refund_ids: dict[str, set[str]] = defaultdict(set)
    for t, r in records:
        if t == "refund-decisions":
            refund_ids[r.refund_id].add(r.event_id)
    assert set(refund_ids) == refunds and all(len(ids) == 1 for ids in refund_ids.values())
    assert two_versions(records) == []
    reminders = [r for t, r in records if t == "notifications"]
    assert reminders, "the history has failed payments: some reminders must have gone out"
    assert dunned_after_payment(records, paid_at(events)) == []


def test_the_checks_catch_what_they_look_for() -> None:
    """The helpers above fail on the records they exist to catch (so the test above can fail)."""
    from types import SimpleNamespace as R

    paid = {"o-1": 1_000}
    late_retry = R(event_id="o-1:retry:2", case_id="o-1", action="retry_due", occurred_at=2_000)
    early_retry = R(event_id="o-1:retry:1", case_id="o-1", action="retry_due", occurred_at=500)
    late_reminder = R(event_id="o-1:notification:1", occurred_at=1_500)
    found = dunned_after_payment([("dunning", late_retry), ("dunning", early_retry),
                                  ("notifications", late_reminder)], paid)
    assert len(found) == 2 and "o-1:retry:1" not in " ".join(found)
