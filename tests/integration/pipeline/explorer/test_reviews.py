"""The review queue end to end (issue #13.2): a real worker on the embedded broker, real HTTP, the real CLI.

A grey-zone challenge shows up in GET /api/reviews; a POSTed verdict leaves the queue once the worker has folded it
in; the customer's next checkout says the reviewer vouched for them; and `journey replay` over the same inputs,
the verdict read back from `reviews` included, gives the same decision.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from agents.rules.events import PaymentAttempted, PaymentDecision, ReviewVerdict
from pipeline.wire.jsonio import record_to_json
from tests.integration.support import collect, journey, journey_env, worker, write_jsonl

pytestmark = pytest.mark.integration
MINUTE = 60_000
CUSTOMER = "cust-review-1"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def attempt(n: int, at: int) -> PaymentAttempted:
    """A new customer abroad paying with a card from home, under EUR 30: risk 65, a grey-zone challenge."""
    return PaymentAttempted(
        event_id=f"att-review-{n}", customer_id=CUSTOMER, occurred_at=at, payment_id=f"pay-review-{n}",
        order_id=f"ord-review-{n}", amount_minor=2_500, currency="EUR", method="card", initiator="customer",
        device_id="dev-review", ip="192.0.2.44", ip_country="US", card_fingerprint="card-review",
        card_issuer="bank-nl", card_country="NL", customer_country="NL", sca_applies=True, network="visa")


async def until(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 60.0) -> Any:
    """Ask again until the answer is `done` (or the timeout, returning the last answer for the assertion)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = await fetch()
        except aiohttp.ClientError:
            got = None  # the worker's web server is not up yet
        if (got is not None and done(got)) or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.25)


def test_a_verdict_on_a_grey_zone_case_leaves_the_queue_and_changes_the_next_decision_live_and_in_replay(
        broker: Any, tmp_path: Path) -> None:
    env = journey_env(broker.bootstrap, tmp_path)
    base = f"http://127.0.0.1:{env['JOURNEY_WEB_PORT']}"
    first = attempt(1, now_ms() - 10 * MINUTE)

    def decisions(n: int) -> list[PaymentDecision]:
        got = collect(broker.bootstrap, tmp_path, ["decisions"], lambda g: len(g) >= n, timeout=90)
        return [r for _, r, _ in got]

    async def review(session: aiohttp.ClientSession) -> tuple[list[Any], int, Any, list[Any]]:
        async def listed() -> list[Any]:
            async with session.get(f"{base}/api/reviews") as resp:
                assert resp.status == 200
                return list((await resp.json())["reviews"])

        queued = await until(listed, lambda r: any(x["case_id"] == first.payment_id for x in r))
        async with session.post(f"{base}/api/reviews/{first.payment_id}/verdict",
                                json={"verdict": "legitimate", "note": "spoke to the customer on the phone"},
                                headers={"X-Reviewer": "reviewer-12"}) as resp:
            status, answer = resp.status, await resp.json()
        after = await until(listed, lambda r: all(x["case_id"] != first.payment_id for x in r))
        return queued, status, answer, after

    with worker(env, tmp_path / "worker.log") as proc:
        assert journey("publish", str(write_jsonl(tmp_path / "first.jsonl", [first])), env=env).returncode == 0
        (challenged,) = decisions(1)
        assert challenged.outcome == "challenge" and challenged.reasons[0].code == "CHALLENGE_GREY_ZONE"

        async def http() -> tuple[list[Any], int, Any, list[Any]]:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
                return await review(session)

        queued, status, answer, after = asyncio.run(http())
        second = attempt(2, now_ms())
        assert journey("publish", str(write_jsonl(tmp_path / "second.jsonl", [second])), env=env).returncode == 0
        live = {d.payment_id: d for d in decisions(2)}
        verdicts = [r for _, r, _ in collect(broker.bootstrap, tmp_path, ["reviews"], lambda g: len(g) >= 1)]
        assert proc.poll() is None

    (case,) = [x for x in queued if x["case_id"] == first.payment_id]
    assert case["case_kind"] == "payment" and case["amount"] == "25.00" and case["currency"] == "EUR"
    assert CUSTOMER not in json.dumps(queued) and case["customer"].startswith(CUSTOMER[:3])
    assert case["reasons"][0] == challenged.reasons[0].detail
    assert status == 202 and answer["event_id"]
    assert all(x["case_id"] != first.payment_id for x in after), "the judged case left the queue"

    (verdict,) = verdicts
    assert isinstance(verdict, ReviewVerdict) and verdict.event_id == answer["event_id"]
    assert (verdict.customer_id, verdict.case_id, verdict.verdict) == (CUSTOMER, first.payment_id, "legitimate")
    nxt = live[second.payment_id]
    trust = [r for r in nxt.reasons if r.code == "REVIEWED_LEGITIMATE"]
    assert trust and "reviewer confirmed this customer legitimate" in trust[0].detail
    assert nxt.outcome == "approve", "the same risk that was challenged is now approved"
    log = (tmp_path / "worker.log").read_text()
    assert "spoke to the customer" not in log, "the reviewer's note is never logged"

    inputs = write_jsonl(tmp_path / "inputs.jsonl", [first, verdict, second])
    replayed = journey("replay", str(inputs), "--out", str(tmp_path / "replay.jsonl"), env=env)
    assert replayed.returncode == 0, replayed.stderr
    offline = [json.loads(x) for x in (tmp_path / "replay.jsonl").read_text().splitlines()]
    again = {r["value"]["payment_id"]: r["value"] for r in offline if r["topic"] == "decisions"}
    assert again == {p: record_to_json(d)["value"] for p, d in live.items()}
