"""bench/worker_view.py against the worker's real histogram (pipeline.metrics, rendered by prometheus-client as the
worker's /metrics serves it): what a phase added, and its quantiles as Prometheus's histogram_quantile computes
them."""

from __future__ import annotations

import math

from prometheus_client import generate_latest

from bench.driver import Phase
from bench.report import Result, detail_rows
from bench.systems import SYSTEMS
from bench.worker_view import p50_p99_ms, parse, quantile
from pipeline.metrics import EVENT_LATENCY_BUCKETS, Metrics


def _page(m: Metrics) -> str:
    return generate_latest(m.registry).decode()


def test_quantiles_count_only_what_the_phase_added_and_only_its_topic() -> None:
    m = Metrics()
    for _ in range(1_000):  # before the phase: slow, and must not count
        m.event_latency.labels("payments").observe(2.0)
    m.event_latency.labels("refunds").observe(0.001)
    before = parse(_page(m), "payments")
    for i in range(100):  # the phase: 11, 13, ... 209 ms
        m.event_latency.labels("payments").observe(0.011 + 0.002 * i)
    for _ in range(500):
        m.event_latency.labels("refunds").observe(9.0)
    after = parse(_page(m), "payments")

    assert after[math.inf] - before[math.inf] == 100
    assert set(after) == {*EVENT_LATENCY_BUCKETS, math.inf}
    p50, p99 = quantile(0.5, before, after), quantile(0.99, before, after)
    assert p50 is not None and p99 is not None
    # the 50th observation, 109 ms, is the 5th of 25 in (0.1, 0.15]; the 99th, 207 ms, the 29th of 30 in (0.15, 0.25]
    assert math.isclose(p50, 0.1 + 0.05 * 5 / 25) and math.isclose(p99, 0.15 + 0.1 * 29 / 30)
    assert p50_p99_ms(before, after) == (1000 * p50, 1000 * p99)  # what the bench's table shows


def test_nothing_observed_or_beyond_the_last_bucket_has_no_quantile() -> None:
    m = Metrics()
    m.event_latency.labels("payments").observe(0.02)
    page = parse(_page(m), "payments")
    assert quantile(0.5, page, page) is None  # nothing in between
    assert quantile(0.5, {}, parse(_page(Metrics()), "payments")) is None  # a fresh worker: every bucket 0
    m.event_latency.labels("payments").observe(7_200.0)  # two hours: past 3600 s
    assert quantile(0.99, page, parse(_page(m), "payments")) is None
    assert quantile(0.5, {}, {}) is None and parse("journey_events_total 3.0\n", "payments") == {}


def test_the_every_phase_table_shows_the_workers_own_quantiles_beside_its_phases() -> None:
    rate = Phase("500/s", sent=10, expected=10, received=10, seconds=1.0, worker_p50_ms=21.4, worker_p99_ms=187.0)
    burst = Phase("attempts burst", sent=10, expected=10, received=10, seconds=1.0)
    heads, rows = detail_rows([Result(SYSTEMS["worker"], {"attempts burst": burst, "500/s": rate})])
    col = heads.index("p50 / p99 ms, worker's own metric")
    assert [r[col] for r in rows] == ["-", "21.4 / 187"]
