"""The worker's own view of a rate phase: its journey_event_latency_seconds histogram (an input record's timestamp
to the broker's acknowledgement of the outputs, pipeline/metrics.py) scraped from /metrics before and after the
phase, and a quantile of what the phase added, interpolated within a bucket as Prometheus's histogram_quantile does.

Beside the bench's own measure (send to arrival at the measuring consumer) it tells the worker's part of the
latency from the last hop's."""

from __future__ import annotations

import math
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

FAMILY = "journey_event_latency_seconds"

Buckets = dict[float, float]  # upper bound in seconds (+Inf included) -> cumulative count


def parse(text: str, topic: str) -> Buckets:
    """The cumulative bucket counts of `topic` in a /metrics page (summed over any other label)."""
    out: Buckets = {}
    for family in text_string_to_metric_families(text):
        if family.name != FAMILY:
            continue
        for sample in family.samples:
            if sample.name == FAMILY + "_bucket" and sample.labels.get("topic") == topic:
                le = float(sample.labels["le"])  # "+Inf" reads as inf
                out[le] = out.get(le, 0.0) + sample.value
    return out


def scrape(url: str, topic: str = "payments", timeout: float = 5.0) -> Buckets:
    with urllib.request.urlopen(url, timeout=timeout) as page:  # noqa: S310 (the bench's own worker on loopback)
        return parse(page.read().decode(), topic)


def p50_p99_ms(before: Buckets, after: Buckets) -> tuple[float | None, float | None]:
    """The phase's p50 and p99 in milliseconds (None where `quantile` has none)."""
    found = (quantile(q, before, after) for q in (0.5, 0.99))
    p50, p99 = (None if s is None else 1000 * s for s in found)
    return p50, p99


def quantile(q: float, before: Buckets, after: Buckets) -> float | None:
    """Seconds below which a share q of the observations made between the two scrapes fall. None when nothing was
    observed in between, or when the quantile lies beyond the highest finite bucket."""
    bounds = sorted(after)
    if not bounds or bounds[-1] != math.inf:
        return None
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if bound == math.inf:
                return None
            return lower + (bound - lower) * (rank - below) / (count - below) if count > below else lower
        lower, below = bound, count
    return None
