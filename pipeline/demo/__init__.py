"""`journey demo`: the whole pipeline on a real broker, end to end, with a summary people can read.

Starts the embedded broker (or uses KAFKA_BOOTSTRAP_SERVERS), runs a real worker process (`journey worker`),
publishes simulated traffic for a few hundred customers plus some broken and duplicated messages, waits until every
payment attempt and refund request has its decision, stops everything and prints what was decided and why.
With `explore`, the worker and the broker stay up after the summary, for the explorer, until Enter or Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pipeline import console
from pipeline import sim as simulation
from pipeline.demo.summary import summarise
from pipeline.errors import DecodeError
from pipeline.kafka.clients import Outgoing, Publisher, consume, encode_all
from pipeline.kafka.connect import Connection, connect
from pipeline.kafka.embedded import free_port
from pipeline.policies import load_policy
from pipeline.settings import Settings
from pipeline.sim import simulation_start
from pipeline.topics import INTERNAL_TOPICS
from pipeline.wire.codec import Codec
from pipeline.wire.registry import registry_from_settings
from pipeline.worker.run import prepare, registry_api

OUTPUTS = ("decisions", "refund-decisions", "dunning", "notifications", "recovery",
           "payments-dlq", "orders-dlq", "refunds-dlq")


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run_demo(settings: Settings, customers: int, seed: int, timeout_s: float, explore: bool = False) -> int:
    data_dir = settings.data_dir / "demo"
    shutil.rmtree(data_dir, ignore_errors=True)  # the embedded broker starts empty, so must the worker's tables
    data_dir.mkdir(parents=True)
    app_id = settings.app_id if settings.embedded else f"{settings.app_id}-demo-{int(time.time())}"
    settings = replace(settings, data_dir=data_dir, app_id=app_id)
    started = time.monotonic()
    say(f"payment-journey demo: {customers} simulated customers, seed {seed}")
    with connect(settings, start_embedded=True) as conn, registry_api(settings) as api:
        say(f"[1/5] broker on {conn.bootstrap} ({'embedded Tansu' if conn.tansu else 'Kafka'})")
        if api is not None:
            say(f"      Schema Registry API on {api.url}")
        prepare(conn, settings)
        port = free_port()
        worker = _start_worker(settings, conn.bootstrap, conn.tansu, port)
        try:
            code = _drive(settings, conn, worker, port, customers, seed, timeout_s, started, explore)
            if explore:
                _explore(settings, port, worker)
            return code
        finally:
            _stop(worker)


def _start_worker(settings: Settings, bootstrap: str, tansu: bool, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "JOURNEY_TANSU": "1" if tansu else "0",
           "JOURNEY_DATA_DIR": str(settings.data_dir), "JOURNEY_SCHEMAS": str(settings.schemas_dir),
           "JOURNEY_WEB_PORT": str(port), "JOURNEY_APP_ID": settings.app_id,
           "JOURNEY_TIMER_CLOCK": "event",  # the demo replays past history: its timers follow event time
           "JOURNEY_SESSION_TIMEOUT": "3" if tansu else str(settings.session_timeout_s)}  # Tansu joins: TANSU.md
    log = open(settings.data_dir / "worker.log", "wb")  # noqa: SIM115 (closed by the child's exit)
    say(f"[2/5] starting a worker (log: {settings.data_dir / 'worker.log'})")
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker"], env=env, stdout=log,  # noqa: S603
                            stderr=subprocess.STDOUT)


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _explore(settings: Settings, port: int, worker: subprocess.Popen[bytes]) -> None:
    """Keep the worker (and the broker) up for the explorer until Enter, Ctrl-C or the end of standard input."""
    token = " (with the bearer token of JOURNEY_API_TOKEN)" if settings.api_token else ""
    say(f"Explorer: http://127.0.0.1:{port}/explorer/{token}")
    say("The worker and the broker stay up for it: press Enter (or Ctrl-C) to stop them.")
    if worker.poll() is not None:
        say("      the worker has exited: nothing to explore")
        return
    with contextlib.suppress(EOFError, KeyboardInterrupt):
        input()
    say("stopping the worker and the broker")


def _drive(settings: Settings, conn: Connection, worker: subprocess.Popen[bytes], port: int, customers: int,
           seed: int, timeout_s: float, started: float, explore: bool = False) -> int:
    registry = registry_from_settings(settings.schema_registry_url, settings.data_dir)
    codec = Codec(registry, schemas_dir=settings.schemas_dir)
    policy = load_policy(settings.policy_path, settings.declines_path)  # the reviewers judge what this policy queues
    labelled = simulation.generate(seed, customers, simulation_start(30), 30, reviewed_under=policy)
    events = [x.event for x in labelled]
    broken = _broken_messages(codec, events)
    duplicates = list(encode_all(codec, events[:: max(1, len(events) // 25)]))
    expected = {
        "decisions": sum(type(e).__name__ == "PaymentAttempted" for e in events),
        "refund-decisions": sum(type(e).__name__ == "RefundRequested" for e in events),
        "dlq": len(broken),
    }
    say(f"[3/5] publishing 30 days of history: {len(events):,} events, then {len(duplicates)} duplicates and "
        f"{len(broken)} broken messages")
    outputs, dead = asyncio.run(_publish_and_collect(conn, codec, events, [*duplicates, *broken], port,
                                                     expected, worker, timeout_s))
    metrics = _scrape(port)
    say("[5/5] the summary; the worker stays up for the explorer" if explore else
        "[5/5] stopping the worker and the broker")
    console.show(console.console(), *summarise(labelled, outputs, dead, expected, metrics, time.monotonic() - started))
    complete = Counter(type(o).__name__ for o in outputs)
    ok = (complete["PaymentDecision"] == expected["decisions"]
          and complete["RefundDecision"] == expected["refund-decisions"] and len(dead) == expected["dlq"])
    return 0 if ok else 1


async def _publish_and_collect(conn: Connection, codec: Codec, events: list[Any], extra: list[Outgoing], port: int,
                               expected: dict[str, int], worker: subprocess.Popen[bytes],
                               timeout_s: float) -> tuple[list[Any], list[tuple[str, dict[str, str]]]]:
    """Publish the whole history at once, as a worker meets a backlog, while collecting; the worker's event-time
    alignment (agents/alignment.py) decides it as `journey replay` would."""
    outputs: list[Any] = []
    dead: list[tuple[str, dict[str, str]]] = []
    counts: Counter[str] = Counter()
    stop = asyncio.Event()

    async def collect() -> None:
        stream = consume(conn.bootstrap, OUTPUTS, from_beginning=True, follow=True, heartbeat=True,
                         security=conn.security)
        async with contextlib.aclosing(stream):
            async for topic, _p, _o, _k, value, headers in stream:
                if stop.is_set():
                    return
                if topic.endswith("-dlq"):
                    dead.append((topic, {k: v.decode(errors="replace") for k, v in headers}))
                elif topic != "__idle__":
                    with contextlib.suppress(DecodeError):
                        outputs.append(codec.decode(value or b""))
                        counts[topic] += 1

    collector = asyncio.create_task(collect())
    deadline = time.monotonic() + timeout_s
    async with Publisher(conn.bootstrap, conn.security) as publisher:
        await publisher.send_all(encode_all(codec, events))
        sent = len(events)
        with console.progress("      processed", sent) as show:
            await _processed(port, sent, worker, deadline, show)
        await publisher.send_all(extra)
    say("[4/5] waiting for every decision and dead letter")
    settled: float | None = None
    while time.monotonic() < deadline and worker.poll() is None:
        done = (counts["decisions"] >= expected["decisions"] and len(dead) >= expected["dlq"]
                and counts["refund-decisions"] >= expected["refund-decisions"])
        settled = settled or (time.monotonic() if done else None)
        if settled and time.monotonic() - settled > 3:  # let timers fire the last reminders
            break
        await asyncio.sleep(0.2)
    else:
        say("      gave up waiting: " + ("the worker exited" if worker.poll() is not None else "timeout"))
    stop.set()
    await collector
    return outputs, dead


async def _processed(port: int, count: int, worker: subprocess.Popen[bytes], deadline: float,
                     show: Callable[[int], None]) -> bool:
    """Wait until the worker reports `count` input events processed (its own /metrics), showing its progress."""
    while time.monotonic() < deadline and worker.poll() is None:
        done = await asyncio.to_thread(_scrape, port, 'journey_events_total{topic="')
        show(min(count, int(done.get("journey_events_total", 0))))
        if done.get("journey_events_total", 0) >= count:
            return True
        await asyncio.sleep(0.1)
    return False


def _broken_messages(codec: Codec, events: list[Any]) -> list[Outgoing]:
    """Three messages no schema can read: garbage, an unknown schema id, a truncated body."""
    good = codec.encode(events[0])
    return [
        Outgoing("payments", b"cust-broken-1", b"not avro at all"),
        Outgoing("orders", b"cust-broken-2", b"\x00\x7f\xff\xff\xf0" + good[5:]),
        Outgoing("refunds", b"cust-broken-3", good[:7]),
    ]


def _scrape(port: int, prefix: str = "journey_") -> dict[str, float]:
    """Counters from the worker's own /metrics endpoint (input events exclude the worker's own internal topics: the
    timer's dunning-due and the linked accounts' account-flags among them)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:  # noqa: S310
            text = resp.read().decode()
    except OSError:
        return {}
    totals: dict[str, float] = defaultdict(float)
    for line in text.splitlines():
        if line.startswith(prefix) and not any(f'topic="{t}"' in line for t in INTERNAL_TOPICS):
            name, _, value = line.rpartition(" ")
            totals[name.split("{")[0]] += float(value)
    return dict(totals)

