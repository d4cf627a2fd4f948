"""The bench's arithmetic and bookkeeping, without a broker: quantiles that count missing decisions as late, the
customer behind each changelog key, CPU time from /proc, and the Markdown table."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from bench.driver import Driver, Phase, percentile
from bench.procs import cpu_seconds, descendants
from bench.report import markdown_table
from bench.systems import customer_of
from pipeline.wire.codec import Codec
from pipeline.wire.registry import LocalRegistry


def test_quantiles_use_the_nearest_rank() -> None:
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 0.5) == 50.0 and percentile(values, 0.99) == 99.0 and percentile([7.0], 0.99) == 7.0


def test_a_decision_that_never_arrived_counts_as_infinitely_late() -> None:
    phase = Phase("500/s", sent=100, expected=100, received=98, latencies_ms=[float(i) for i in range(98)])
    assert phase.percentile(0.5) == 49.0
    assert phase.percentile(0.99) is None and not phase.complete


def test_changelog_keys_of_faust_and_quix_name_the_customer() -> None:
    assert customer_of(b'"cust-7"') == "cust-7"
    assert customer_of(b'"cust-7"|"journey"') == "cust-7"
    assert customer_of(b"\xff not json") is None


def test_cpu_time_of_this_process_grows_while_it_works() -> None:
    before = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:
        pass
    assert cpu_seconds(os.getpid()) > before
    assert os.getpid() in descendants(os.getpid())
    assert cpu_seconds(None) == 0.0


def test_markdown_table_right_aligns_the_numbers() -> None:
    text = markdown_table(["system", "n"], [["a|b", "1"]])
    assert text.splitlines() == ["| system | n |", "|---|---:|", "| a/b | 1 |"]


def test_the_targets_are_computed_from_the_run() -> None:
    from bench.report import ATTEMPTS, Result, target_rows
    from bench.systems import SYSTEMS

    def burst(per_second: float) -> Phase:
        return Phase(ATTEMPTS, sent=5_000, expected=5_000, received=5_000, seconds=5_000 / per_second)

    worker = Result(SYSTEMS["worker"], {ATTEMPTS: burst(1_500), "500/s": Phase(
        "500/s", sent=100, expected=100, received=100, latencies_ms=[float(i) for i in range(100)])},
        state_sizes=[1_000, 9_000])
    rows = {t: (shown, met) for t, shown, met in target_rows([
        Result(SYSTEMS["passthrough"], {ATTEMPTS: burst(20_000)}), Result(SYSTEMS["loop"], {ATTEMPTS: burst(2_500)}),
        worker])[1]}
    assert rows["burst decisions/s >= 1,200"] == ("1,500", "yes")
    assert rows[">= 12% of the raw pass-through in the same run"] == ("7.5% (20,000/s)", "no")
    assert rows["p50 <= 50 ms at 500/s"][1] == "yes" and rows["p99 <= 100 ms at 500/s"][1] == "yes"
    assert rows["stretch: within 2x of the plain-loop ceiling"] == ("1.7x (2,500/s)", "yes")
    assert rows["state mean <= 2 KB, max <= 8 KB (sim population)"][1] == "no"
    assert target_rows([Result(SYSTEMS["loop"], {ATTEMPTS: burst(2_500)})])[1] == [], "no worker: nothing to judge"


def test_a_phase_s_cpu_share_is_per_core_and_per_second() -> None:
    idle = Phase("idle", sent=0, expected=0, seconds=4.0, cpu_system_s=1.0, cpu_broker_s=0.2)
    assert idle.cpu_share() == 0.25 and idle.cpu_share(broker=True) == pytest.approx(0.05)
    assert idle.cpu_ms_per_event() == 0.0 and Phase("idle", sent=0, expected=0).cpu_share() == 0.0


async def test_a_rate_phase_samples_the_cpu_of_the_system_and_the_broker_each_second(tmp_path: Path) -> None:
    """Driver._sample_cpu on real processes: a spinning Python as the system, an idle `sleep` as the broker."""
    spin = "import time\nend = time.monotonic() + 5\nwhile time.monotonic() < end:\n    pass"
    system = await asyncio.create_subprocess_exec(sys.executable, "-c", spin)
    broker = await asyncio.create_subprocess_exec("sleep", "30")
    codec = Codec(LocalRegistry(tmp_path / "registry.json"))
    driver = Driver("127.0.0.1:9", codec, lambda name: name, 1, lambda: system.pid, broker.pid, lambda: True)
    series: list[tuple[int, float, float]] = []
    try:
        sampler = asyncio.create_task(driver._sample_cpu(series))
        await asyncio.sleep(2.5)
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
    finally:
        for p in (system, broker):
            p.kill()
            await p.wait()
    assert [s[0] for s in series] == [0, 1]
    assert all(system_share > 60 and broker_share < 5 for _, system_share, broker_share in series), series
