"""The explorer on the worker's web server: `GET /api/customers/{customer_id}`, `GET /api/overview` and the pages.

A customer lookup is answered by the worker that owns the customer's partition: any other worker forwards the
request there with Faust's table routing (`app.table_route` on `customer-state`, whose changelog is co-partitioned
with the input topics), headers and bearer token included. The owner reads the live state from its table, the kept
records from `customer-history` (decoded only now) and the identity-index nodes of the customer's identifiers, and
shapes them with pipeline/explorer/views.py. Every miss (unknown customer, malformed id) answers the same 404 body.

The pages are static files (pipeline/explorer/pages/, no build step, no CDN) that hold no data, so they are served
without the bearer token; every /api/ request their scripts make carries it (the token is given once in the page:
`#token=...` in the address, or a prompt after a 401). Responses carry a strict Content-Security-Policy.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from agents.history import unpack
from agents.rules.identity import IdentityNode
from agents.rules.journey import CustomerState
from agents.runtime import Runtime
from pipeline.errors import DecodeError, JourneyError, RegistryError, SchemaLookupNeeded
from pipeline.explorer.overview import SAMPLE_EVERY_S, Rolling, overview, sample_of
from pipeline.explorer.views import MISSING, customer_identifiers, customer_view, masker
from pipeline.topics import INPUT_TOPICS
from pipeline.wire import state_codec

PAGES_DIR = Path(__file__).resolve().parent / "pages"
PAGES = {"/explorer/": "overview.html", "/explorer/customer": "customer.html", "/explorer/reviews": "reviews.html"}
ASSETS = {"explorer.css": "text/css", "explorer.js": "text/javascript", "overview.js": "text/javascript",
          "customer.js": "text/javascript", "reviews.js": "text/javascript"}
PUBLIC_PATHS = frozenset({*PAGES, "/explorer", *(f"/explorer/static/{name}" for name in ASSETS)})
"""Paths served without the bearer token: the static pages and their assets, which hold no data."""
MAX_LINKED_IDENTIFIERS = 60  # identity-index nodes read for one lookup
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json",
                        headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})


class Explorer:
    """Answers the explorer's API from one worker's tables and metrics."""

    def __init__(self, rt: Runtime, customers: Mapping[str, bytes | None], identities: Mapping[str, bytes | None],
                 histories: Mapping[str, bytes | None] | None, now_ms: Any = None) -> None:
        self.rt, self.customers, self.identities, self.histories = rt, customers, identities, histories
        self.now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self.mask = masker(rt.settings.link_secret)
        self.rolling = Rolling(started_ms=self.now_ms())

    async def customer(self, customer_id: str) -> tuple[int, dict[str, Any]]:
        if not customer_id or len(customer_id) > self.rt.settings.max_id_chars:
            return 404, MISSING
        data = self.customers.get(customer_id)
        if data is None:
            return 404, MISSING
        state = state_codec.loads(CustomerState, data)
        kept = unpack(self.histories.get(customer_id)) if self.histories is not None else []
        records = [await self._decode(raw) for _topic, raw in kept]
        links: dict[str, IdentityNode] = {}
        for ident in customer_identifiers(state, records)[:MAX_LINKED_IDENTIFIERS]:
            node = self.identities.get(ident)
            if node is not None:
                links[ident] = state_codec.loads(IdentityNode, node)
        body = customer_view(state, records, links, self.rt.policy, self.now_ms(), self.mask)
        body["history_kept"] = self.rt.settings.explorer_history
        return 200, body

    async def _decode(self, raw: bytes) -> Any:
        """A kept record, decoded; None when no schema reads it (a message that was dead-lettered)."""
        for _ in range(2):
            try:
                return self.rt.codec.decode(raw)
            except SchemaLookupNeeded as need:  # a schema id this worker has not seen: look it up off the loop
                try:
                    await asyncio.to_thread(self.rt.codec.resolve, need.schema_id)
                except (RegistryError, DecodeError):
                    return None
            except (DecodeError, JourneyError):
                return None
        return None

    def sample(self) -> None:
        self.rolling.add(self.now_ms(), sample_of(self.rt.metrics.registry.collect()))

    def overview(self) -> dict[str, Any]:
        current = sample_of(self.rt.metrics.registry.collect())
        return overview(self.rolling, self.now_ms(), current, self.rt.settings.partitions, INPUT_TOPICS[0])


def _page(name: str, content_type: str) -> web.Response:
    return web.Response(body=(PAGES_DIR / name).read_bytes(), content_type=content_type, charset="utf-8",
                        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})


def register_explorer(app: Any, rt: Runtime, histories: Mapping[str, bytes | None] | None) -> Explorer:
    """Add the explorer's API, pages and sampling timer to the Faust app (after the agents and their tables)."""
    from faust.web import View

    customers = app.tables["customer-state"]
    explorer = Explorer(rt, customers, app.tables["identity-index"], histories)

    class CustomerLookup(View):
        @app.table_route(table=customers, match_info="customer_id")
        async def get(self, request: Any, customer_id: str) -> Any:
            status, body = await explorer.customer(customer_id)
            return _json(body, status)

    app.page("/api/customers/{customer_id}")(CustomerLookup)

    @app.page("/api/overview")
    async def overview_api(view: Any, request: Any) -> Any:
        return _json(explorer.overview())

    for path, name in PAGES.items():
        app.page(path, name=f"explorer-{name}")(_static_view(name, "text/html"))
    app.page("/explorer", name="explorer-root")(_redirect_view("/explorer/"))
    for name, content_type in ASSETS.items():
        app.page(f"/explorer/static/{name}", name=f"explorer-asset-{name}")(_static_view(name, content_type))

    @app.timer(SAMPLE_EVERY_S, name="explorer_samples")
    async def explorer_samples() -> None:
        explorer.sample()

    return explorer


def _static_view(name: str, content_type: str) -> Any:
    async def serve(view: Any, request: Any) -> Any:
        return _page(name, content_type)

    return serve


def _redirect_view(to: str) -> Any:
    async def redirect(view: Any, request: Any) -> Any:
        raise web.HTTPFound(to)

    return redirect
