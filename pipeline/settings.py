"""All configuration, in one typed, frozen object read from the environment with local defaults.

Nothing else in the project reads os.environ. Secrets are kept out of repr() so they never reach a log line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.policies import DEFAULT_DECLINES_PATH, DEFAULT_POLICY_PATH
from pipeline.resources import SCHEMAS_DIR


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class Settings:
    """Every knob of a worker, the CLI and the demo."""

    bootstrap_servers: str | None = None  # KAFKA_BOOTSTRAP_SERVERS; None = start the embedded broker
    schema_registry_url: str | None = None  # SCHEMA_REGISTRY_URL; None = local registry in data_dir
    data_dir: Path = Path(".data")  # JOURNEY_DATA_DIR: tables, local registry, broker log
    app_id: str = "payment-journey"  # JOURNEY_APP_ID: consumer group and changelog prefix
    partitions: int = 4  # JOURNEY_PARTITIONS: every topic, so streams and tables are co-partitioned
    store: str = "rocksdb://"  # JOURNEY_STORE: rocksdb:// for workers, memory:// for tests
    policy_path: Path = DEFAULT_POLICY_PATH  # JOURNEY_POLICY
    declines_path: Path = DEFAULT_DECLINES_PATH  # JOURNEY_DECLINES: the decline-code knowledge base
    schemas_dir: Path = SCHEMAS_DIR  # JOURNEY_SCHEMAS
    web_port: int = 6066  # JOURNEY_WEB_PORT: Faust web server with /metrics
    web_host: str = "127.0.0.1"  # JOURNEY_WEB_HOST
    web_enabled: bool = True  # JOURNEY_WEB_ENABLED
    timer_interval_s: float = 1.0  # JOURNEY_TIMER_INTERVAL: how often due retries/reminders are published
    # JOURNEY_TIMER_CLOCK: "wall" fires due retries/reminders by the clock (production); "event" by the latest event
    # time the worker has seen, for replaying past history onto the topics (the demo)
    timer_clock: str = "wall"
    session_timeout_s: float = 6.0  # JOURNEY_SESSION_TIMEOUT: short, because Tansu joins take half of it
    log_level: str = "WARNING"  # JOURNEY_LOG_LEVEL
    tansu: bool = False  # JOURNEY_TANSU: the broker at bootstrap_servers is Tansu (enables its workarounds)
    link_secret: bytes = field(default=b"dev-only-link-secret", repr=False)  # JOURNEY_LINK_SECRET
    batch_max: int = 500  # JOURNEY_BATCH_MAX: most messages an agent takes at once
    batch_linger_s: float = 0.005  # JOURNEY_BATCH_LINGER_MS: how long an agent waits to fill a batch
    # JOURNEY_FETCH_WAIT_MS: the consumers' fetch long-poll. None: 10 ms on Tansu, which answers a waiting fetch only
    # when the wait runs out (shared/TANSU.md), Faust's 1500 ms elsewhere (Kafka answers as soon as data arrives)
    fetch_wait_ms: int | None = None
    producer_buffer: int = 20_000  # JOURNEY_PRODUCER_BUFFER: Faust's send-soon buffer (changelog writes of a batch)
    producer_linger_ms: int = 5  # JOURNEY_PRODUCER_LINGER_MS
    max_value_bytes: int = 256 * 1024  # JOURNEY_MAX_VALUE_BYTES: larger input values are dead-lettered undecoded
    max_id_chars: int = 128  # JOURNEY_MAX_ID_CHARS: longer identifiers are dead-lettered before any output
    # JOURNEY_ALIGN_MAX_HOLD_MS / JOURNEY_ALIGN_MAX_HELD: while catching up, events wait for the other input topics
    # to be read past their time (agents/alignment.py) at most this long, and at most this many per partition
    align_max_hold_s: float = 5.0
    align_max_held: int = 20_000

    @property
    def embedded(self) -> bool:
        return not self.bootstrap_servers

    def fetch_wait_for(self, tansu: bool) -> int:
        """The consumer fetch wait to use against this broker (see fetch_wait_ms)."""
        if self.fetch_wait_ms is not None:
            return self.fetch_wait_ms
        return 10 if tansu else 1500

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        d = cls()
        return cls(
            bootstrap_servers=e.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            schema_registry_url=e.get("SCHEMA_REGISTRY_URL") or None,
            data_dir=Path(e.get("JOURNEY_DATA_DIR", str(d.data_dir))),
            app_id=e.get("JOURNEY_APP_ID", d.app_id),
            partitions=int(e.get("JOURNEY_PARTITIONS", d.partitions)),
            store=e.get("JOURNEY_STORE", d.store),
            policy_path=Path(e.get("JOURNEY_POLICY", str(d.policy_path))),
            declines_path=Path(e.get("JOURNEY_DECLINES", str(d.declines_path))),
            schemas_dir=Path(e.get("JOURNEY_SCHEMAS", str(d.schemas_dir))),
            web_port=int(e.get("JOURNEY_WEB_PORT", d.web_port)),
            web_host=e.get("JOURNEY_WEB_HOST", d.web_host),
            web_enabled=_bool(e.get("JOURNEY_WEB_ENABLED", "true")),
            timer_clock=e.get("JOURNEY_TIMER_CLOCK", d.timer_clock),
            timer_interval_s=float(e.get("JOURNEY_TIMER_INTERVAL", d.timer_interval_s)),
            session_timeout_s=float(e.get("JOURNEY_SESSION_TIMEOUT", d.session_timeout_s)),
            log_level=e.get("JOURNEY_LOG_LEVEL", d.log_level).upper(),
            tansu=_bool(e.get("JOURNEY_TANSU", "false")),
            link_secret=e.get("JOURNEY_LINK_SECRET", "").encode() or d.link_secret,
            batch_max=int(e.get("JOURNEY_BATCH_MAX", d.batch_max)),
            batch_linger_s=float(e.get("JOURNEY_BATCH_LINGER_MS", d.batch_linger_s * 1000)) / 1000,
            fetch_wait_ms=int(e["JOURNEY_FETCH_WAIT_MS"]) if e.get("JOURNEY_FETCH_WAIT_MS") else None,
            producer_buffer=int(e.get("JOURNEY_PRODUCER_BUFFER", d.producer_buffer)),
            producer_linger_ms=int(e.get("JOURNEY_PRODUCER_LINGER_MS", d.producer_linger_ms)),
            max_value_bytes=int(e.get("JOURNEY_MAX_VALUE_BYTES", d.max_value_bytes)),
            max_id_chars=int(e.get("JOURNEY_MAX_ID_CHARS", d.max_id_chars)),
            align_max_hold_s=float(e.get("JOURNEY_ALIGN_MAX_HOLD_MS", d.align_max_hold_s * 1000)) / 1000,
            align_max_held=int(e.get("JOURNEY_ALIGN_MAX_HELD", d.align_max_held)),
        )
