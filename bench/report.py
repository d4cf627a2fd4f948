"""What a bench run shows: the rich tables in the terminal, the Markdown page and the latency-over-time plot."""

from __future__ import annotations

import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.table import Table

from bench.driver import IDLE, Phase
from bench.systems import System

ATTEMPTS, SIM = "attempts burst", "sim burst"


@dataclass
class Result:
    system: System
    phases: dict[str, Phase] = field(default_factory=dict)
    ready_s: float | None = None
    state_sizes: list[int] | None = None
    skipped: str | None = None  # why it could not run at all
    error: str | None = None  # why it stopped before the end
    pids: list[int] = field(default_factory=list)


def _num(x: float | None, digits: int = 0) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _ms(x: float | None) -> str:
    return "late" if x is None else (f"{x:,.1f}" if x < 100 else f"{x:,.0f}")


def _burst(p: Phase | None) -> str:
    if p is None:
        return "-"
    return _num(p.per_second) + ("" if p.complete else f" ({p.received}/{p.expected})")


def summary_rows(results: Sequence[Result], rates: Sequence[int]) -> tuple[list[str], list[list[str]]]:
    heads = ["system", "burst dec/s", "CPU ms/ev system", "CPU ms/ev broker", "sim mix ev/s"]
    for r in rates:
        heads += [f"p50 ms @{r}/s", f"p99 ms @{r}/s"]
    heads += ["state B mean", "state B max", "idle CPU % system", "idle CPU % broker"]
    rows = []
    for res in results:
        if not res.phases:
            rows.append([res.system.label, "not run" if res.skipped else "failed", *[""] * (len(heads) - 2)])
            continue
        a, sim = res.phases.get(ATTEMPTS), res.phases.get(SIM)
        sim_rate = _num(sim.sent / sim.seconds) if sim and sim.complete and sim.seconds else _burst(sim)
        row = [res.system.label, _burst(a), _num(a.cpu_ms_per_event() if a else None, 3),
               _num(a.cpu_ms_per_event(broker=True) if a else None, 3), sim_rate]
        for r in rates:
            p = res.phases.get(f"{r}/s")
            row += [_ms(p.percentile(0.5)) if p else "-", _ms(p.percentile(0.99)) if p else "-"]
        sizes = res.state_sizes
        row += [_num(statistics.fmean(sizes)) if sizes else "-", _num(max(sizes)) if sizes else "-"]
        idle = res.phases.get(IDLE)
        row += [_num(100 * idle.cpu_share(), 1) if idle else "-", _num(100 * idle.cpu_share(True), 1) if idle else "-"]
        rows.append(row)
    return heads, rows


def detail_rows(results: Sequence[Result]) -> tuple[list[str], list[list[str]]]:
    heads = ["system", "phase", "events sent", "decisions", "seconds", "decisions/s", "CPU ms/ev system",
             "CPU ms/ev broker", "p50 / p99 ms, worker's own metric"]
    rows = []
    for res in results:
        for p in res.phases.values():
            if p.name == IDLE:  # no events: its CPU is in the summary, as a share of a core
                continue
            own = "-" if p.worker_p50_ms is None and p.worker_p99_ms is None else \
                f"{_ms(p.worker_p50_ms)} / {_ms(p.worker_p99_ms)}"
            rows.append([res.system.label, p.name, f"{p.sent:,}", f"{p.received:,}/{p.expected:,}", f"{p.seconds:.2f}",
                         _num(p.per_second), _num(p.cpu_ms_per_event(), 3), _num(p.cpu_ms_per_event(True), 3), own])
    return heads, rows


def target_rows(results: Sequence[Result]) -> tuple[list[str], list[list[str]]]:
    """Issue 9's targets against this run, computed (no figure typed in by hand); a target whose systems did not
    run is left out."""
    by = {r.system.key: r for r in results if r.phases}
    heads = ["target", "this run", "met"]
    rows: list[list[str]] = []

    def burst(key: str) -> float | None:
        p = by[key].phases.get(ATTEMPTS) if key in by else None
        return p.per_second if p is not None and p.complete else None

    def add(target: str, shown: str, met: bool) -> None:
        rows.append([target, shown, "yes" if met else "no"])

    worker, raw, loop = burst("worker"), burst("passthrough"), burst("loop")
    if worker is not None:
        add("burst decisions/s >= 1,200", _num(worker), worker >= 1_200)
    if worker is not None and raw:
        add(">= 12% of the raw pass-through in the same run", f"{100 * worker / raw:.1f}% ({_num(raw)}/s)",
            worker >= 0.12 * raw)
    p = by["worker"].phases.get("500/s") if "worker" in by else None
    if p is not None:
        p50, p99 = p.percentile(0.5), p.percentile(0.99)
        add("p50 <= 50 ms at 500/s", _ms(p50), p50 is not None and p50 <= 50)
        add("p99 <= 100 ms at 500/s", _ms(p99), p99 is not None and p99 <= 100)
    if worker is not None and loop:
        add("stretch: within 2x of the plain-loop ceiling", f"{loop / worker:.1f}x ({_num(loop)}/s)",
            loop <= 2 * worker)
    sizes = by["worker"].state_sizes if "worker" in by else None
    if sizes:
        mean, top = statistics.fmean(sizes), max(sizes)
        add("state mean <= 2 KB, max <= 8 KB (sim population)", f"{_num(mean)} B / {_num(top)} B",
            mean <= 2_048 and top <= 8_192)
    return heads, rows


def problems(results: Sequence[Result]) -> list[str]:
    """Why a system did not run, or did not finish."""
    return [f"{r.system.label}: " + (f"not run: {r.skipped}" if r.skipped else f"failed: {r.error}")
            for r in results if r.skipped or r.error]


def rich_table(title: str, heads: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    t = Table(title=title, title_justify="left")
    for i, h in enumerate(heads):
        t.add_column(h, justify="left" if i == 0 else "right", overflow="fold")
    for r in rows:
        t.add_row(*r)
    return t


def markdown_table(heads: Sequence[str], rows: Sequence[Sequence[str]], text: Sequence[int] = (0,)) -> str:
    """Columns right-aligned (numbers) but those in `text`."""
    rule = "|".join("---" if i in text else "---:" for i in range(len(heads)))
    lines = ["| " + " | ".join(heads) + " |", f"|{rule}|"]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()} ({platform.system()})"


def markdown(results: Sequence[Result], rates: Sequence[int], settings: str, broker: str, plot: str | None,
             notes: Sequence[str], sections: Sequence[str] = ()) -> str:
    heads, rows = summary_rows(results, rates)
    dheads, drows = detail_rows(results)
    parts = [
        "# End-to-end benchmark",
        "",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Machine: {machine()}. Broker: {broker}, one broker for "
        "every system, on loopback.",
        "",
        settings,
        "",
        markdown_table(heads, rows),
        "",
        *[f"- {p}" for p in problems(results)],
        "",
    ]
    theads, trows = target_rows(results)
    if trows:
        parts += ["## Against issue 9's targets", "", markdown_table(theads, trows), ""]
    if plot:
        parts += [f"![p50 and p99 latency and CPU per second at {rates[0]}/s offered]({plot})", ""]
    parts += [*sections, "## Every phase", "", markdown_table(dheads, drows), "", "## How it was measured", ""]
    parts += [f"- {n}" for n in notes]
    parts += ["", "Regenerate with `make bench` (`python -m bench.e2e --help` lists the knobs).", ""]
    return "\n".join(parts)


def plot_latency(results: Sequence[Result], rate: int, path: Path) -> str | None:
    """Per-second p50 and p99 per system at `rate`, and below them each second's CPU of the broker and of the system;
    returns why there is no plot (and writes no file) when matplotlib is not installed, else None."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (the `bench` extra has it)"
    fig, (ax, cpu) = plt.subplots(2, 1, figsize=(8, 7.2), dpi=90, sharex=True, height_ratios=(2, 1))
    for i, res in enumerate(results):
        p = res.phases.get(f"{rate}/s")
        if p is None or not p.series:
            continue
        color = f"C{i}"
        seconds = [s[0] for s in p.series]
        ax.plot(seconds, [s[1] for s in p.series], color=color, label=f"{res.system.label} p50")
        ax.plot(seconds, [s[2] for s in p.series], color=color, linestyle="--", label=f"{res.system.label} p99")
        cpu.plot([c[0] for c in p.cpu_series], [c[1] for c in p.cpu_series], color=color, linestyle=":")
        cpu.plot([c[0] for c in p.cpu_series], [c[2] for c in p.cpu_series], color=color)
    ax.set_yscale("log")
    ax.set_ylabel("latency, ms (log scale)")
    ax.set_title(f"Decision latency at {rate}/s offered, per second")
    cpu.set_xlabel("second of the run (by send time)")
    cpu.set_ylabel("CPU, % of a core")
    cpu.set_title("CPU per second: the broker (solid), the system (dotted)", fontsize=9)
    for a in (ax, cpu):
        a.grid(True, which="both", alpha=0.3)
    cpu.set_ylim(bottom=0)
    cpu.xaxis.get_major_locator().set_params(integer=True)
    fig.legend(*ax.get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0.11, 1, 1))
    fig.savefig(path)
    plt.close(fig)
    return None
