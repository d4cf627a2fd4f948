"""A notifier: reads `notifications` with confluent-kafka's AvroDeserializer and prints what it would send.

Delivery is at least once, so a notification can arrive twice (a worker that crashed after sending re-sends it
with the same id). A notifier deduplicates on the CloudEvents `ce_id` header, which is the record's `event_id`
(read from the value when a record has no headers), remembering the last ids it handled. Notifications carry no
names or contact details: a real notifier looks those up from customer_id and renders `template` in `locale`.

    python examples/notifier.py                      # follow until Ctrl-C
    python examples/notifier.py --idle-exit 5        # stop after 5 s without a new message

Without --bootstrap/--registry it uses KAFKA_BOOTSTRAP_SERVERS and SCHEMA_REGISTRY_URL, else what a running
`journey broker` recorded in the data directory (JOURNEY_DATA_DIR, `.data` by default).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

TOPIC = "notifications"
REMEMBERED = 100_000  # ids kept for deduplication; a redelivery comes soon after the original


def embedded(name: str, key: str) -> str | None:
    """A value `journey broker` recorded in <data dir>/broker/<name>, while that broker runs."""
    try:
        return str(json.loads((Path(os.environ.get("JOURNEY_DATA_DIR", ".data")) / "broker" / name).read_text())[key])
    except (OSError, ValueError, KeyError):
        return None


class Seen:
    """The last `size` ids, oldest forgotten first."""

    def __init__(self, size: int = REMEMBERED) -> None:
        self.size, self._ids = size, OrderedDict[str, None]()

    def first_time(self, event_id: str) -> bool:
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True


def describe(note: dict[str, Any]) -> str:
    send_at = note["send_at"]
    when = send_at if isinstance(send_at, datetime) else datetime.fromtimestamp(send_at / 1000, tz=UTC)
    fallbacks = ",".join(note.get("fallback_channels") or ()) or "none"
    return (f"{note['channel']} to {note['customer_id']} at {when.isoformat()}: template {note['template']}"
            f" ({note.get('locale')}), fallbacks {fallbacks}, id {note['event_id']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Print the notifications payment-journey asks to send, once each.")
    p.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or embedded("bootstrap.json",
                                                                                               "bootstrap"))
    p.add_argument("--registry", default=os.environ.get("SCHEMA_REGISTRY_URL") or embedded(
        "schema-registry-api.json", "url"))
    p.add_argument("--group", default="example-notifier")
    p.add_argument("--idle-exit", type=float, default=None, help="stop after this many seconds without a message")
    args = p.parse_args(argv)
    if not args.bootstrap or not args.registry:
        p.error("no broker or registry: pass --bootstrap and --registry, or run `journey broker`")

    deserialize = AvroDeserializer(SchemaRegistryClient({"url": args.registry}))
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group,
                         "auto.offset.reset": "earliest", "session.timeout.ms": 6000})
    stop = False

    def on_signal(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    seen, last = Seen(), time.monotonic()
    consumer.subscribe([TOPIC])
    try:
        while not stop and (args.idle_exit is None or time.monotonic() - last < args.idle_exit):
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if (error := msg.error()) is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    print(f"consumer error: {error}", file=sys.stderr)
                continue
            last = time.monotonic()
            note = deserialize(msg.value(), SerializationContext(TOPIC, MessageField.VALUE, msg.headers()))
            ce_id = dict(msg.headers() or []).get("ce_id")
            event_id = (ce_id.decode() if isinstance(ce_id, bytes) else ce_id) or note["event_id"]
            if seen.first_time(event_id):
                print(f"would send {describe(note)}", flush=True)
            else:
                print(f"duplicate {event_id}: already sent", flush=True)
    finally:
        consumer.close()  # commits what was handled and leaves the group at once
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
