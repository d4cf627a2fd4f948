"""Read any payment-journey topic with confluent-kafka's AvroDeserializer and print each record as a JSON line.

No project code is imported: this is what an analyst's script, or any service in another stack, would do against
the topics with only the broker address and the Schema Registry URL.

    python examples/read_topic.py decisions                 # everything so far, then stop after 5 s of silence
    python examples/read_topic.py decisions --idle-exit 0   # follow until Ctrl-C

Without --bootstrap/--registry it uses KAFKA_BOOTSTRAP_SERVERS and SCHEMA_REGISTRY_URL, else what a running
`journey broker` recorded in the data directory (JOURNEY_DATA_DIR, `.data` by default).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def recorded(name: str, key: str) -> str | None:
    """A value `journey broker` recorded in <data dir>/broker/<name>, while that broker runs."""
    try:
        return str(json.loads((Path(os.environ.get("JOURNEY_DATA_DIR", ".data")) / "broker" / name).read_text())[key])
    except (OSError, ValueError, KeyError):
        return None


def plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Print a topic's records as JSON lines (Avro via the Schema Registry).")
    p.add_argument("topic")
    p.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or recorded("bootstrap.json",
                                                                                               "bootstrap"))
    p.add_argument("--registry", default=os.environ.get("SCHEMA_REGISTRY_URL") or recorded(
        "schema-registry-api.json", "url"))
    p.add_argument("--idle-exit", type=float, default=5.0, help="stop after this many quiet seconds (0: never)")
    args = p.parse_args(argv)
    if not args.bootstrap or not args.registry:
        p.error("no broker or registry: pass --bootstrap and --registry, or run `journey broker`")
    deserialize = AvroDeserializer(SchemaRegistryClient({"url": args.registry}))
    # No consumer group: assign every partition from the start (a reader, not a member of anyone's group).
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": "read-topic", "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(args.topic, timeout=10).topics[args.topic].partitions
        consumer.assign([TopicPartition(args.topic, p, 0) for p in partitions])  # offset 0: the beginning
        last = time.monotonic()
        while not args.idle_exit or time.monotonic() - last < args.idle_exit:
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                continue
            last = time.monotonic()
            record = deserialize(msg.value(), SerializationContext(args.topic, MessageField.VALUE, msg.headers()))
            print(json.dumps({"partition": msg.partition(), "offset": msg.offset(), "value": record},
                             default=plain), flush=True)
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
