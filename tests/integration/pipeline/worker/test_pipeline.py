"""The worker end to end on a real broker: real `journey` processes, the real codec, real topics."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from agents.rules.events import (
    CustomerPreferencesUpdated,
    DeviceSeen,
    OrderPlaced,
    PaymentAttempted,
    PaymentFailed,
    RefundRequested,
)
from pipeline.kafka.clients import Outgoing, produce
from tests.integration.support import collect, journey, journey_env, worker, write_jsonl

pytestmark = pytest.mark.integration

T0 = 1_760_000_000_000
HOUR = 3_600_000


def attempt(n: int, customer: str, at: int, **kw: Any) -> PaymentAttempted:
    base: dict[str, Any] = dict(
        event_id=f"att-{customer}-{n}", customer_id=customer, occurred_at=at, payment_id=f"pay-{customer}-{n}",
        order_id=f"ord-{customer}-{n}", amount_minor=4_200, currency="EUR", method="card", initiator="customer",
        device_id=f"dev-{customer}", ip="192.0.2.7", ip_country="NL", shipping_address_id=f"addr-{customer}",
        card_fingerprint=f"card-{customer}", card_issuer="bank-nl", card_country="NL", customer_country="NL",
        sca_applies=True, network="visa",
    )
    return PaymentAttempted(**{**base, **kw})


def story(customers: int) -> list[Any]:
    events: list[Any] = []
    for c in range(customers):
        cid = f"cust-{c:03d}"
        events.append(CustomerPreferencesUpdated(
            event_id=f"pref-{cid}", customer_id=cid, occurred_at=T0, name=f"Customer {c}", locale="nl-NL",
            timezone="Europe/Amsterdam", channels=("sms", "email")))
        events.append(DeviceSeen(event_id=f"dev-{cid}", customer_id=cid, occurred_at=T0 + 1, device_id=f"dev-{cid}",
                                 ip="192.0.2.7", ip_country="NL", user_agent="test"))
        events.append(OrderPlaced(event_id=f"ord-{cid}", customer_id=cid, occurred_at=T0 + 2, order_id=f"ord-{cid}-0",
                                  channel="online", amount_minor=4_200, currency="EUR"))
        events += [attempt(n, cid, T0 + 3 + n * HOUR) for n in range(3)]
    return events


def test_every_payment_attempt_gets_exactly_one_decision_and_bad_input_is_parked(broker: Any, tmp_path: Path) -> None:
    env = journey_env(broker.bootstrap, tmp_path)
    events = story(12)
    attempts = {e.payment_id for e in events if isinstance(e, PaymentAttempted)}
    first = write_jsonl(tmp_path / "events.jsonl", events)
    duplicates = write_jsonl(tmp_path / "dups.jsonl", [e for e in events if isinstance(e, PaymentAttempted)][:5])
    with worker(env, tmp_path / "worker.log") as proc:
        published = journey("publish", str(first), env=env)
        assert published.returncode == 0, published.stderr
        garbage = [Outgoing("payments", b"cust-000", b"\x00\x00\x00\x00"), Outgoing("devices", b"cust-001", b"{}")]
        asyncio.run(produce(broker.bootstrap, garbage))
        assert journey("publish", str(duplicates), env=env).returncode == 0
        late = write_jsonl(tmp_path / "late.jsonl", [attempt(99, "cust-000", T0 + 99 * HOUR)])
        assert journey("publish", str(late), env=env).returncode == 0  # after the bad input: still processed

        def complete(got: list[Any]) -> bool:
            decided = {r.payment_id for t, r, _ in got if t == "decisions"}
            return len(decided) == len(attempts) + 1 and sum(t.endswith("-dlq") for t, _, _ in got) == 2

        got = collect(broker.bootstrap, tmp_path, ["decisions", "payments-dlq", "devices-dlq"], complete, settle=3)
        assert proc.poll() is None, "the worker must keep running after bad input"
        with urllib.request.urlopen(f"http://127.0.0.1:{env['JOURNEY_WEB_PORT']}/metrics", timeout=5) as resp:
            metrics = resp.read().decode()

    tailed = journey("tail", "decisions", "--from-beginning", "--max", "3", env=env)
    assert tailed.returncode == 0, tailed.stderr
    lines = [json.loads(x) for x in tailed.stdout.splitlines()]
    assert len(lines) == 3 and all(x["type"] == "PaymentDecision" and x["topic"] == "decisions" for x in lines)
    assert lines[0]["value"]["occurred_at"].endswith("Z"), "analysts read ISO-8601 UTC timestamps"
    parked = journey("tail", "payments-dlq", "--from-beginning", env=env)
    assert '"undecodable": "bad_magic"' in parked.stdout or '"undecodable": "truncated"' in parked.stdout
    decisions = [r for t, r, _ in got if t == "decisions"]
    assert sorted(d.payment_id for d in decisions) == sorted([*attempts, "pay-cust-000-99"])  # exactly one each
    assert all(d.reasons and d.policy_version for d in decisions)
    assert 'journey_duplicate_events_total{topic="payments"} 5.0' in metrics
    assert 'journey_dead_letters_total{reason="truncated",topic="devices"} 1.0' in metrics
    assert "cust-0" not in metrics, "no customer ids in metrics"
    log = (tmp_path / "worker.log").read_text()
    assert "worker payment-journey on" in log, "the log is the worker's"
    leaked = [v for v in ("192.0.2.7", "dev-cust-", "card-cust-", "addr-cust-", "Customer 1") if v in log]
    assert leaked == [], "the worker never logs customer state or personal data"
    dead = {t: dict(h) for t, _, h in got if t.endswith("-dlq")}
    assert set(dead) == {"payments-dlq", "devices-dlq"}
    assert dead["payments-dlq"]["error.reason"] and dead["payments-dlq"]["error.topic"] == b"payments"


def test_failed_payment_and_refund_produce_dunning_notifications_and_a_refund_decision(broker: Any,
                                                                                       tmp_path: Path) -> None:
    env = journey_env(broker.bootstrap, tmp_path)
    cid = "cust-900"
    events = [
        *story(1),
        attempt(7, cid, T0 + 10 * HOUR),
        PaymentFailed(event_id="fail-1", customer_id=cid, occurred_at=T0 + 10 * HOUR + 1, payment_id=f"pay-{cid}-7",
                      decline_code="insufficient_funds", network="visa", network_response_code="51",
                      initiator="customer"),
        RefundRequested(event_id="ref-1", customer_id="cust-000", occurred_at=T0 + 20 * HOUR, refund_id="r1",
                        order_id="ord-cust-000-0", amount_minor=4_200, currency="EUR", reason="damaged",
                        claimant_name="Customer 0", claimant_email="c0@example.test", device_id="dev-cust-000"),
    ]
    with worker(env, tmp_path / "worker.log"):
        assert journey("publish", str(write_jsonl(tmp_path / "e.jsonl", events)), env=env).returncode == 0

        def complete(got: list[Any]) -> bool:
            topics = {t for t, _, _ in got}
            return {"dunning", "notifications", "refund-decisions"} <= topics

        got = collect(broker.bootstrap, tmp_path, ["dunning", "notifications", "refund-decisions"], complete, settle=2)
    refunds = [r for t, r, _ in got if t == "refund-decisions"]
    assert [r.refund_id for r in refunds] == ["r1"]
    steps = [r for t, r, _ in got if t == "dunning"]
    assert any(s.case_id for s in steps)
    notes = [r for t, r, _ in got if t == "notifications"]
    assert notes, "the failed payment and the refund decision notify their customers"
    for note in notes:
        text = str(note.to_record())
        assert "Customer 0" not in text and "@example.test" not in text
