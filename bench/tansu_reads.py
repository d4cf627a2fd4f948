"""What the embedded broker spends to serve reads, against how many record batches the partitions already hold.

Measured because the bench's rate phases show it: Tansu's CPU climbs through a 12 s phase at a steady rate, and the
latencies with it. One embedded Tansu (in-memory storage), a topic of 4 partitions, then two runs side by side:

- small batches: a producer sends RATE records a second one at a time (linger 1 ms, as the bench's offered load does,
  so each record is a batch of its own) while a consumer with a 5 ms fetch wait (the measuring consumer's) reads them;
  the partitions grow by RATE batches a second;
- the same after a prefill of as many records in batches of 500: twice the records, hardly more batches.

Each row: the records stored per partition so far and the broker's CPU over that stretch, as a share of a core.
The second run's partitions hold, besides the same one-record batches, as many records again in batches of 500: the
broker's CPU follows the batches, not the records.

    python -m bench.tansu_reads [--rate 500] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from rich.console import Console
from rich.progress import Progress

from bench.procs import cpu_seconds
from bench.report import rich_table
from pipeline.kafka.admin import ensure_topics
from pipeline.kafka.embedded import EmbeddedBroker

PARTITIONS = 4
VALUE = b"v" * 300  # about an encoded attempt


async def _prefill(producer: AIOKafkaProducer, topic: str, records: int) -> None:
    """`records` records in batches of 500 per partition, each built and sent as one batch."""
    sent: list[asyncio.Future[Any]] = []
    for start in range(0, records, 500 * PARTITIONS):
        for partition in range(PARTITIONS):
            batch = producer.create_batch()
            for _ in range(start + partition, min(records, start + 500 * PARTITIONS), PARTITIONS):
                if batch.append(key=None, value=VALUE, timestamp=None) is None:
                    raise RuntimeError("a prefill batch is full: raise the producer's max_batch_size")
            batch.close()
            sent.append(await producer.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*sent)


async def run(bootstrap: str, broker_pid: int, topic: str, rate: int, seconds: int, prefill: int,
              every: int, tick: Callable[[], None] = lambda: None) -> list[tuple[int, int, float]]:
    """(second, records stored per partition, broker CPU % of a core over the last `every` seconds); `tick` after
    each second of sending."""
    await ensure_topics(bootstrap, {topic: PARTITIONS})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1, max_batch_size=1 << 20)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, fetch_max_wait_ms=5)
    await producer.start()
    await consumer.start()
    rows: list[tuple[int, int, float]] = []
    try:
        await _prefill(producer, topic, prefill)
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, prefill // PARTITIONS)  # at the end of the prefill: only the new records are read
        read = 0

        async def reader() -> None:
            nonlocal read
            while True:
                got = await consumer.getmany(timeout_ms=100)
                read += sum(len(v) for v in got.values())

        task = asyncio.create_task(reader())
        start, sent, cpu0 = time.perf_counter(), 0, cpu_seconds(broker_pid, tree=False)
        t0 = start
        for second in range(1, seconds + 1):
            while sent < second * rate:
                delay = start + sent / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await producer.send(topic, VALUE, partition=sent % PARTITIONS)
                sent += 1
            tick()
            if second % every == 0:
                cpu1, t1 = cpu_seconds(broker_pid, tree=False), time.perf_counter()
                rows.append((second, (prefill + sent) // PARTITIONS, 100 * (cpu1 - cpu0) / (t1 - t0)))
                cpu0, t0 = cpu1, t1
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if read < sent * 0.9:
            raise RuntimeError(f"the consumer read {read} of {sent} records: the broker did not keep up")
    finally:
        await producer.stop()
        await consumer.stop()
    return rows


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.tansu_reads", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=int, default=500, help="records a second, one per batch (default 500)")
    p.add_argument("--seconds", type=int, default=30, help="length of each run (default 30)")
    p.add_argument("--every", type=int, default=5, help="seconds per row (default 5)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    a = arguments(argv)
    every = max(1, min(a.every, a.seconds))
    with tempfile.TemporaryDirectory(prefix="journey-tansu-reads-") as tmp, EmbeddedBroker(Path(tmp)) as broker, \
            Progress(console=Console(stderr=True)) as progress:
        assert broker.pid is not None
        runs = []
        for topic, prefill in (("small-batches", 0), ("prefilled", a.rate * a.seconds)):
            task = progress.add_task(f"{topic}: {a.rate}/s for {a.seconds} s", total=a.seconds)
            runs.append(asyncio.run(run(broker.bootstrap, broker.pid, topic, a.rate, a.seconds, prefill, every,
                                        partial(progress.advance, task))))
        small, big = runs
    rows = [[str(s), f"{n:,}", f"{c:.0f}", f"{n2:,}", f"{c2:.0f}"] for (s, n, c), (_, n2, c2) in zip(small, big,
                                                                                                      strict=True)]
    heads = ["second", "records per partition (1 per batch)", "broker CPU %",
             "prefilled: records per partition (the prefill's 500 per batch)", "broker CPU %, prefilled"]
    Console().print(rich_table(f"Tansu serving {a.rate} records/s to a consumer with a 5 ms fetch wait", heads, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
