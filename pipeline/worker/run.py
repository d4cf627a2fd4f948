"""Running a worker and the standalone embedded broker, as `journey worker` and `journey broker` do."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import signal
import socket
import sys
import threading
from collections.abc import Iterator

from pipeline.errors import SettingsError
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.connect import Connection, broker_file, connect, write_broker_file
from pipeline.settings import Settings
from pipeline.topics import topic_specs
from pipeline.wire.registry_api import RegistryApi, serve_local_registry
from pipeline.worker.local_state import check_local_state

GC_THRESHOLDS = (50_000, 20, 100)  # the worker's collector: see run_worker (bench/breakdown.py measures with it too)


def prepare(conn: Connection, settings: Settings) -> None:
    """Create every topic with the project's partition count; on Tansu, correct its end offsets; keep the records
    a rebalance would make Faust drop (pipeline/kafka/rebalance_fix.py); tables without RocksDB's write-ahead log
    unless JOURNEY_STATE_WAL (pipeline/worker/unlogged_tables.py); fetched messages handed over without a task each
    (pipeline/kafka/eager_wait.py)."""
    asyncio.run(ensure_topics(conn.bootstrap, topic_specs(settings.partitions), settings.replication_factor,
                              conn.security))
    if conn.tansu:
        from pipeline.kafka.tansu_fix import install_end_offsets_fix

        install_end_offsets_fix(conn.bootstrap)
    from pipeline.kafka.eager_wait import install_eager_wait
    from pipeline.kafka.fetch_wait import install_fetch_wait
    from pipeline.kafka.rebalance_fix import install_rebalance_fix

    install_fetch_wait(settings.fetch_wait_for(conn.tansu), settings.fetch_idle_wait_for(conn.tansu))
    install_rebalance_fix()
    install_eager_wait()
    from pipeline.worker import unlogged_tables

    unlogged_tables.install(settings.state_wal)


def check_web_access(settings: Settings) -> None:
    """SettingsError when the web server (customer lookups, the explorer's pages) would answer beyond loopback
    without a bearer token."""
    if settings.web_enabled and not settings.web_loopback_only and not settings.api_token:
        raise SettingsError(f"JOURNEY_WEB_BIND={settings.web_bind} serves customer data beyond this machine, so "
                            "JOURNEY_API_TOKEN must be set (e.g. `openssl rand -hex 32`)")


def check_web_port(settings: Settings) -> None:
    """SettingsError if the web port cannot be bound, so a busy port is one sentence, not Faust's traceback after
    the worker has joined its group. (A port taken between this check and Faust's bind still fails in Faust.)"""
    if not settings.web_enabled:
        return
    with socket.socket(socket.AF_INET6 if ":" in settings.web_bind else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds: TIME_WAIT is no conflict
        try:
            probe.bind((settings.web_bind, settings.web_port))
        except OSError as err:
            why = "is in use" if err.errno == errno.EADDRINUSE else f"cannot be bound ({err.strerror})"
            raise SettingsError(f"web port {settings.web_bind}:{settings.web_port} {why}; set JOURNEY_WEB_PORT to "
                                "a free port (or JOURNEY_WEB_ENABLED=0)") from None


def run_worker(settings: Settings) -> int:
    import faust
    import uvloop

    from agents.runtime import Runtime
    from pipeline.worker.app import build_app, quiet_libraries

    if settings.production_broker and settings.dev_link_secret:
        raise SettingsError("JOURNEY_LINK_SECRET is not set: a worker on a real Kafka cluster needs its own secret "
                            "for payment links (e.g. `openssl rand -hex 32`), not the public development value")
    if settings.production_broker and settings.dev_pseudonym_secret:
        raise SettingsError("JOURNEY_PSEUDONYM_SECRET is not set: a worker on a real Kafka cluster needs its own "
                            "secret to pseudonymise identifiers (e.g. `openssl rand -hex 32`), not the public "
                            "development value")
    check_web_access(settings)
    check_web_port(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level of its datadir
    with connect(settings, start_embedded=True) as conn:
        prepare(conn, settings)
        check_local_state(settings, conn)  # before Faust, whose recovery would die on a stale state
        # Fewer, cheaper collections: the worker allocates many short-lived records per batch, and full collections
        # over the long-lived ones (Faust, the tables' caches) showed as periodic pauses in the p99.
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # the worker's loop; prepare() ran on its own
        asyncio.set_event_loop(asyncio.new_event_loop())
        app = build_app(Runtime.from_settings(settings), conn.bootstrap, secured=bool(settings.bootstrap_servers))
        print(f"worker {settings.app_id} on {conn.bootstrap} (store {settings.store})", file=sys.stderr, flush=True)
        worker = faust.Worker(app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False)
        quiet_libraries(settings.log_level)
        logging.getLogger().setLevel(settings.log_level)
        try:
            worker.execute_from_commandline()
        except SystemExit as done:
            return int(done.code or 0)
    return 0


def run_broker(settings: Settings) -> int:
    """Run the embedded broker until SIGINT/SIGTERM, advertising it to the other commands via the data directory."""
    if settings.bootstrap_servers:
        print("journey broker: KAFKA_BOOTSTRAP_SERVERS is set; nothing to run", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with connect(settings, start_embedded=True) as conn, registry_api(settings) as api:
        prepare(conn, settings)
        write_broker_file(settings.data_dir, conn.bootstrap)
        print(f"Tansu broker on {conn.bootstrap}; log in {settings.data_dir / 'broker'}; Ctrl-C stops it", flush=True)
        if api is not None:
            print(f"Schema Registry API on {api.url}", flush=True)
        try:
            stop.wait()
        finally:
            broker_file(settings.data_dir).unlink(missing_ok=True)
    print("broker stopped", flush=True)
    return 0


@contextlib.contextmanager
def registry_api(settings: Settings) -> Iterator[RegistryApi | None]:
    """The local registry over the Schema Registry API, unless SCHEMA_REGISTRY_URL names a real registry."""
    if settings.schema_registry_url:
        yield None
        return
    with serve_local_registry(settings.data_dir) as api:
        yield api
