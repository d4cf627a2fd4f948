"""The systems under test, how each is started, which topics it uses, and where its state can be measured.

- passthrough: bench/passthrough.py, raw aiokafka decode + re-encode, no state (the I/O floor);
- loop: bench/loop.py, the worker's pure step in a plain aiokafka loop with in-memory state (the no-framework ceiling);
- worker: `journey worker` as it is in this tree (Faust, RocksDB tables), on the project's own topics;
- quix: bench/quix_app.py, the same step on Quix Streams with its RocksDB state (needs the `bench` extra).
Every system but the worker reads and writes its own copy of the project's topics, named PREFIX.<topic>, so each
run starts from empty topics on the one broker.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from pipeline.topics import INPUT_TOPICS, OUTPUT_TOPICS, topic_specs

PARTITIONS = 4  # the project's default (JOURNEY_PARTITIONS)
WORKER_APP_ID = "bench-journey"
# Quix reads retention.ms back through DescribeConfigs; Tansu returns only configs given at creation (quix_app.py).
QUIX_TOPIC_CONFIG = {"retention.ms": "-1", "retention.bytes": "-1"}


@dataclass(frozen=True)
class System:
    key: str
    label: str
    prefix: str | None  # None: the project's own topic names
    state: str | None  # "changelog", "stats" (written by the system on exit) or None

    def topic(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def topics(self) -> dict[str, int]:
        if self.prefix is None:
            return topic_specs(PARTITIONS)
        return {self.topic(t): PARTITIONS for t in (*INPUT_TOPICS, *OUTPUT_TOPICS)}

    def unavailable(self) -> str | None:
        """Why this system cannot run from this interpreter, if it cannot."""
        if self.key == "quix" and importlib.util.find_spec("quixstreams") is None:
            return (f"quixstreams is not installed in {sys.prefix}; `make bench` runs the bench from .venv-bench, "
                    "which has the `bench` extra")
        return None

    def command(self, bootstrap: str, data_dir: Path) -> list[str]:
        registry = str(data_dir / "schema-registry.json")
        common = ["--bootstrap", bootstrap, "--registry", registry, "--prefix", str(self.prefix),
                  "--group", f"bench-{self.key}"]
        if self.key == "worker":
            return [sys.executable, "-m", "pipeline.cli", "worker"]
        if self.key == "loop":
            return [sys.executable, "-m", "bench.loop", *common, "--stats", str(self.stats_path(data_dir))]
        if self.key == "quix":
            return [sys.executable, "-m", "bench.quix_app", *common, "--state-dir", str(data_dir / "quix-state")]
        return [sys.executable, "-m", "bench.passthrough", *common]

    def stats_path(self, data_dir: Path) -> Path:
        return data_dir / f"{self.key}-state-sizes.json"

    def changelog_prefix(self) -> str:
        """The customer-state changelog topic's name (Quix: its prefix; the rest names the concatenated inputs)."""
        return f"{WORKER_APP_ID}-customer-state-changelog" if self.key == "worker" else "changelog__bench-quix--"


SYSTEMS = {s.key: s for s in (
    System("passthrough", "raw aiokafka pass-through", "pt", None),
    System("loop", "plain aiokafka loop (pure step)", "loop", "stats"),
    System("worker", "journey worker", None, "changelog"),
    System("quix", "Quix Streams (pure step, RocksDB)", "quix", "changelog"),
)}


# the worker's knobs, e.g. `JOURNEY_EXPLORER_HISTORY=0 make bench-quick`
PASSED_THROUGH = ("JOURNEY_EXPLORER_HISTORY", "JOURNEY_BATCH_MAX", "JOURNEY_BATCH_LINGER_MS",
                  "JOURNEY_PRODUCER_LINGER_MS", "JOURNEY_FETCH_WAIT_MS", "JOURNEY_FETCH_IDLE_WAIT_MS",
                  "JOURNEY_BATCH_CATCHUP_MS", "JOURNEY_BATCH_CATCHUP_MAX", "JOURNEY_BATCH_BUSY_MS",
                  "JOURNEY_INDEX_LINGER_MS")


def worker_env(base: Mapping[str, str], bootstrap: str, data_dir: Path, web_port: int) -> dict[str, str]:
    env = {k: v for k, v in base.items()
           if not k.startswith(("KAFKA_", "JOURNEY_", "SCHEMA_REGISTRY")) or k in PASSED_THROUGH}
    return {**env, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "JOURNEY_TANSU": "1", "JOURNEY_DATA_DIR": str(data_dir),
            "JOURNEY_APP_ID": WORKER_APP_ID, "JOURNEY_WEB_PORT": str(web_port), "JOURNEY_STORE": "rocksdb://",
            "JOURNEY_SESSION_TIMEOUT": "3"}  # Tansu joins take half the session timeout


async def create_topics(bootstrap: str, systems: Iterable[System]) -> None:
    """Every topic of every system, explicitly (Tansu auto-creates unknown topics with 4 partitions)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = {t["topic"] for t in await admin.describe_topics(None)}
        new = [NewTopic(name, n, 1, topic_configs=QUIX_TOPIC_CONFIG if s.key == "quix" else {})
               for s in systems for name, n in s.topics().items() if name not in existing]
        if new:
            await admin.create_topics(new)
    finally:
        await admin.close()


async def topic_named(bootstrap: str, prefix: str) -> str | None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = sorted(t["topic"] for t in await admin.describe_topics(None))
    finally:
        await admin.close()
    return next((n for n in names if n.startswith(prefix)), None)


async def latest_values(bootstrap: str, topic: str, partitions: int = PARTITIONS,
                        timeout: float = 60.0) -> dict[bytes, bytes]:
    """The latest value per key of a topic (a changelog), read up to the fetch high watermark (not ListOffsets,
    which Tansu answers too small: TANSU.md bug 1). Tombstones remove the key."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                fetch_max_wait_ms=20)
    await consumer.start()
    latest: dict[bytes, bytes] = {}
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        deadline = time.monotonic() + timeout
        pending = set(tps)
        while pending and time.monotonic() < deadline:
            for msgs in (await consumer.getmany(timeout_ms=200)).values():
                for m in msgs:
                    if m.key is None:
                        continue
                    if m.value is None:
                        latest.pop(m.key, None)
                    else:
                        latest[m.key] = m.value
            for tp in list(pending):
                hw = consumer.highwater(tp)
                if hw is not None and await consumer.position(tp) >= hw:
                    pending.discard(tp)
    finally:
        await consumer.stop()
    return latest


def customer_of(key: bytes) -> str | None:
    """The customer a changelog key belongs to: Faust writes b'"cust-1"', Quix b'"cust-1"|"journey"' (JSON)."""
    try:
        found = json.loads(key.split(b"|", 1)[0])
    except ValueError:
        return None
    return found if isinstance(found, str) else None


def sizes_from_changelog(latest: Mapping[bytes, bytes], customers: set[str]) -> list[int]:
    """Value sizes of the given customers' latest changelog records."""
    return [len(v) for k, v in latest.items() if customer_of(k) in customers]


def sizes_from_stats(path: Path, customers: set[str]) -> list[int]:
    stats: dict[str, int] = json.loads(path.read_text())
    return [n for cid, n in stats.items() if cid in customers]
