"""Running a worker and the standalone embedded broker, as `journey worker` and `journey broker` do."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator

from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.connect import Connection, broker_file, connect, write_broker_file
from pipeline.settings import Settings
from pipeline.topics import topic_specs
from pipeline.wire.registry_api import RegistryApi, serve_local_registry


def prepare(conn: Connection, settings: Settings) -> None:
    """Create every topic with the project's partition count; on Tansu, correct its end offsets."""
    asyncio.run(ensure_topics(conn.bootstrap, topic_specs(settings.partitions)))
    if conn.tansu:
        from pipeline.kafka.tansu_fix import install_end_offsets_fix

        install_end_offsets_fix(conn.bootstrap)
    from pipeline.kafka.fetch_wait import install_fetch_wait

    install_fetch_wait(settings.fetch_wait_for(conn.tansu))


def run_worker(settings: Settings) -> int:
    import faust
    import uvloop

    from agents.runtime import Runtime
    from pipeline.worker.app import build_app, quiet_libraries

    with connect(settings, start_embedded=True) as conn:
        prepare(conn, settings)
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # the worker's loop; prepare() ran on its own
        asyncio.set_event_loop(asyncio.new_event_loop())
        app = build_app(Runtime.from_settings(settings), conn.bootstrap)
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
