"""Lag, assignment and rebalance gauges from what the consumer saw and what the customer agent processed."""

from __future__ import annotations

from prometheus_client import generate_latest

from agents.alignment import TP
from agents.consumer_gauges import ConsumerGauges
from pipeline.metrics import Metrics


def gauges(highwater: dict[TP, int], processed: dict[TP, int], committed: dict[TP, int]) -> tuple[ConsumerGauges,
                                                                                                 Metrics]:
    metrics = Metrics()

    async def start(tp: TP) -> int:
        return committed[tp]

    return ConsumerGauges(metrics, highwater.get, start, processed, ("payments", "orders")), metrics


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def test_lag_is_the_high_watermark_minus_the_next_offset_to_process() -> None:
    g, m = gauges({("payments", 0): 120, ("payments", 1): 7}, {("payments", 0): 100, ("payments", 1): 7}, {})
    g.assigned([("payments", 0), ("payments", 1)])
    await g.update()
    assert value(m, "journey_consumer_lag", topic="payments", partition="0") == 20
    assert value(m, "journey_consumer_lag", topic="payments", partition="1") == 0


async def test_a_partition_with_nothing_processed_yet_counts_from_its_committed_offset() -> None:
    g, m = gauges({("orders", 3): 50}, {}, {("orders", 3): 40})
    g.assigned([("orders", 3)])
    await g.update()
    assert value(m, "journey_consumer_lag", topic="orders", partition="3") == 10


async def test_partitions_not_fetched_yet_and_topics_not_consumed_have_no_lag_series() -> None:
    g, m = gauges({("identity-links", 0): 9}, {}, {("payments", 0): 0})
    g.assigned([("payments", 0), ("identity-links", 0)])
    await g.update()
    assert "journey_consumer_lag{" not in generate_latest(m.registry).decode()


async def test_each_assignment_counts_a_rebalance_and_revoked_partitions_lose_their_series() -> None:
    highwater = {("payments", 0): 5, ("payments", 1): 5, ("orders", 0): 1}
    g, m = gauges(highwater, {("payments", 0): 5, ("payments", 1): 2, ("orders", 0): 1}, {})
    g.assigned([("payments", 0), ("payments", 1), ("orders", 0)])
    await g.update()
    assert value(m, "journey_assigned_partitions", topic="payments") == 2
    g.assigned([("payments", 0)])
    await g.update()
    assert value(m, "journey_rebalances_total") == 2
    assert value(m, "journey_assigned_partitions", topic="payments") == 1
    assert value(m, "journey_assigned_partitions", topic="orders") is None
    assert value(m, "journey_consumer_lag", topic="payments", partition="1") is None
    assert value(m, "journey_consumer_lag", topic="payments", partition="0") == 0


async def test_a_start_offset_that_cannot_be_read_leaves_the_partition_out_this_round() -> None:
    metrics = Metrics()

    async def start(tp: TP) -> int:
        raise RuntimeError("revoked")

    g = ConsumerGauges(metrics, {("payments", 0): 3}.get, start, {}, ("payments",))
    g.assigned([("payments", 0)])
    await g.update()
    assert value(metrics, "journey_consumer_lag", topic="payments", partition="0") is None
