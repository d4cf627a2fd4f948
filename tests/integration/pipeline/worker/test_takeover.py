"""Takeover in a two-worker group: after one worker is SIGKILLed, how long until its partitions are decided again.

Two workers share one group on the embedded broker, each with its own data directory and web port (one schema
registry for both, served over the Schema Registry API). Once both hold partitions and have decided an attempt on
every partition, one is killed and an attempt per partition is published at once; the time from the kill until each
is decided is measured. The survivor's own partitions answer at once; the dead worker's wait for its session to expire
(JOURNEY_SESSION_TIMEOUT=3), the rejoin (Tansu: about half the session timeout) and the tables' recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from aiokafka.partitioner import murmur2

from agents.rules.events import PaymentAttempted
from pipeline.errors import DecodeError
from pipeline.kafka.clients import consume, encode_all, produce
from pipeline.wire.codec import Codec
from pipeline.wire.registry import LocalRegistry
from pipeline.wire.registry_api import serve_local_registry
from tests.integration.support import journey_env, start_worker, stop_process

pytestmark = pytest.mark.integration
PARTITIONS = 4
BUDGET_S = 10.0


def customer_per_partition() -> dict[int, str]:
    """One customer id per partition, as the producers' murmur2 partitioner places them."""
    found: dict[int, str] = {}
    n = 0
    while len(found) < PARTITIONS:
        cid = f"cust-{n}"
        found.setdefault((murmur2(cid.encode()) & 0x7FFFFFFF) % PARTITIONS, cid)
        n += 1
    return found


def attempt(cid: str, payment_id: str) -> PaymentAttempted:
    return PaymentAttempted(event_id=f"att-{payment_id}", customer_id=cid, occurred_at=time.time_ns() // 10**6,
                            payment_id=payment_id, order_id=f"o-{payment_id}", amount_minor=2_500, currency="EUR",
                            method="card", initiator="customer", card_fingerprint=f"card-{cid}", card_issuer="bank",
                            card_country="GB", customer_country="GB", sca_applies=False, network="visa")


def assigned(port: str) -> int:
    """Partitions of `payments` the worker on `port` holds (0 while it is not up)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as resp:  # noqa: S310 - loopback
            text = resp.read().decode()
    except OSError:
        return 0
    m = re.search(r'^journey_assigned_partitions\{topic="payments"\} (\S+)$', text, re.M)
    return int(float(m.group(1))) if m else 0


def wait_for(cond: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


async def decided_at(bootstrap: str, codec: Codec, payment_ids: set[str], timeout: float) -> dict[str, float]:
    """payment id -> time.monotonic() its decision was read (reading from the beginning, following)."""
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    stream = consume(bootstrap, ["decisions"], from_beginning=True, follow=True, heartbeat=True)
    async with contextlib.aclosing(stream):
        async for topic, _p, _o, _k, value, _h in stream:
            if topic != "__idle__":
                with contextlib.suppress(DecodeError):
                    r = codec.decode(value or b"")
                    if r.payment_id in payment_ids:
                        seen.setdefault(r.payment_id, time.monotonic())
            if set(seen) >= payment_ids or time.monotonic() > deadline:
                return seen
    return seen


def test_the_survivor_decides_a_killed_workers_partitions_within_ten_seconds(broker: object, tmp_path: Path) -> None:
    bootstrap = broker.bootstrap  # type: ignore[attr-defined]
    customers = customer_per_partition()
    shared = tmp_path / "shared"
    codec = Codec(LocalRegistry(shared / "schema-registry.json"))
    procs = []
    with serve_local_registry(shared) as api:
        envs = [journey_env(bootstrap, tmp_path / f"w{i}", SCHEMA_REGISTRY_URL=api.url,
                            JOURNEY_PARTITIONS=str(PARTITIONS)) for i in (0, 1)]
        try:
            procs = [start_worker(env, tmp_path / f"worker-{i}.log") for i, env in enumerate(envs)]
            ports = [env["JOURNEY_WEB_PORT"] for env in envs]
            wait_for(lambda: all(assigned(p) > 0 for p in ports)
                     and sum(assigned(p) for p in ports) == PARTITIONS, 60, "both workers to hold partitions")
            before = [attempt(cid, f"before-{p}") for p, cid in customers.items()]
            asyncio.run(produce(bootstrap, encode_all(codec, before)))
            got = asyncio.run(decided_at(bootstrap, codec, {a.payment_id for a in before}, 60))
            assert len(got) == PARTITIONS, "every partition is decided while both workers run"
            victim = 0 if assigned(ports[0]) else 1
            lost = assigned(ports[victim])
            killed = time.monotonic()
            stop_process(procs[victim], signal.SIGKILL)
            after = [attempt(cid, f"after-{p}") for p, cid in customers.items()]
            asyncio.run(produce(bootstrap, encode_all(codec, after)))
            got = asyncio.run(decided_at(bootstrap, codec, {a.payment_id for a in after}, 60))
            assert procs[1 - victim].poll() is None, "the survivor runs on"
        finally:
            for proc in procs:
                stop_process(proc, signal.SIGKILL)
    waits = {p: round(got[f"after-{p}"] - killed, 2) for p in customers if f"after-{p}" in got}
    print(f"takeover: the killed worker held {lost} of {PARTITIONS} partitions; seconds from the kill to each "
          f"partition's decision: {waits}", file=sys.stderr)
    assert len(waits) == PARTITIONS, f"every partition is decided after the kill: {waits}"
    assert max(waits.values()) <= BUDGET_S, waits
