"""The explorer on the worker's web server: `GET /api/customers/{customer_id}`, `GET /api/overview` and the pages.

A customer lookup is answered by the worker that owns the customer's partition: any other worker forwards the
request there, bearer token included. The owner is found in Faust's routing map (`app.router.external_topics_metadata`,
the URL of the worker holding each partition of the input topics) at the producers' murmur2 partition of the customer
id. Faust's own `app.table_route` cannot be used on `customer-state`: it hashes the table's JSON-serialized key
(`"cust-1"` with its quotes, Faust's default for `key_type=str`), while the table's rows live on the partition of the
input events, hashed from the raw id; for most customers it forwards to the wrong worker. A forwarded request carries
ROUTED_HEADER and is answered where it lands (no loop while a rebalance moves partitions).

The owner reads the live state from its table, the kept records from `customer-history` (decoded only now) and
the identity-index nodes of the customer's identifiers, and shapes them with pipeline/explorer/views.py. Every miss
(unknown customer, malformed id) answers the same 404 body.

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

from aiohttp import ClientError, ClientTimeout, web
from aiokafka.partitioner import murmur2

from agents.history import read
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
ROUTED_HEADER = "X-Journey-Routed"
FORWARD_TIMEOUT_S = 10.0
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
        limit = self.rt.settings.explorer_history
        kept = read(self.histories, customer_id, limit) if self.histories is not None else []
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


def partition_of(customer_id: str, partitions: int) -> int:
    """The partition the producers' murmur2 partitioner (aiokafka's and the Java client's default) puts a key on."""
    return (murmur2(customer_id.encode()) & 0x7FFFFFFF) % partitions


def owner_url(routes: Mapping[str, Mapping[str, Any]], topic: str, partition: int) -> str | None:
    """The URL of the worker holding `topic[partition]` in Faust's routing map ({url: {topic: [partitions]}})."""
    return next((url for url, topics in routes.items() if partition in topics.get(topic, ())), None)


async def forward(app: Any, url: str, request: web.Request) -> web.Response:
    """The owner's answer to `request`, with the caller's token; 503 when the owner cannot be reached."""
    headers = {ROUTED_HEADER: "1", "Accept": "application/json"}
    if "Authorization" in request.headers:
        headers["Authorization"] = request.headers["Authorization"]
    try:
        async with app.http_client.get(url.rstrip("/") + request.rel_url.path_qs, headers=headers,
                                       timeout=ClientTimeout(total=FORWARD_TIMEOUT_S)) as response:
            return web.Response(body=await response.read(), status=response.status, content_type="application/json",
                                headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})
    except (ClientError, TimeoutError):
        return _json({"error": "the worker owning this customer cannot be reached; try again"}, 503)


def _page(name: str, content_type: str) -> web.Response:
    return web.Response(body=(PAGES_DIR / name).read_bytes(), content_type=content_type, charset="utf-8",
                        headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})


def register_explorer(app: Any, rt: Runtime, histories: Mapping[str, bytes | None] | None) -> Explorer:
    """Add the explorer's API, pages and sampling timer to the Faust app (after the agents and their tables)."""
    from faust.web import View

    explorer = Explorer(rt, app.tables["customer-state"], app.tables["identity-index"], histories)
    topic, partitions = INPUT_TOPICS[0], rt.settings.partitions

    class CustomerLookup(View):
        async def get(self, request: Any, customer_id: str) -> Any:
            if not request.headers.get(ROUTED_HEADER):
                url = owner_url(app.router.external_topics_metadata(), topic, partition_of(customer_id, partitions))
                if url is None:
                    return _json({"error": "partitions are being reassigned; try again"}, 503)
                if url.rstrip("/") != str(app.conf.canonical_url).rstrip("/"):
                    return await forward(app, url, request)
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
