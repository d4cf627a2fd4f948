"""A checkout service publishing a PaymentAttempted with nothing but confluent-kafka and its AvroSerializer.

What any producer of payment-journey's input topics must do:

- serialize with the schema from schemas/ in the Confluent wire format, registered under TopicRecordNameStrategy
  (`payments-paymentjourney.PaymentAttempted`): one topic carries several record types;
- key by customer_id and partition with murmur2 (`partitioner: murmur2_random`), as Kafka's Java client and the
  worker do, so the record lands on the partition that owns the customer's state;
- give every event a unique event_id: the worker deduplicates on it, so a retried send is harmless.

    python examples/checkout_publisher.py --customer cust-1 --amount 4200
    python examples/checkout_publisher.py --bootstrap HOST:9092 --registry http://HOST:8081 ...

Without --bootstrap/--registry it uses KAFKA_BOOTSTRAP_SERVERS and SCHEMA_REGISTRY_URL, else what a running
`journey broker` recorded in the data directory (JOURNEY_DATA_DIR, `.data` by default).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient, topic_record_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, StringSerializer

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "PaymentAttempted.avsc"
TOPIC = "payments"


def embedded(name: str, key: str) -> str | None:
    """A value `journey broker` recorded in <data dir>/broker/<name>, while that broker runs."""
    try:
        return str(json.loads((Path(os.environ.get("JOURNEY_DATA_DIR", ".data")) / "broker" / name).read_text())[key])
    except (OSError, ValueError, KeyError):
        return None


def attempt(args: argparse.Namespace) -> dict[str, Any]:
    """A PaymentAttempted as the Avro record: timestamps in epoch milliseconds, money in minor units."""
    payment = args.payment or f"pay-{uuid.uuid4().hex[:12]}"
    return {
        "event_id": f"att-{payment}", "customer_id": args.customer, "occurred_at": int(time.time() * 1000),
        "payment_id": payment, "order_id": f"ord-{payment}", "amount_minor": args.amount, "currency": args.currency,
        "method": "card", "initiator": "customer", "device_id": args.device, "ip": "192.0.2.10", "ip_country": "NL",
        "shipping_address_id": None, "card_fingerprint": f"card-{args.customer}", "card_issuer": "bank-nl",
        "card_country": "NL", "customer_country": "NL", "sca_applies": True, "network": "visa",
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Publish one PaymentAttempted with confluent-kafka's AvroSerializer.")
    p.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or embedded("bootstrap.json",
                                                                                               "bootstrap"))
    p.add_argument("--registry", default=os.environ.get("SCHEMA_REGISTRY_URL") or embedded(
        "schema-registry-api.json", "url"))
    p.add_argument("--customer", default="cust-example")
    p.add_argument("--payment", default=None, help="payment id (default: a new one)")
    p.add_argument("--amount", type=int, default=4_200, help="minor units")
    p.add_argument("--currency", default="EUR")
    p.add_argument("--device", default=None)
    args = p.parse_args(argv)
    if not args.bootstrap or not args.registry:
        p.error("no broker or registry: pass --bootstrap and --registry, or run `journey broker`")

    registry = SchemaRegistryClient({"url": args.registry})
    serialize = AvroSerializer(registry, SCHEMA.read_text(),
                               conf={"subject.name.strategy": topic_record_subject_name_strategy})
    producer = Producer({"bootstrap.servers": args.bootstrap, "partitioner": "murmur2_random", "acks": "all",
                         "enable.idempotence": False})  # Tansu, the embedded broker, has no idempotent producers
    value = attempt(args)
    failed: list[str] = []
    producer.produce(TOPIC, key=StringSerializer()(value["customer_id"]),
                     value=serialize(value, SerializationContext(TOPIC, MessageField.VALUE)),
                     on_delivery=lambda err, msg: failed.append(str(err)) if err else None)
    try:
        if producer.flush(30) or failed:
            print(f"not delivered: {failed or 'timed out'}", file=sys.stderr)
            return 1
    except KafkaException as err:
        print(f"not delivered: {err}", file=sys.stderr)
        return 1
    print(json.dumps({"published": value["event_id"], "payment_id": value["payment_id"],
                      "customer_id": value["customer_id"]}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
