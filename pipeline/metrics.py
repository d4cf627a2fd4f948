"""Every Prometheus metric the pipeline exports, declared once, built against an injectable registry.

Labels carry codes and classes only, never customer ids, card data or other personal data.
Recovery rate by decline class and variant = journey_recoveries_total / journey_dunning_cases_opened_total.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        # Input events accepted and processed, by topic and record type.
        self.events = Counter("journey_events", "Input events processed", ["topic", "type"], registry=r)
        # Input events skipped because their event_id was already processed for the customer.
        self.duplicates = Counter("journey_duplicate_events", "Duplicate events skipped", ["topic"], registry=r)
        # Messages that could not be decoded and went to the topic's dead-letter topic.
        self.dead_letters = Counter("journey_dead_letters", "Messages dead-lettered", ["topic", "reason"], registry=r)
        # Checkout decisions emitted.
        self.decisions = Counter("journey_decisions", "Checkout decisions", ["outcome", "sca_strategy"], registry=r)
        # Wall time from taking a message off the stream to its outputs being sent.
        self.processing = Histogram(
            "journey_processing_seconds", "Per-event processing time", ["topic"], buckets=_LATENCY_BUCKETS, registry=r
        )
        # Dunning cases opened by a first failure.
        self.cases_opened = Counter(
            "journey_dunning_cases_opened", "Dunning cases opened", ["decline_class", "variant"], registry=r
        )
        # Dunning steps emitted (retry scheduled/held/due, reminder sent, offer, stopped).
        self.dunning_steps = Counter(
            "journey_dunning_steps", "Dunning steps", ["action", "decline_class", "variant"], registry=r
        )
        # Failed payments recovered.
        self.recoveries = Counter(
            "journey_recoveries", "Payments recovered", ["decline_class", "variant", "recovered_by"], registry=r
        )
        # Refund decisions emitted.
        self.refund_decisions = Counter("journey_refund_decisions", "Refund decisions", ["outcome"], registry=r)
        # Notifications handed to notifiers.
        self.notifications = Counter("journey_notifications", "Notifications emitted", ["channel"], registry=r)
        # Decodes held back because the schema registry could not be reached (retried with backoff, never dropped).
        self.registry_waits = Counter("journey_registry_waits", "Waits for an unreachable schema registry", registry=r)
        # Due retries/reminders published by the timer (each fires at most once in the customer agent).
        self.due_published = Counter("journey_due_published", "Due actions published by the timer", registry=r)
