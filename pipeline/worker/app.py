"""The Faust application: one app per worker, configured from Settings, with the agents of agents/ registered."""

from __future__ import annotations

import logging
from importlib import metadata
from typing import Any

import faust
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agents.runtime import Runtime
from agents.topology import register_agents


def quiet_libraries(level: str) -> None:
    """faust/mode/aiokafka log at DEBUG by default, which costs real CPU on the hot path (TANSU.md)."""
    for name in ("faust", "mode", "aiokafka", "kafka", "rocksdict"):
        logging.getLogger(name).setLevel(level)


def build_version() -> str:
    """The installed package's version (journey_build_info)."""
    try:
        return metadata.version("payment-journey")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_app(rt: Runtime, bootstrap: str) -> faust.App:
    s = rt.settings
    session = s.session_timeout_s
    app = faust.App(
        s.app_id,
        broker=f"kafka://{bootstrap}",
        store=s.store,
        datadir=str(s.data_dir / "worker"),
        topic_partitions=s.partitions,
        topic_replication_factor=1,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=s.web_enabled,
        web_port=s.web_port,
        web_host=s.web_host,
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
    rt.metrics.describe(build_version(), rt.policy.version)
    register_agents(app, rt)

    # Faust's send-soon buffer (table changelog writes) holds 100 records by default and warns "producer buffer full"
    # when a batch writes more; a batch writes up to one record per customer.
    app.producer.buffer.max_messages = s.producer_buffer

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        # aiohttp refuses a charset inside content_type; Prometheus' text format is UTF-8 by definition
        return web.bytes(generate_latest(rt.metrics.registry), content_type=CONTENT_TYPE_LATEST.split("; charset")[0])

    return app
