"""Every Prometheus metric the pipeline exports, declared once, built against an injectable registry.

Labels carry codes and classes only, never customer ids, card data or other personal data.
Recovery rate by decline class and variant = journey_recoveries_total / journey_dunning_cases_opened_total.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
# an input's age when its outputs are delivered: milliseconds live (fine enough to tell 50 from 100 ms, the live
# target), minutes to hours for a backlog after downtime
EVENT_LATENCY_BUCKETS = (0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
                         300.0, 1800.0, 3600.0)


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
        # Reason codes given with checkout (kind="payment") and refund (kind="refund") decisions: the top reasons.
        self.decision_reasons = Counter("journey_decision_reasons", "Reason codes given with decisions",
                                        ["kind", "code"], registry=r)
        # Refund decisions emitted.
        self.refund_decisions = Counter("journey_refund_decisions", "Refund decisions", ["outcome"], registry=r)
        # Notifications handed to notifiers.
        self.notifications = Counter("journey_notifications", "Notifications emitted", ["channel"], registry=r)
        # Flags sent to accounts linked to a serial claimant or a confirmed fraudster or abuser (account-flags).
        self.account_flags = Counter("journey_account_flags", "Flags sent to linked accounts", ["cause"], registry=r)
        # Decodes held back because the schema registry could not be reached (retried with backoff, never dropped).
        self.registry_waits = Counter("journey_registry_waits", "Waits for an unreachable schema registry", registry=r)
        # Due retries/reminders published by the timer (each fires at most once in the customer agent).
        self.due_published = Counter("journey_due_published", "Due actions published by the timer", registry=r)
        # Timer ticks that held a partition's due actions back because the worker had not caught up on it yet.
        self.due_held = Counter("journey_due_held", "Partitions whose due actions waited for catch-up", registry=r)
        # Held events released before alignment said it was safe: hold_timeout, held_limit, or a partition whose
        # progress did not move for the idle timeout (idle_partition, counted once per such wait).
        self.align_forced = Counter("journey_align_forced", "Alignment waits cut short", ["reason"], registry=r)
        # Wall time of one agent batch: decode, steps, delivery of every output, state writes.
        self.batch_seconds = Histogram(
            "journey_batch_seconds", "Per-batch processing time", buckets=_LATENCY_BUCKETS, registry=r
        )
        # Seconds from an input record's timestamp (its producer's clock, or the broker's with LogAppendTime) to the
        # broker's acknowledgement of every output of the batch that processed it: what a checkout waiting for its
        # decision sees, the broker hops, the fetch and every wait in the worker included. Events that change
        # nothing (duplicates) and dead-lettered messages are not counted.
        self.event_latency = Histogram(
            "journey_event_latency_seconds", "Input record timestamp to its outputs delivered", ["topic"],
            buckets=EVENT_LATENCY_BUCKETS, registry=r,
        )
        # Events per batch taken by the customer agent.
        self.batch_events = Histogram(
            "journey_batch_events", "Events per batch", buckets=(1, 5, 10, 50, 100, 250, 500, 1000), registry=r
        )
        # Records whose delivery failed and was retried (the partition waits; nothing is skipped).
        self.send_retries = Counter("journey_send_retries", "Output records sent again after a failed delivery",
                                    registry=r)
        # Table changelog records the broker did not take (agents/direct_tables.py): the local table is ahead of its
        # changelog until the key is written again, so a worker rebuilt from the changelog would miss that write.
        self.changelog_failures = Counter("journey_changelog_failures", "Table changelog records not delivered",
                                          registry=r)
        # Messages not yet processed per input partition: fetch high watermark minus the next offset to process.
        self.consumer_lag = Gauge("journey_consumer_lag", "Messages behind the high watermark",
                                  ["topic", "partition"], registry=r)
        # Consumer-group rebalances this worker took part in (each new assignment counts once).
        self.rebalances = Counter("journey_rebalances", "Consumer-group rebalances", registry=r)
        # Topic partitions currently assigned to this worker, by topic.
        self.assigned_partitions = Gauge("journey_assigned_partitions", "Partitions assigned to this worker",
                                         ["topic"], registry=r)
        # The running package version, as the label of a constant 1: journey_build_info{version=...}.
        self.build_info = Info("journey_build", "Package version of the worker", registry=r)
        # The decision policy in force (the version stamped on every decision): journey_policy_info{version=...}.
        self.policy_info = Info("journey_policy", "Version of the decision policy loaded", registry=r)

    def describe(self, build_version: str, policy_version: str) -> None:
        """Set the info metrics: what is running and which policy decides."""
        self.build_info.info({"version": build_version})
        self.policy_info.info({"version": policy_version})


_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "info": ("_info",)}


def series_names(metrics: Metrics) -> set[str]:
    """Every series name the registry exposes (counters with `_total`, histograms' `_bucket`/`_sum`/`_count`, ...).

    Dashboards and alert rules may name only these; the tests check them against this set.
    """
    names: set[str] = set()
    for family in metrics.registry.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
    return names
