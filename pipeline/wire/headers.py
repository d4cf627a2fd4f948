"""CloudEvents attributes on every output record, in the Kafka protocol binding's binary mode.

The value stays the Confluent-framed Avro record; the event's attributes ride in `ce_*` headers (CloudEvents 1.0,
Kafka protocol binding), so CloudEvents SDKs, Knative and routers that filter on headers understand the topics
without decoding a byte of Avro:

    ce_specversion  1.0
    ce_id           the record's event_id (deterministic: a re-sent record carries the same one)
    ce_source       payment-journey/<app_id>
    ce_type         paymentjourney.<Record>, the schema's full name
    ce_time         occurred_at, RFC 3339 in UTC with milliseconds
    content-type    application/vnd.confluent.avro: the value is Avro in Confluent's wire format (magic byte,
                    schema id, body), which plain `avro/binary` readers would misread; the id names the schema in
                    the registry, where the `ce_type` subject (TopicRecordNameStrategy) also finds it
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

SPEC_VERSION = b"1.0"
CONTENT_TYPE = b"application/vnd.confluent.avro"
NAMESPACE = "paymentjourney"


def event_source(app_id: str) -> str:
    return f"payment-journey/{app_id}"


def rfc3339(epoch_ms: int) -> str:
    """`2026-11-01T10:00:00.123Z`."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def cloudevent_headers(record: Any, source: str) -> list[tuple[str, bytes]]:
    """The headers of one output record: any record with event_id, occurred_at and its SCHEMA name."""
    return [
        ("ce_specversion", SPEC_VERSION),
        ("ce_id", record.event_id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", f"{NAMESPACE}.{record.SCHEMA}".encode()),
        ("ce_time", rfc3339(record.occurred_at).encode()),
        ("content-type", CONTENT_TYPE),
    ]
