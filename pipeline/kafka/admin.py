"""Topic administration: creating the project's topics with their partition counts, and waiting for a broker.

Every topic is created explicitly because Tansu auto-creates an unknown topic with 4 partitions on first use (even on a
metadata request that names it), which would silently break co-partitioning of streams and tables.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from pipeline.errors import BrokerError
from pipeline.kafka.clients import start_client


async def ensure_topics(bootstrap: str, topics: Mapping[str, int], replication: int = 1,
                        security: Mapping[str, Any] | None = None) -> None:
    """Create the missing topics with the given partition counts. Idempotent.

    `replication` is the replication factor of the topics created (JOURNEY_REPLICATION_FACTOR).
    Raises BrokerError when the broker refuses a topic or an existing topic has another partition count.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(security or {}))
    await start_client(admin, bootstrap)
    try:
        # No topic names in this request: naming an unknown topic would make Tansu auto-create it.
        existing = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(None)}
        wrong = {name: existing[name] for name, n in topics.items() if name in existing and existing[name] != n}
        if wrong:
            raise BrokerError("topics exist with other partition counts (expected "
                              + ", ".join(f"{name}: {n} instead of {topics[name]}" for name, n in wrong.items())
                              + "); delete them or use the same partition count")
        missing = [NewTopic(name, n, replication) for name, n in topics.items() if name not in existing]
        if missing:
            response = await admin.create_topics(missing)
            # create_topics reports per-topic errors in the response instead of raising them.
            refused = [(e["topic"], e["error_code"], e["error_message"])
                       for e in response.to_object()["topic_errors"]
                       if e["error_code"] not in (0, TopicAlreadyExistsError.errno)]  # another process won the race
            if refused:
                raise BrokerError("the broker refused to create topics: "
                                  + "; ".join(f"{t} (error {code}: {msg})" for t, code, msg in refused))
    finally:
        await admin.close()


async def wait_for_broker(bootstrap: str, timeout: float = 15.0, security: Mapping[str, Any] | None = None) -> None:
    """Return once the broker answers a metadata request; BrokerError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=2000, **(security or {}))
        try:
            await client.bootstrap()
            return
        except KafkaError as err:
            if time.monotonic() >= deadline:
                raise BrokerError(f"no Kafka broker answered on {bootstrap} within {timeout:g} s ({err})") from None
        finally:
            await client.close()
        await asyncio.sleep(0.2)


async def end_offsets(bootstrap: str, prefix: str, tansu: bool,
                      security: Mapping[str, Any] | None = None) -> dict[tuple[str, int], int]:
    """(topic, partition) -> end offset of every existing topic whose name starts with `prefix`.

    Topics are listed without naming any (Tansu auto-creates a named unknown topic); on Tansu the end offsets are
    corrected to the fetch high watermarks (pipeline/kafka/tansu_fix.py), since its ListOffsets answers too low."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **(security or {}))
    await start_client(admin, bootstrap)
    try:
        tps = [TopicPartition(t["topic"], p["partition"]) for t in await admin.describe_topics(None)
               if t["topic"].startswith(prefix) for p in t["partitions"]]
    finally:
        await admin.close()
    if not tps:
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                **(security or {}))
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    if tansu:
        from pipeline.kafka.tansu_fix import true_end_offsets

        ends = await true_end_offsets(bootstrap, ends)
    return {(tp.topic, tp.partition): end for tp, end in ends.items()}
