"""Where the customer agent's CPU goes, part by part: the agents' own bodies in one process, without Faust or Kafka.

    .venv/bin/python -m bench.breakdown [--events 10000] [--batch 2000]

Runs agents.customer_events.CustomerEvents and agents.identity_index.IdentityIndex, as the worker wires them, over
in-memory tables: the burst of bench/e2e.py (synthetic PaymentAttempted for 500 customers, in batches of `--batch`
events, the size the worker gathers while it works off a backlog) after a warm-up that gives every customer a state.
The identity links a batch sends are handed to the index agent before the next batch, as its own stream would.

Each part is timed where it is called (`Parts`): the time of a part nested in another counts for the outer one, so
the parts add up to the whole. The pure step is `agents.rules.journey.handle`, the same function the plain loop of
bench/loop.py runs; everything else in the table is what the worker does besides it to be durable, observable and
safe with bad input. `make bench` adds this table to docs/benchmarks.md, beside the same run's end-to-end CPU per
event, whose remainder is Faust, aiokafka and the Kafka protocol.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

import agents.customer_events as customer_events
import agents.rules.journey as journey
from agents.customer_events import CustomerEvents, Incoming, Producer, node_cache
from agents.history import History
from agents.identity_index import IdentityIndex
from agents.runtime import Runtime
from agents.topology import redactor
from bench.driver import attempt
from bench.text_table import table
from pipeline.metrics import Metrics
from pipeline.settings import Settings
from pipeline.worker.run import GC_THRESHOLDS

PARTS = (
    ("decode and checks", "each message decoded and checked before any step (pipeline/wire/dead_letters.py)"),
    ("pseudonyms", "the event's identifiers replaced by keyed pseudonyms (HMAC) before the step sees them"),
    ("state look-ups", "the customer's state and identity nodes read and decoded (kept decoded while unchanged)"),
    ("pure step", "agents.rules.journey.handle: the decision and every rule (what the plain loop runs)"),
    ("outputs encoded", "every output record Avro-encoded with its CloudEvents headers"),
    ("explorer history", "inputs redacted and re-encoded, outputs kept, one history write per customer"),
    ("state written", "each changed state encoded once per batch and written with its index entries"),
    ("identity index", "the index agent: links folded into nodes, each changed node encoded and written"),
    ("links in flight", "each link folded into the nodes the batch's later events and the next batches read"),
    ("metrics", "events, decisions and reasons counted (prometheus-client)"),
    ("the rest", "the batch's own bookkeeping: offsets, records and their keys, acknowledgements"),
)


class Parts:
    """Time per part, each call counted once: a part called inside another is the outer part's time."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.seconds = {name: 0.0 for name, _ in PARTS}
        self.clock = clock
        self._active = False
        self._wrapped: list[tuple[Any, str, Any]] = []

    def restore(self) -> None:
        """Put back every wrapped function (module attributes outlive a run: a second run would time through the
        first one's wrappers, into the first one's figures)."""
        for owner, attr, inner in reversed(self._wrapped):
            setattr(owner, attr, inner)
        self._wrapped.clear()

    def wrap(self, owner: Any, attr: str, name: str) -> None:
        """Time every call of `owner.attr` as part `name` (written out, not a context manager: the wrapper's own
        cost lands in the parts it measures, so it is kept to two clock reads)."""
        inner, seconds, clock = getattr(owner, attr), self.seconds, self.clock
        self._wrapped.append((owner, attr, inner))

        if asyncio.iscoroutinefunction(inner):
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                if self._active:
                    return await inner(*args, **kwargs)
                self._active, start = True, clock()
                try:
                    return await inner(*args, **kwargs)
                finally:
                    seconds[name] += clock() - start
                    self._active = False
            setattr(owner, attr, timed_async)
            return

        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._active:
                return inner(*args, **kwargs)
            self._active, start = True, clock()
            try:
                return inner(*args, **kwargs)
            finally:
                seconds[name] += clock() - start
                self._active = False
        setattr(owner, attr, timed)


@dataclass
class Breakdown:
    events: int
    batch: int
    seconds: dict[str, float]  # part -> seconds over the measured events
    total_s: float

    def us_per_event(self) -> dict[str, float]:
        return {k: 1e6 * v / self.events for k, v in self.seconds.items()}


class _Delivered:
    """The producer's send: every record delivered at once; identity links kept for the index agent."""

    def __init__(self) -> None:
        self.links: list[tuple[bytes, bytes, list[tuple[str, bytes]], int]] = []

    async def __call__(self, topic: str, key: bytes, value: bytes, headers: Any, partition: int | None) -> Any:
        if topic == "identity-links":
            self.links.append((key, value, list(headers or ()), partition or 0))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def measure(events: int = 10_000, batch: int = 2_000, warm: int = 2_000) -> Breakdown:
    """One run, with the worker's garbage-collector thresholds (its short-lived records make the default ones
    collect every few hundred allocations)."""
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        with tempfile.TemporaryDirectory(prefix="journey-breakdown-") as tmp:
            rt = Runtime.from_settings(Settings.from_env({"JOURNEY_DATA_DIR": tmp}), Metrics())
            return asyncio.run(_run(rt, events, batch, warm))
    finally:
        gc.set_threshold(*before)


async def _run(rt: Runtime, events: int, batch: int, warm: int) -> Breakdown:
    parts = Parts()
    sent = _Delivered()
    producer = Producer(sent, max_backoff_s=0)
    nodes = node_cache()
    tables: dict[str, dict[str, bytes | None]] = {k: {} for k in ("state", "due", "index", "history", "reviews")}
    limit = rt.settings.explorer_history  # as the worker: no history when JOURNEY_EXPLORER_HISTORY is 0
    history = History(tables["history"], limit, redactor(rt)) if limit > 0 else None
    agent = CustomerEvents(rt, tables["state"], tables["due"], tables["index"], producer,
                           review_queue=tables["reviews"], history=history, nodes=nodes)
    agent.aligner = None  # one process holds every partition: nothing to align
    index = IdentityIndex(rt, tables["index"], producer, nodes=nodes)
    partitioner, partitions = DefaultPartitioner(), list(range(rt.settings.partitions))
    offsets: dict[tuple[str, int], int] = {}

    def message(topic: str, partition: int, key: bytes, value: bytes, headers: Any = ()) -> Incoming:
        at = offsets.get((topic, partition), 0)
        offsets[(topic, partition)] = at + 1
        return Incoming(topic, partition, at, key, value, list(headers))

    def attempts(tag: str, lo: int, hi: int, now: int) -> list[Incoming]:
        out = []
        for i in range(lo, hi):
            a = attempt(tag, i, now + i)
            key = a.customer_id.encode()
            out.append(message("payments", int(partitioner(key, partitions, partitions)), key, rt.codec.encode(a)))
        return out

    def batches(tag: str, n: int) -> list[list[Incoming]]:
        now = time.time_ns() // 1_000_000
        return [attempts(tag, lo, min(n, lo + batch), now) for lo in range(0, n, batch)]

    async def burst(taken: list[list[Incoming]]) -> None:
        for messages in taken:
            await agent.process_batch(messages)
            links = [message("identity-links", p, k, v, h) for k, v, h, p in sent.links]
            sent.links.clear()
            if links:
                await index.process_batch(links)

    await burst(batches("warm", warm))
    measured = batches("measured", events)  # encoded before the clock starts: the producers' work, not the worker's
    _instrument(parts, agent, index)
    try:
        start = time.perf_counter()
        await burst(measured)
        total = time.perf_counter() - start
    finally:
        parts.restore()
    named = sum(v for k, v in parts.seconds.items() if k != "the rest")
    parts.seconds["the rest"] = max(0.0, total - named)
    return Breakdown(events, batch, parts.seconds, total)


def _instrument(parts: Parts, agent: CustomerEvents, index: IdentityIndex) -> None:
    wraps: list[tuple[Any, str, str]] = [
        (customer_events, "triage", "decode and checks"),
        (agent, "_load", "state look-ups"),
        (agent, "_node", "state look-ups"),
        (journey, "identifiers_needed", "pseudonyms"),
        (journey, "handle", "pure step"),
        (agent.rt.codec, "encode", "outputs encoded"),
        (customer_events, "cloudevent_headers", "outputs encoded"),
        (agent, "_keep", "explorer history"),
        *([(agent.history, "write", "explorer history")] if agent.history is not None else []),
        (customer_events.state_codec, "dumps", "state written"),
        (agent, "_index_due", "state written"),
        (agent, "_index_reviews", "state written"),
        (index, "process_batch", "identity index"),
        (agent.progress, "linked_in", "links in flight"),
        (customer_events, "apply", "links in flight"),
        (agent, "_count", "metrics"),
    ]
    for owner, attr, name in wraps:
        parts.wrap(owner, attr, name)


def rows(b: Breakdown, worker_ms: float | None = None, loop_ms: float | None = None) -> list[list[str]]:
    """Table rows: part, µs per event, share; with the same run's end-to-end CPU per event, what is left is Faust's."""
    per = b.us_per_event()
    total = sum(per.values())
    out = [[name, f"{per[name]:.0f}", f"{100 * per[name] / total:.0f}%", why] for name, why in PARTS]
    out.append(["agents in one process", f"{total:.0f}", "100%", f"{b.events:,} attempts in batches of {b.batch:,}"])
    if worker_ms is not None:
        out.append(["journey worker, end to end", f"{1000 * worker_ms:.0f}", "",
                    "CPU per event in this run's burst: the agents above plus Faust, aiokafka and the Kafka protocol"])
    if loop_ms is not None:
        out.append(["plain loop, end to end", f"{1000 * loop_ms:.0f}", "",
                    "CPU per event in this run's burst: the pure step, an in-memory index, aiokafka"])
    return out


HEADS = ["part", "µs/event", "share", "what it is"]


def best(events: int = 10_000, batch: int = 2_000, rounds: int = 3) -> Breakdown:
    """The round with the least total time (the machine's noise only ever adds)."""
    return min((measure(events, batch) for _ in range(rounds)), key=lambda b: b.total_s)


def markdown(b: Breakdown, worker_ms: float | None, loop_ms: float | None) -> str:
    """The section `make bench` adds to docs/benchmarks.md."""
    from bench.report import markdown_table

    return "\n".join([
        "## Where the worker's CPU goes",
        "",
        f"`python -m bench.breakdown`: the customer and index agents' own code in one process over in-memory tables "
        f"(no Faust, no Kafka), {b.events:,} burst attempts in batches of {b.batch:,}, the fastest of three rounds; "
        "each part timed where it is called. The pure step is the plain loop's whole job; the other parts are "
        "what the worker does besides it. The end-to-end rows are this run's bursts.",
        "",
        markdown_table(HEADS, rows(b, worker_ms, loop_ms), text=(0, 3)),
        "",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000, help="attempts measured (after a warm-up of 2,000)")
    parser.add_argument("--batch", type=int, default=2_000, help="events per batch (default: the catch-up size)")
    parser.add_argument("--rounds", type=int, default=3, help="runs; the fastest is shown")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON (what `make bench` reads)")
    a = parser.parse_args(argv)
    b = best(a.events, a.batch, a.rounds)
    print(json.dumps(asdict(b)) if a.json else table(HEADS, rows(b)))
    return 0


def in_a_fresh_process(timeout_s: float = 300) -> Breakdown:
    """`best()` in a process of its own: the caller's heap (a bench run's results, its plot) is not the worker's."""
    done = subprocess.run([sys.executable, "-m", "bench.breakdown", "--json"], capture_output=True, text=True,
                          timeout=timeout_s, check=True)
    return Breakdown(**json.loads(done.stdout))


if __name__ == "__main__":
    raise SystemExit(main())
