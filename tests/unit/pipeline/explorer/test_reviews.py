"""The review queue's HTTP API over a real aiohttp server on loopback, a plain dict as the queue table, the real codec
and a recording send: list the open cases, publish a verdict, refuse what is wrong."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from agents.rules.events import Reason, ReviewVerdict
from agents.rules.reviews import OpenReviews, ReviewCase
from agents.runtime import Runtime
from pipeline.explorer.reviews import (
    QueuedCase,
    ReviewApi,
    list_reviews,
    major_units,
    mask_customer,
    verdict_record,
)
from pipeline.metrics import Metrics
from pipeline.policies import load_policy
from pipeline.settings import Settings
from pipeline.wire import state_codec

NOW = 1_760_000_000_000
DAY = 86_400_000
KEY = b"mask key (test)"


def case(case_id: str, opened_at: int, kind: str = "payment", amount: int = 2_500,
         currency: str = "EUR") -> ReviewCase:
    return ReviewCase(case_id=case_id, case_kind=kind, opened_at=opened_at, amount_minor=amount, currency=currency,
                      reasons=(Reason(code="CHALLENGE_GREY_ZONE", detail="Risk 65 is in the grey zone."),
                               Reason(code="NEW_CUSTOMER", detail="No successful payment with us yet.")),
                      identifiers=("device:d1",))


def queue_of(**cases: tuple[ReviewCase, ...]) -> dict[str, bytes]:
    return {cid: state_codec.dumps(OpenReviews(customer_id=cid, cases=cs)) for cid, cs in cases.items()}


class Sent:
    def __init__(self, fail: bool = False) -> None:
        self.records: list[tuple[str, bytes, bytes, Any]] = []
        self.fail = fail

    async def __call__(self, topic: str, key: bytes, value: bytes, headers: Any,
                       partition: int | None = None) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail:
            done.set_exception(ConnectionError("broker went away (test)"))
        else:
            self.records.append((topic, key, value, headers))
            done.set_result(None)
        return done


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return Runtime.from_settings(Settings.from_env({"JOURNEY_DATA_DIR": str(tmp_path)}), Metrics())


async def serve(api: ReviewApi) -> TestClient[Any, Any]:
    app = web.Application()
    app.router.add_get("/api/reviews", api.list_handler)
    app.router.add_post("/api/reviews/{case_id}/verdict", api.verdict_handler)
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    return client


@pytest.fixture
async def setup(rt: Runtime) -> AsyncIterator[tuple[TestClient[Any, Any], Sent, dict[str, bytes]]]:
    queue = queue_of(**{"cust-00017": (case("pay-1", NOW - DAY), case("ref-9", NOW - 2 * DAY, "refund", 8_900)),
                        "cust-00042": (case("pay-2", NOW - 3 * DAY, amount=12_345, currency="JPY"),)})
    sent = Sent()
    client = await serve(ReviewApi(queue, sent, rt.codec.encode, rt.policy.reviews, KEY, "payment-journey/test",
                                   clock=lambda: NOW))
    try:
        yield client, sent, queue
    finally:
        await client.close()


async def test_the_queue_lists_every_open_case_oldest_first_with_the_customer_masked(setup: Any) -> None:
    client, _, _ = setup
    resp = await client.get("/api/reviews")
    assert resp.status == 200
    reviews = (await resp.json())["reviews"]
    assert [r["case_id"] for r in reviews] == ["pay-2", "ref-9", "pay-1"]
    first = reviews[0]
    assert set(first) == {"case_id", "case_kind", "customer", "opened_at", "amount", "currency", "reasons"}
    assert first["customer"] == mask_customer("cust-00042", KEY) and "cust-00042" not in str(reviews)
    assert first["customer"].startswith("cus") and first["opened_at"] == "2025-10-06T08:53:20.000Z"
    assert (first["amount"], first["currency"]) == ("12345", "JPY")
    assert (reviews[1]["case_kind"], reviews[1]["amount"]) == ("refund", "89.00")
    assert reviews[2]["reasons"] == ["Risk 65 is in the grey zone.", "No successful payment with us yet."]


async def test_a_verdict_is_published_on_reviews_keyed_by_the_customer(setup: Any, rt: Runtime) -> None:
    client, sent, _ = setup
    resp = await client.post("/api/reviews/pay-1/verdict", json={"verdict": "legitimate", "note": "phoned them"},
                             headers={"X-Reviewer": "rev-3"})
    assert resp.status == 202
    event_id = (await resp.json())["event_id"]
    ((topic, key, value, headers),) = sent.records
    assert (topic, key) == ("reviews", b"cust-00017")
    record = rt.codec.decode(value)
    assert isinstance(record, ReviewVerdict)
    assert (record.event_id, record.case_id, record.case_kind, record.verdict, record.reviewer, record.note,
            record.occurred_at) == (event_id, "pay-1", "payment", "legitimate", "rev-3", "phoned them", NOW)
    assert dict(headers)["ce_id"] == event_id.encode()


@pytest.mark.parametrize(("body", "status", "words"), [
    ({"verdict": "guilty"}, 400, "verdict must be one of"),
    ({"note": "no verdict"}, 400, "verdict must be one of"),
    (["legitimate"], 400, "JSON object"),
    ({"verdict": "abuse", "note": 7}, 400, "note must be text"),
    ({"verdict": "abuse", "note": "x" * 2_001}, 400, "note must be text"),
])
async def test_a_bad_body_is_refused_and_nothing_is_published(setup: Any, body: Any, status: int,
                                                               words: str) -> None:
    client, sent, _ = setup
    resp = await client.post("/api/reviews/pay-1/verdict", json=body)
    assert resp.status == status and words in (await resp.json())["error"]
    assert sent.records == []


async def test_an_unknown_or_expired_case_is_not_found(setup: Any, rt: Runtime) -> None:
    client, sent, queue = setup
    resp = await client.post("/api/reviews/nope/verdict", json={"verdict": "abuse"})
    assert resp.status == 404 and "error" in await resp.json()
    queue.update(queue_of(**{"cust-old": (case("pay-old", NOW - rt.policy.reviews.case_expiry_ms - 1),)}))
    assert (await client.post("/api/reviews/pay-old/verdict", json={"verdict": "abuse"})).status == 404
    assert "pay-old" not in str(await (await client.get("/api/reviews")).json())
    assert sent.records == []


async def test_not_json_and_a_broker_that_refuses_are_answered_with_an_error(rt: Runtime) -> None:
    queue = queue_of(c1=(case("pay-1", NOW),))
    client = await serve(ReviewApi(queue, Sent(fail=True), rt.codec.encode, rt.policy.reviews, KEY, "s",
                                   clock=lambda: NOW))
    try:
        garbage = await client.post("/api/reviews/pay-1/verdict", data=b"{not json")
        assert garbage.status == 400
        refused = await client.post("/api/reviews/pay-1/verdict", json={"verdict": "abuse"})
        assert refused.status == 503 and "error" in await refused.json()
    finally:
        await client.close()


def test_ids_and_amounts() -> None:
    q = QueuedCase("c1", case("pay-1", NOW))
    a = verdict_record(q, "abuse", "", "r", NOW)
    assert a == verdict_record(q, "abuse", "", "r", NOW) and a.note is None
    assert a.event_id != verdict_record(q, "abuse", "", "r", NOW + 1).event_id
    with pytest.raises(ValueError, match="verdict must be one of"):
        verdict_record(q, "maybe", None, "r", NOW)
    assert [major_units(n, c) for n, c in ((2_500, "EUR"), (5, "EUR"), (1_234, "KWD"), (700, "JPY"))] == [
        "25.00", "0.05", "1.234", "700"]
    assert mask_customer("cust-1", KEY) != mask_customer("cust-2", KEY) != mask_customer("cust-1", b"other key")
    assert list_reviews([("c1", b"not a state value")], load_policy().reviews, NOW, KEY) == [], "skipped, no error"
