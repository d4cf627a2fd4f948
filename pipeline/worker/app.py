"""The Faust application: one app per worker, configured from Settings, with the agents of agents/ registered.

Secure by default: the web server listens on JOURNEY_WEB_BIND (127.0.0.1 unless set), serves /metrics, the
explorer (pipeline/explorer: the lookup and overview APIs, the review queue's API and the pages) and nothing of
Faust's own pages (the /table pages would show customer state; /router, /graph and the statistics are off too), and
with JOURNEY_API_TOKEN set every request but /metrics and the explorer's static pages (which hold no data) needs that
bearer token; beyond loopback the token is required (pipeline/worker/run.py).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from importlib import metadata
from typing import Any

import faust
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agents.runtime import Runtime
from agents.topology import register_agents
from pipeline.explorer import PUBLIC_PATHS, register_explorer
from pipeline.explorer.reviews import register_review_routes
from pipeline.kafka.security import broker_credentials


def quiet_libraries(level: str) -> None:
    """faust/mode/aiokafka log at DEBUG by default, which costs real CPU on the hot path (TANSU.md)."""
    for name in ("faust", "mode", "aiokafka", "kafka", "rocksdict"):
        logging.getLogger(name).setLevel(level)


def without_monitor_sensor(app: faust.App) -> None:
    """Faust's Monitor is called, as a sensor, for every message in, stream event, send and table read and write, to
    keep statistics for Faust's /stats page, which is off here (the worker's metrics are pipeline/metrics.py): about
    1.4% of the worker's CPU at 500 payments/s. It stays the app's `monitor` (Faust's consumer reports end offsets
    and commits to it directly) but is no longer a sensor. Faust adds it when the app starts
    (`on_init_dependencies`)."""
    add_dependencies = app.on_init_dependencies

    def on_init_dependencies() -> Any:
        services = add_dependencies()
        app.sensors.remove(app.monitor)
        return services

    app.on_init_dependencies = on_init_dependencies  # type: ignore[method-assign]


def build_version() -> str:
    """The installed package's version (journey_build_info)."""
    try:
        return metadata.version("payment-journey")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN_PATHS = frozenset({"/metrics", "/metrics/", *PUBLIC_PATHS})  # Prometheus scrapes without a token; static pages


def bearer_token_guard(token: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """aiohttp middleware: 401 for any request but /metrics and the explorer's static pages without
    `Authorization: Bearer <token>`."""
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").encode()
        if request.path in OPEN_PATHS or hmac.compare_digest(given, expected):
            return await handler(request)
        return web.Response(status=401, text="bearer token required\n", headers={"WWW-Authenticate": "Bearer"})

    return guard


def build_app(rt: Runtime, bootstrap: str, secured: bool = True) -> faust.App:
    """The app on `bootstrap`; `secured`: authenticate with the SASL/SSL settings (not to the embedded broker)."""
    s = rt.settings
    session = s.session_timeout_s
    app = faust.App(
        s.app_id,
        broker=f"kafka://{bootstrap}",
        store=s.store,
        datadir=str(s.data_dir / "worker"),
        topic_partitions=s.partitions,
        topic_replication_factor=s.replication_factor,  # every changelog and repartition topic too
        broker_credentials=broker_credentials(s) if secured else None,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=s.web_enabled,
        web_port=s.web_port,
        web_host=s.web_host,
        web_bind=s.web_bind,
        web_tables_enabled=False,
        web_router_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_application_options={"middlewares": [bearer_token_guard(s.api_token)]} if s.api_token else {},
        broker_session_timeout=session,
        broker_heartbeat_interval=max(session / 6, 0.5),
        broker_rebalance_timeout=session * 2,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
        table_standby_replicas=0,
        producer_linger_ms=s.producer_linger_ms,
    )
    quiet_libraries(s.log_level)
    without_monitor_sensor(app)
    rt.metrics.describe(build_version(), rt.policy.version)
    registered = register_agents(app, rt)
    register_review_routes(app, rt, registered.review_queue, registered.send)
    histories = registered.histories

    # Faust's send-soon buffer (table changelog writes) holds 100 records by default and warns "producer buffer full"
    # when a batch writes more; a batch writes up to one record per customer.
    app.producer.buffer.max_messages = s.producer_buffer

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type; Prometheus' text format is UTF-8 by definition
        return web.bytes(generate_latest(rt.metrics.registry), content_type=CONTENT_TYPE_LATEST.split("; charset")[0])

    if s.web_enabled:
        register_explorer(app, rt, histories)
    return app
