"""A test-only stand-in for the review queue's backend (pipeline/explorer/reviews.py, built separately): the two
endpoints of its contract, `GET /api/reviews` and `POST /api/reviews/{case_id}/verdict`, beside the explorer's
real page files, so the review page can be tested before the real backend is merged. Records what it was sent."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from pipeline.explorer.api import ASSETS, PAGES, PAGES_DIR
from pipeline.kafka.embedded import free_port

REVIEWS = [
    {"case_id": "pay-7-fake-1", "case_kind": "payment", "customer": "customer·0a1b2c3d",
     "opened_at": "2026-11-30T10:00:00.000Z", "amount": "129.00", "currency": "EUR",
     "reasons": [{"code": "CHALLENGE_GREY_ZONE", "text": "Risk 68 is in the grey zone (from 65)."}]},
    {"case_id": "ref-7-fake-2", "case_kind": "refund", "customer": "customer·4e5f6a7b",
     "opened_at": "2026-11-30T11:30:00.000Z", "amount": "54.90", "currency": "EUR",
     "reasons": [{"code": "LINKED_SERIAL_CLAIMS", "text": "3 earlier claim(s) in 60 days by linked accounts."}]},
]
VERDICTS = {"payment": {"confirmed_fraud", "legitimate"}, "refund": {"abuse", "not_abuse"}}


@contextlib.asynccontextmanager
async def fake_review_backend() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """(base URL, the verdicts received as {"case_id", "verdict", "note"}), served until the block ends."""
    received: list[dict[str, Any]] = []
    app = web.Application()

    async def page(request: web.Request) -> web.StreamResponse:
        name = PAGES.get(request.path) or request.match_info["name"]
        if name not in ASSETS and name not in PAGES.values():
            raise web.HTTPNotFound()
        return web.FileResponse(PAGES_DIR / name)

    async def reviews(request: web.Request) -> web.Response:
        return web.json_response({"reviews": REVIEWS})

    async def verdict(request: web.Request) -> web.Response:
        case = next((r for r in REVIEWS if r["case_id"] == request.match_info["case_id"]), None)
        if case is None:
            return web.json_response({"error": "no such case"}, status=404)
        body = json.loads(await request.text())
        if body.get("verdict") not in VERDICTS[case["case_kind"]]:
            return web.json_response({"error": "not a verdict for this case"}, status=400)
        received.append({"case_id": case["case_id"], **body})
        return web.json_response({"event_id": f"verdict-{len(received)}"}, status=202)

    app.router.add_get("/explorer/reviews", page)
    app.router.add_get("/explorer/static/{name}", page)
    app.router.add_get("/api/reviews", reviews)
    app.router.add_post("/api/reviews/{case_id}/verdict", verdict)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        await runner.cleanup()
