"""Plain aiokafka producing and consuming for the CLI, the demo and the benchmark (the worker uses Faust).

Producers partition by key with aiokafka's default murmur2 partitioner, the same as Faust and the Java client, so
records keyed by customer_id land on the partition the customer agent and its table own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError

from pipeline.errors import BrokerUnreachable


class Encoder(Protocol):
    def encode(self, record: Any) -> bytes: ...


def _quiet_bootstrap(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("Unable connect to")  # reported once, as BrokerUnreachable


async def start_client(client: Any, bootstrap: str) -> None:
    """`await client.start()`; BrokerUnreachable (one sentence, no per-attempt log lines) if no broker answers."""
    log = logging.getLogger("aiokafka")
    log.addFilter(_quiet_bootstrap)
    try:
        await client.start()
    except KafkaConnectionError:
        with contextlib.suppress(Exception):  # half-started: release what it opened
            await (getattr(client, "stop", None) or client.close)()  # the admin client has close() only
        raise BrokerUnreachable(f"no Kafka broker answered on {bootstrap}; check KAFKA_BOOTSTRAP_SERVERS and that "
                                "the broker is running") from None
    finally:
        log.removeFilter(_quiet_bootstrap)


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    key: bytes
    value: bytes | None  # None: a tombstone
    headers: Mapping[str, bytes] | None = None


class Publisher:
    """A producer kept open across many small batches (the demo's waves)."""

    def __init__(self, bootstrap: str, security: Mapping[str, Any] | None = None) -> None:
        self._bootstrap = bootstrap
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all", **(security or {}))

    async def __aenter__(self) -> Publisher:
        await start_client(self._producer, self._bootstrap)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def send_all(self, records: Iterable[Outgoing]) -> int:
        futures = [await self._producer.send(r.topic, r.value, key=r.key,
                                             headers=[(k, v) for k, v in (r.headers or {}).items()] or None)
                   for r in records]
        await self._producer.flush()
        await asyncio.gather(*futures)
        return len(futures)


async def produce(
    bootstrap: str, records: Iterable[Outgoing], progress: Callable[[int], None] | None = None,
    security: Mapping[str, Any] | None = None,
) -> int:
    """Send every record; returns how many were acknowledged. Raises on the first failed delivery."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=10, acks="all", max_batch_size=256 * 1024,
                                **(security or {}))
    await start_client(producer, bootstrap)
    sent = 0
    try:
        pending: list[asyncio.Future[object]] = []
        for rec in records:
            headers = [(k, v) for k, v in (rec.headers or {}).items()]
            pending.append(await producer.send(rec.topic, rec.value, key=rec.key, headers=headers or None))
            if len(pending) >= 1000:
                await asyncio.gather(*pending)
                sent += len(pending)
                pending.clear()
                if progress:
                    progress(sent)
        await producer.flush()
        await asyncio.gather(*pending)
        sent += len(pending)
        if progress:
            progress(sent)
    finally:
        await producer.stop()
    return sent


async def consume(
    bootstrap: str, topics: Iterable[str], *, from_beginning: bool, follow: bool, idle_s: float = 2.0,
    heartbeat: bool = False, security: Mapping[str, Any] | None = None,
) -> AsyncGenerator[tuple[str, int, int, bytes | None, bytes | None, list[tuple[str, bytes]]], None]:
    """Yield (topic, partition, offset, key, value, headers) without joining a consumer group.

    With `heartbeat`, an empty poll yields ("__idle__", -1, -1, None, None, []) so callers can check deadlines.
    Without `follow`, stops once every partition is read up to the high watermark its last fetch reported (the fetch
    high watermark is right even on Tansu, whose ListOffsets answer is not) and nothing new came for `idle_s`.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                **(security or {}))
    await start_client(consumer, bootstrap)
    try:
        names = list(topics)
        for _ in range(20):  # a topic being created right now shows up in metadata within moments
            missing = [t for t in names if not consumer.partitions_for_topic(t)]
            if not missing:
                break
            # without a subscription the client only refreshes metadata on request (all topics: none registered)
            await consumer._client.force_metadata_update()  # noqa: SLF001
            await asyncio.sleep(0.25)
        else:
            raise LookupError(f"no such topic: {', '.join(missing)}")
        tps = [TopicPartition(t, p) for t in names for p in sorted(consumer.partitions_for_topic(t) or ())]
        consumer.assign(tps)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            await _seek_to_true_end(consumer, tps)
        idle = 0.0
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            for tp, msgs in batch.items():
                for m in msgs:
                    yield tp.topic, tp.partition, m.offset, m.key, m.value, list(m.headers or ())
            if batch:
                idle = 0.0
                continue
            idle += 0.5
            if heartbeat:
                yield "__idle__", -1, -1, None, None, []
            if not follow and idle >= idle_s and await _caught_up(consumer, tps):
                return
    finally:
        await consumer.stop()


async def _caught_up(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> bool:
    for tp in tps:
        hw = consumer.highwater(tp)
        if hw is not None and await consumer.position(tp) < hw:
            return False
    return True


async def _seek_to_true_end(consumer: AIOKafkaConsumer, tps: list[TopicPartition]) -> None:
    """Seek to the end. ListOffsets may answer too small on Tansu, so read once and follow the fetched high water."""
    await consumer.seek_to_end(*tps)
    await consumer.getmany(timeout_ms=300)
    for tp in tps:
        hw = consumer.highwater(tp)
        if hw is not None:
            consumer.seek(tp, hw)


def encode_all(codec: Encoder, records: Iterable[Any]) -> Iterator[Outgoing]:
    for r in records:
        yield Outgoing(r.TOPIC, r.customer_id.encode(), codec.encode(r))
