"""The overview counts this worker's last hour from samples of its own registry, and says what it covers."""

from __future__ import annotations

from pipeline.explorer.overview import WINDOW_MS, Rolling, overview, sample_of
from pipeline.metrics import Metrics

T0 = 1_760_000_000_000
MIN = 60_000


def sample(m: Metrics):  # type: ignore[no-untyped-def]
    return sample_of(m.registry.collect())


def test_a_young_worker_counts_everything_since_it_started() -> None:
    m = Metrics()
    rolling = Rolling(started_ms=T0)
    m.decisions.labels("approve", "none").inc(3)
    m.decisions.labels("approve", "challenge").inc(2)
    m.decisions.labels("decline", "none").inc()
    m.decision_reasons.labels("payment", "USUAL_DEVICE").inc(4)
    m.decision_reasons.labels("refund", "SERIAL_CLAIMS").inc(1)
    m.assigned_partitions.labels("payments").set(2)
    o = overview(rolling, T0 + 10 * MIN, sample(m), 4, "payments")
    assert o["decisions"] == {"approve": 5, "decline": 1}
    assert o["top_reasons"][0] == {"kind": "payment", "code": "USUAL_DEVICE", "count": 4}
    assert "This worker only: 2 of 4 partitions" in o["scope"]
    assert "10 minute(s) since this worker started" in o["scope"]


def test_after_an_hour_only_the_last_hour_counts() -> None:
    m = Metrics()
    rolling = Rolling(started_ms=T0)
    m.decisions.labels("approve", "none").inc(10)
    m.dead_letters.labels("payments", "not_avro").inc(2)
    rolling.add(T0 + 5 * MIN, sample(m))
    m.decisions.labels("approve", "none").inc(7)
    m.dead_letters.labels("payments", "not_avro").inc(1)
    m.cases_opened.labels("soft", "offer").inc(4)
    m.recoveries.labels("soft", "offer", "retry").inc(1)
    rolling.add(T0 + 40 * MIN, sample(m))
    o = overview(rolling, T0 + 5 * MIN + WINDOW_MS, sample(m), 4, "payments")
    assert o["decisions"] == {"approve": 7} and "the last hour" in o["scope"]
    assert o["dead_letters"] == [{"topic": "payments", "reason": "not_avro", "count": 1, "since_start": 3}]
    assert o["recovery"] == [{"variant": "offer", "opened": 4, "recovered": 1, "rate": 0.25}]


def test_old_samples_are_dropped_but_the_baseline_is_kept() -> None:
    rolling = Rolling(started_ms=T0)
    for n in range(20):
        rolling.add(T0 + n * 10 * MIN, {("journey_events_total", "payments"): float(n)})
    assert len(rolling.samples) <= 8
    at, base, full = rolling.baseline(T0 + 190 * MIN)
    assert full and at == T0 + 130 * MIN and base[("journey_events_total", "payments")] == 13.0


def test_a_lookup_goes_to_the_worker_holding_the_customers_partition_as_the_producers_place_it() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    from pipeline.explorer.api import owner_url, partition_of

    producers = DefaultPartitioner()
    for cid in ("cust-0", "cust-1", "cust-00042", "ö-unicode"):
        assert partition_of(cid, 4) == producers(cid.encode(), [0, 1, 2, 3], [0, 1, 2, 3])
    routes = {"http://a:1": {"payments": [0, 2], "decisions": [1]}, "http://b:2": {"payments": [1, 3]}}
    assert owner_url(routes, "payments", 1) == "http://b:2" and owner_url(routes, "payments", 2) == "http://a:1"
    assert owner_url(routes, "payments", 5) is None  # during a rebalance: nobody
