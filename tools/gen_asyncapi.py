"""Generate docs/asyncapi.yaml, the contract as an AsyncAPI 3.0 document, from schemas/*.avsc and pipeline/topics.py.

A channel per topic (key: customer_id), a message per record type with its Avro schema inline, the Confluent wire
format and TopicRecordNameStrategy in each message's Kafka binding, and an operation per topic and direction as the
worker sees it. Run `make asyncapi` after changing a schema or the topic table;
tests/unit/tools/test_asyncapi.py fails when the committed file is stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import topics  # noqa: E402  (the repository root goes on the path first)
from pipeline.wire.dead_letters import REASONS, STEP_FAILED  # noqa: E402

SCHEMAS = ROOT / "schemas"
TARGET = ROOT / "docs" / "asyncapi.yaml"
AVRO_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"
KAFKA_BINDING = "0.5.0"
WIRE = ("Confluent wire format: magic byte 0, the 4-byte big-endian schema id, then the Avro binary body. "
        "Subjects follow TopicRecordNameStrategy (`<topic>-paymentjourney.<Record>`), as a topic carries several "
        "record types.")
HEADER = "# Generated from schemas/*.avsc and pipeline/topics.py by tools/gen_asyncapi.py (make asyncapi)\n"
ERROR_HEADERS = ("error.reason", "error.message", "error.topic", "error.partition", "error.offset", "error.field",
                 "error.truncated", "error.original_size", "error.original_sha256", "error.key_truncated",
                 "error.key_original_size", "error.headers_dropped")


def document(version: str) -> dict[str, Any]:
    schemas = {p.stem: json.loads(p.read_text()) for p in sorted(SCHEMAS.glob("*.avsc"))}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "payment-journey",
            "version": version,
            "description": ("The topics of payment-journey: raw payment, device, order, refund and customer events in; "
                            "checkout, dunning and refund decisions out. " + WIRE + " Every topic is keyed by "
                            f"`{topics.KEY}` (UTF-8) and has the same partition count (`JOURNEY_PARTITIONS`), so "
                            "producers must use the murmur2 partitioner."),
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
        },
        "defaultContentType": "application/octet-stream",
        "servers": _servers(),
        "channels": {t.name: _channel(t) for t in topics.TOPICS},
        "operations": _operations(),
        "components": {"messages": {**{n: _message(n, s) for n, s in schemas.items()}, "DeadLetter": _dead_letter()}},
    }


def _servers() -> dict[str, Any]:
    return {
        "embedded": {
            "host": "127.0.0.1:{port}", "protocol": "kafka",
            "description": ("The embedded Tansu broker (`journey broker`, `journey demo`): in-memory topics on a free "
                            "loopback port, recorded in `<JOURNEY_DATA_DIR>/broker/bootstrap.json`."),
            "variables": {"port": {"description": "the port the broker chose at start"}},
        },
        "production": {
            "host": "kafka.example.com:9092", "protocol": "kafka",
            "description": ("Apache Kafka (placeholder: set KAFKA_BOOTSTRAP_SERVERS), with a Confluent-compatible "
                            "Schema Registry at SCHEMA_REGISTRY_URL."),
            "bindings": {"kafka": {"schemaRegistryUrl": "https://schema-registry.example.com",
                                   "schemaRegistryVendor": "confluent", "bindingVersion": KAFKA_BINDING}},
        },
    }


def _channel(t: topics.Topic) -> dict[str, Any]:
    names = ("DeadLetter",) if t.kind == "dead-letter" else topics.records_on(t.name)
    return {
        "address": t.name,
        "title": t.name,
        "description": f"{t.kind.capitalize()} topic, keyed by `{topics.KEY}`. Written by {t.written_by}; read by "
                       f"{t.read_by}." + (f" Records {t.note}." if t.note else ""),
        "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
        "bindings": {"kafka": {"topic": t.name, "bindingVersion": KAFKA_BINDING}},
    }


def _operations() -> dict[str, Any]:
    """The worker's side: it receives the inputs and internal topics, sends outputs, internal and dead letters."""
    ops: dict[str, Any] = {}
    for t in topics.TOPICS:
        actions = {"input": ("receive",), "output": ("send",), "internal": ("send", "receive"),
                   "dead-letter": ("send",)}[t.kind]
        for action in actions:
            ops[f"{action}_{t.name.replace('-', '_')}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{t.name}"},
                "summary": f"The worker {'reads' if action == 'receive' else 'writes'} {t.name}.",
                "messages": [{"$ref": f"#/channels/{t.name}/messages/{n}"}
                             for n in (("DeadLetter",) if t.kind == "dead-letter" else topics.records_on(t.name))],
            }
    return ops


def _key() -> dict[str, Any]:
    return {"type": "string", "description": f"`{topics.KEY}`, UTF-8 (murmur2-partitioned)"}


def _message(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "title": name,
        "summary": schema.get("doc", "").strip(),
        "contentType": "application/octet-stream",
        "payload": {"schemaFormat": AVRO_FORMAT, "schema": schema},
        "bindings": {"kafka": {"key": _key(), "schemaIdLocation": "payload", "schemaIdPayloadEncoding": "confluent",
                               "schemaLookupStrategy": "TopicRecordNameStrategy", "bindingVersion": KAFKA_BINDING}},
    }


def _dead_letter() -> dict[str, Any]:
    reasons = sorted({*REASONS, STEP_FAILED})
    return {
        "name": "DeadLetter",
        "title": "Dead letter",
        "summary": "A message the worker could not decode or process: its original bytes, the reason in headers.",
        "description": ("The value and key are the original bytes (truncated if too large, see `error.truncated`); "
                        "the original headers are kept, except earlier `error.*` ones. Headers follow Kafka "
                        "Connect's `errors.*` convention (pipeline/wire/dead_letters.py)."),
        "contentType": "application/octet-stream",
        "headers": {"type": "object", "properties": {
            h: ({"type": "string", "enum": reasons} if h == "error.reason" else {"type": "string"})
            for h in ERROR_HEADERS}, "required": ["error.reason", "error.message"]},
        "payload": {"type": "string", "format": "binary", "description": "the original value bytes"},
        "bindings": {"kafka": {"key": _key(), "bindingVersion": KAFKA_BINDING}},
    }


def render() -> str:
    from importlib.metadata import version

    doc = document(version("payment-journey"))
    return HEADER + yaml.safe_dump(doc, sort_keys=False, width=120, allow_unicode=True)


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        return 0 if TARGET.exists() and TARGET.read_text() == text else 1
    TARGET.write_text(text)
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
