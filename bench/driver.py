"""The load and the stopwatch: what the bench sends to a system under test and how it times the answers.

One producer sends PaymentAttempted (and, for the realistic burst, every event of a simulated population) to the
system's input topics; one consumer, assigned every partition of its decisions topic from offset 0 with a 5 ms fetch
wait, notes when each payment's decision first arrives. Latency runs from just before the send to that arrival,
matched by payment_id (no system forwards headers). CPU is read from /proc before and after each phase, for the
system's processes and for the broker apart.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from agents.rules.events import PaymentAttempted
from bench.procs import cpu_seconds
from pipeline.errors import DecodeError
from pipeline.wire.codec import Codec

FETCH_MAX_WAIT_MS = 5
Topic = Callable[[str], str]
"""The system's name for a project topic: "payments" -> "loop.payments"."""


class SystemFailed(Exception):
    """The system under test died or never answered."""


IDLE = "idle"  # the phase that sends nothing


@dataclass
class Phase:
    name: str
    sent: int  # input events sent
    expected: int  # decisions expected
    received: int = 0
    seconds: float = 0.0  # burst: first send to last decision; rate: first to last send
    cpu_system_s: float = 0.0
    cpu_broker_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)  # rate phases: sorted
    series: list[tuple[int, float, float, int]] = field(default_factory=list)  # (second, p50, p99, n)
    cpu_series: list[tuple[int, float, float]] = field(default_factory=list)  # (second, system %, broker % of a core)
    worker_p50_ms: float | None = None  # rate phases of the worker: its own histogram (bench/worker_view.py)
    worker_p99_ms: float | None = None

    @property
    def complete(self) -> bool:
        return self.received >= self.expected

    @property
    def per_second(self) -> float:
        return self.received / self.seconds if self.seconds > 0 else 0.0

    def cpu_share(self, broker: bool = False) -> float:
        """CPU used over the phase as a share of one core."""
        return (self.cpu_broker_s if broker else self.cpu_system_s) / self.seconds if self.seconds > 0 else 0.0

    def cpu_ms_per_event(self, broker: bool = False) -> float:
        return (self.cpu_broker_s if broker else self.cpu_system_s) * 1000 / self.sent if self.sent else 0.0

    def percentile(self, q: float) -> float | None:
        """Over every decision expected: None when the q-th one never arrived (it counts as infinitely late)."""
        rank = _rank(q, self.expected)
        return self.latencies_ms[rank] if rank < len(self.latencies_ms) else None


def _rank(q: float, n: int) -> int:
    """Index of the q-quantile in n sorted values (nearest rank: ceil(q * n) - 1, in integers)."""
    return max(0, -(-round(q * 1000) * n // 1000) - 1)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, _rank(q, len(sorted_values)))]


def attempt(tag: str, i: int, now_ms: int) -> PaymentAttempted:
    """A synthetic attempt; 500 customers, each on their usual device, card and address."""
    c = i % 500
    return PaymentAttempted(
        event_id=f"{tag}-{i}", customer_id=f"bench-{c:04d}", occurred_at=now_ms, payment_id=f"{tag}-pay-{i}",
        order_id=f"{tag}-ord-{i}", amount_minor=2_500 + i % 10_000, currency="EUR", method="card",
        initiator="customer", device_id=f"dev-{c}", ip="192.0.2.10", ip_country="NL", shipping_address_id=f"addr-{c}",
        card_fingerprint=f"card-{c}", card_issuer="bank-nl", card_country="NL", customer_country="NL",
        sca_applies=True, network="visa",
    )


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Driver:
    """Sends to and times one system. Use `async with`."""

    def __init__(self, bootstrap: str, codec: Codec, topic: Topic, partitions: int, system_pid: Callable[[], int],
                 broker_pid: int | None, alive: Callable[[], bool]) -> None:
        self.bootstrap, self.codec, self.topic, self.partitions = bootstrap, codec, topic, partitions
        self.system_pid, self.broker_pid, self.alive = system_pid, broker_pid, alive
        self.arrived: dict[str, int] = {}  # payment_id -> perf_counter_ns of its first decision
        self._expect: set[str] = set()
        self._done = asyncio.Event()
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                         fetch_max_wait_ms=FETCH_MAX_WAIT_MS)
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Driver:
        await self.producer.start()
        await self.consumer.start()
        tps = [TopicPartition(self.topic("decisions"), p) for p in range(self.partitions)]
        self.consumer.assign(tps)
        for tp in tps:  # a topic of this run only: read it all, and no end offset is needed (TANSU.md bug 1)
            self.consumer.seek(tp, 0)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self.producer.stop()
        await self.consumer.stop()

    async def _read(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=100)
            now = time.perf_counter_ns()
            for msgs in batch.values():
                for m in msgs:
                    try:
                        pid = self.codec.decode(m.value or b"").payment_id
                    except (DecodeError, AttributeError):
                        continue
                    if pid not in self.arrived:
                        self.arrived[pid] = now
                        self._expect.discard(pid)
            if not self._expect:
                self._done.set()

    def _await(self, ids: Iterable[str]) -> None:
        self._expect = {i for i in ids if i not in self.arrived}
        if self._expect:
            self._done.clear()
        else:
            self._done.set()

    async def _wait(self, ids: Sequence[str], deadline: float, progress: Callable[[int], None]) -> None:
        while time.monotonic() < deadline:
            progress(len(ids) - len(self._expect))
            if not self.alive():
                raise SystemFailed("the system's process exited")
            try:
                await asyncio.wait_for(self._done.wait(), timeout=0.2)
                break
            except TimeoutError:
                continue
        progress(len(ids) - len(self._expect))

    def _cpu(self) -> tuple[float, float]:
        return cpu_seconds(self.system_pid()), cpu_seconds(self.broker_pid, tree=False)

    async def _sample_cpu(self, into: list[tuple[int, float, float]]) -> None:
        """Once a second until cancelled: the system's and the broker's CPU over that second, in % of a core."""
        (system0, broker0), t0 = self._cpu(), time.perf_counter()
        start = t0
        while True:
            await asyncio.sleep(max(0.0, start + len(into) + 1 - time.perf_counter()))
            (system1, broker1), t1 = self._cpu(), time.perf_counter()
            into.append((len(into), 100 * (system1 - system0) / (t1 - t0), 100 * (broker1 - broker0) / (t1 - t0)))
            (system0, broker0), t0 = (system1, broker1), t1

    async def ready(self, timeout: float) -> float:
        """Probe until the system answers; seconds it took."""
        start = time.monotonic()
        i = 0
        while time.monotonic() - start < timeout:
            if not self.alive():
                raise SystemFailed("the system's process exited while starting")
            a = attempt("probe", i, wall_ms())
            await self.producer.send(self.topic("payments"), self.codec.encode(a), key=a.customer_id.encode())
            i += 1
            for _ in range(10):
                await asyncio.sleep(0.1)
                if any(f"probe-pay-{j}" in self.arrived for j in range(i)):
                    return time.monotonic() - start
        raise SystemFailed(f"no decision for a probe within {timeout:.0f} s")

    async def settle(self, busy_share: float = 0.4, timeout: float = 30.0) -> float:
        """Wait until the system has worked off what the previous phase left (a worker still applies the tail of a
        backlog its decisions did not wait for): its CPU use over a second falls below `busy_share` of a core.
        Returns the seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            before = self._cpu()[0]
            await asyncio.sleep(1.0)
            if self._cpu()[0] - before < busy_share:
                break
        return time.monotonic() - started

    async def idle(self, seconds: float) -> Phase:
        """Send nothing for `seconds`: the CPU a system and the broker spend when no event arrives (polling,
        timers, progress marks), which every event at a moderate rate also carries."""
        phase = Phase(IDLE, sent=0, expected=0)
        cpu0, t0 = self._cpu(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu1 = self._cpu()
        phase.seconds = time.perf_counter() - t0
        phase.cpu_system_s, phase.cpu_broker_s = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
        return phase

    async def burst(self, name: str, events: Sequence[Any], timeout: float,
                    progress: Callable[[int], None]) -> Phase:
        """Send every event at once; time until the decision for the last of their attempts arrives."""
        wire = [(self.topic(e.TOPIC), e.customer_id.encode(), self.codec.encode(e)) for e in events]
        ids = [e.payment_id for e in events if isinstance(e, PaymentAttempted)]
        phase = Phase(name, sent=len(events), expected=len(ids))
        self._await(ids)
        cpu0 = self._cpu()
        t0 = time.perf_counter_ns()
        for topic, key, value in wire:
            await self.producer.send(topic, value, key=key)
        await self.producer.flush()
        await self._wait(ids, time.monotonic() + timeout, progress)
        cpu1 = self._cpu()
        got = [self.arrived[i] for i in ids if i in self.arrived]
        phase.received = len(got)
        phase.seconds = (max(got) - t0) / 1e9 if got else 0.0
        phase.cpu_system_s, phase.cpu_broker_s = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
        return phase

    async def rate(self, rate: int, seconds: float, drain: float, progress: Callable[[int], None]) -> Phase:
        """Offer attempts at `rate` per second for `seconds`; latency of each from its send to its decision."""
        tag = f"rate{rate}"
        total = int(rate * seconds)
        ids = [f"{tag}-pay-{i}" for i in range(total)]
        phase = Phase(f"{rate}/s", sent=total, expected=total)
        sent_at: dict[str, int] = {}
        self._await(ids)
        cpu0 = self._cpu()
        start = time.perf_counter()
        sampler = asyncio.create_task(self._sample_cpu(phase.cpu_series))
        for i in range(total):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif i % 50 == 0:
                await asyncio.sleep(0)  # behind schedule: still let the reader run
            a = attempt(tag, i, wall_ms())
            value = self.codec.encode(a)
            sent_at[a.payment_id] = time.perf_counter_ns()
            await self.producer.send(self.topic("payments"), value, key=a.customer_id.encode())
            if i % 100 == 0:
                progress(total - len(self._expect))
        phase.seconds = time.perf_counter() - start
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
        await self._wait(ids, time.monotonic() + drain, progress)
        cpu1 = self._cpu()
        phase.cpu_system_s, phase.cpu_broker_s = cpu1[0] - cpu0[0], cpu1[1] - cpu0[1]
        t0 = int(start * 1e9)
        seconds_of: dict[int, list[float]] = {}
        for pid, sent in sent_at.items():
            if pid in self.arrived:
                ms = (self.arrived[pid] - sent) / 1e6
                phase.latencies_ms.append(ms)
                seconds_of.setdefault((sent - t0) // 1_000_000_000, []).append(ms)
        phase.latencies_ms.sort()
        phase.received = len(phase.latencies_ms)
        for second, values in sorted(seconds_of.items()):
            values.sort()
            phase.series.append((int(second), percentile(values, 0.5), percentile(values, 0.99), len(values)))
        return phase
