"""The topic contract: names, keys and partitioning. Which records travel on a topic is each schema's `topic`.

Every topic is keyed by customer_id and has the same partition count, so the
customer agent's streams and tables are co-partitioned and no hot-path repartitioning is needed.
"""

from __future__ import annotations

INPUT_TOPICS = ("payments", "devices", "orders", "refunds", "customers")
OUTPUT_TOPICS = ("decisions", "dunning", "recovery", "refund-decisions", "notifications")
INTERNAL_TOPICS = ("dunning-due", "identity-links")
DLQ_SUFFIX = "-dlq"


def dlq_topic(topic: str) -> str:
    return f"{topic}{DLQ_SUFFIX}"


DLQ_TOPICS = tuple(dlq_topic(t) for t in (*INPUT_TOPICS, "dunning-due", "identity-links"))
ALL_TOPICS = (*INPUT_TOPICS, *OUTPUT_TOPICS, *INTERNAL_TOPICS, *DLQ_TOPICS)


def topic_specs(partitions: int) -> dict[str, int]:
    return dict.fromkeys(ALL_TOPICS, partitions)
