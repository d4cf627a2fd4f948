"""The topic contract: names, keys, partitioning, and who writes and reads each topic.

Which records travel on a topic is each schema's `topic` (`records_on`). Every topic is keyed by customer_id and has
the same partition count, so the customer agent's streams and tables are co-partitioned and no hot-path
repartitioning is needed. TOPICS is the one table of who writes and reads what: the README's topic table and
docs/asyncapi.yaml (tools/gen_asyncapi.py) are both checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.rules.erasure import ErasureRequested
from agents.rules.events import RECORD_TYPES

KEY = "customer_id"  # the message key of every topic (UTF-8 bytes)
ERASURE_TOPIC = ErasureRequested.TOPIC  # a tombstone (null value) on it, keyed by a customer id, erases that customer
DLQ_SUFFIX = "-dlq"


@dataclass(frozen=True, slots=True)
class Topic:
    name: str
    kind: str  # input | output | internal | dead-letter
    written_by: str
    read_by: str
    note: str = ""  # what the records column adds, e.g. "(one per source event)"


def dlq_topic(topic: str) -> str:
    return f"{topic}{DLQ_SUFFIX}"


_SOURCES = (
    Topic("payments", "input", "checkout / PSP integration", "worker"),
    Topic("devices", "input", "web and app front ends", "worker"),
    Topic("orders", "input", "order service", "worker"),
    Topic("refunds", "input", "returns service", "worker"),
    Topic("customers", "input", "account service", "worker"),
    Topic("reviews", "input", "explorer / back office", "worker"),
    Topic("decisions", "output", "worker",
          "checkout (approve/challenge/decline, exemption, method, perks), analysts"),
    Topic("dunning", "output", "worker", "payment service (performs `retry_due`), analysts"),
    Topic("notifications", "output", "worker", "notifiers (e-mail, SMS, push, in-app)"),
    Topic("recovery", "output", "worker", "finance, analysts"),
    Topic("refund-decisions", "output", "worker", "returns service, analysts"),
    Topic("erasures", "output", "worker", "account service, privacy audit (proof that an erasure was done)"),
    Topic("dunning-due", "internal", "worker's timer", "worker (internal)"),
    Topic("identity-links", "internal", "worker", "worker's identity index (internal)",
          "(IdentityLinked one per source event, IdentityErased one per erasure, InputsProcessed progress marks)"),
    Topic("account-flags", "internal", "worker", "worker (internal)", "(one per linked account)"),
)
INPUT_TOPICS = tuple(t.name for t in _SOURCES if t.kind == "input")
OUTPUT_TOPICS = tuple(t.name for t in _SOURCES if t.kind == "output")
INTERNAL_TOPICS = tuple(t.name for t in _SOURCES if t.kind == "internal")
DLQ_TOPICS = tuple(dlq_topic(t) for t in (*INPUT_TOPICS, *INTERNAL_TOPICS))
TOPICS: tuple[Topic, ...] = (
    *_SOURCES,
    *(Topic(name, "dead-letter", "worker", "operators") for name in DLQ_TOPICS),
)
ALL_TOPICS = tuple(t.name for t in TOPICS)
DLQ_RECORDS = "the original bytes, `error.*` headers"  # what a dead-letter topic carries instead of records


def records_on(topic: str) -> tuple[str, ...]:
    """The record types a topic carries, in schema-name order (none on a dead-letter topic: raw bytes)."""
    return tuple(sorted(name for name, cls in RECORD_TYPES.items() if topic == cls.TOPIC))


def topic_specs(partitions: int) -> dict[str, int]:
    return dict.fromkeys(ALL_TOPICS, partitions)
