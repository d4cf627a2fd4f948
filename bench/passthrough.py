"""The baseline: a raw aiokafka consume -> decode -> encode -> produce loop with the same codec and broker.

Run as a separate process by bench/e2e.py, like the worker, so both pay the same process and network costs.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from agents.rules.events import PaymentDecision, Reason
from pipeline.wire.codec import Codec
from pipeline.wire.registry import LocalRegistry


async def run(bootstrap: str, source: str, sink: str, registry_path: str) -> None:
    codec = Codec(LocalRegistry(registry_path))
    consumer = AIOKafkaConsumer(source, bootstrap_servers=bootstrap, group_id="bench-passthrough",
                                auto_offset_reset="earliest", session_timeout_ms=6000, heartbeat_interval_ms=1000)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await consumer.start()
    await producer.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            for msgs in batch.values():
                for m in msgs:
                    a = codec.decode(m.value or b"")
                    out = PaymentDecision(
                        event_id=f"{a.event_id}:decision", customer_id=a.customer_id, occurred_at=a.occurred_at,
                        payment_id=a.payment_id, source_event_id=a.event_id, outcome="approve",
                        sca_strategy="not_applicable", exemption=None, risk_score=0, recommended_method=a.method,
                        reasons=(Reason(code="PASS_THROUGH", detail="Baseline."),), policy_version="bench",
                    )
                    await producer.send(sink, codec.encode(out), key=m.key)
    finally:
        await producer.stop()
        await consumer.stop()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--source", default="bench-in")
    p.add_argument("--sink", default="bench-out")
    p.add_argument("--registry", required=True)
    a = p.parse_args()
    asyncio.run(run(a.bootstrap, a.source, a.sink, a.registry))


if __name__ == "__main__":
    main()
