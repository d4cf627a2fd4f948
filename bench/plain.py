"""A plain aiokafka consume -> step -> produce loop, shared by the pass-through and the no-framework loop.

One consumer in a group over the system's input topics with a 5 ms fetch wait (Tansu answers a waiting fetch only when
the wait runs out: shared/TANSU.md, bug 7); outputs are encoded with the project's codec and handed to the producer
without awaiting their delivery. SIGTERM or SIGINT stops it after the batch in hand; then `on_stop` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pipeline.errors import DecodeError
from pipeline.topics import INPUT_TOPICS
from pipeline.wire.codec import Codec
from pipeline.wire.registry import LocalRegistry

FETCH_MAX_WAIT_MS = 5
Step = Callable[[Any], Iterable[Any]]
"""step(event) -> the records to emit, each with its TOPIC, keyed by the event's customer_id."""


def arguments(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--registry", required=True, help="the local schema registry file shared with the bench")
    p.add_argument("--prefix", required=True, help="topic name prefix: PREFIX.payments -> PREFIX.decisions")
    p.add_argument("--group", required=True, help="consumer group id")
    return p


async def run(bootstrap: str, codec: Codec, prefix: str, group: str, step: Step,
              on_stop: Callable[[], None] | None = None) -> None:
    consumer = AIOKafkaConsumer(
        *(f"{prefix}.{t}" for t in INPUT_TOPICS), bootstrap_servers=bootstrap, group_id=group,
        auto_offset_reset="earliest", fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        session_timeout_ms=6000, heartbeat_interval_ms=1000,  # Tansu joins take half the session timeout
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await consumer.start()
    await producer.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        while not stopping.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            for msgs in batch.values():
                for m in msgs:
                    try:
                        event = codec.decode(m.value or b"")
                    except DecodeError:
                        continue
                    key = event.customer_id.encode()
                    for record in step(event):
                        await producer.send(f"{prefix}.{record.TOPIC}", codec.encode(record), key=key)
    finally:
        await producer.stop()
        await consumer.stop()
        if on_stop is not None:
            on_stop()


def main(step_factory: Callable[[argparse.Namespace], tuple[Step, Callable[[], None] | None]],
         parser: argparse.ArgumentParser) -> None:
    a = parser.parse_args()
    codec = Codec(LocalRegistry(a.registry))
    step, on_stop = step_factory(a)
    asyncio.run(run(a.bootstrap, codec, a.prefix, a.group, step, on_stop))
