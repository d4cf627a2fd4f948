"""All configuration, in one typed, frozen object read from the environment with local defaults.

Nothing else in the project reads os.environ. Secrets are kept out of repr() so they never reach a log line.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.policies import DEFAULT_DECLINES_PATH, DEFAULT_POLICY_PATH

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS_DIR = ROOT / "schemas"


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


# Every setting: its field, its environment variable, and what it means. from_env reads the variables named here and
# `journey --help` prints this table, so the names cannot drift apart (tests/unit/pipeline/test_settings.py checks
# that every field has a row).
ENV_VARS: dict[str, tuple[str, str]] = {
    "bootstrap_servers": ("KAFKA_BOOTSTRAP_SERVERS", "brokers; unset: the embedded Tansu"),
    "schema_registry_url": ("SCHEMA_REGISTRY_URL", "Confluent-compatible registry; unset: a local registry file"),
    "data_dir": ("JOURNEY_DATA_DIR", "tables (RocksDB), local registry, broker log"),
    "app_id": ("JOURNEY_APP_ID", "consumer group and changelog prefix"),
    "partitions": ("JOURNEY_PARTITIONS", "partitions of every topic, so streams and tables are co-partitioned"),
    "store": ("JOURNEY_STORE", "table store: rocksdb:// for workers, memory:// for tests"),
    "policy_path": ("JOURNEY_POLICY", "decision policy"),
    "declines_path": ("JOURNEY_DECLINES", "decline-code knowledge base"),
    "schemas_dir": ("JOURNEY_SCHEMAS", "the Avro schemas the codec registers and JSON input is checked against"),
    "web_port": ("JOURNEY_WEB_PORT", "port of /metrics for Prometheus"),
    "web_host": ("JOURNEY_WEB_HOST", "host of /metrics"),
    "web_enabled": ("JOURNEY_WEB_ENABLED", "serve /metrics at all"),
    "timer_interval_s": ("JOURNEY_TIMER_INTERVAL", "seconds between publishing due retries and reminders"),
    "timer_clock": ("JOURNEY_TIMER_CLOCK", "wall: timers follow the clock; event: the latest event time (replays)"),
    "session_timeout_s": ("JOURNEY_SESSION_TIMEOUT", "consumer session timeout (s); raise it on Apache Kafka"),
    "log_level": ("JOURNEY_LOG_LEVEL", "worker log level"),
    "tansu": ("JOURNEY_TANSU", "the broker at KAFKA_BOOTSTRAP_SERVERS is Tansu (enables its workarounds)"),
    "link_secret": ("JOURNEY_LINK_SECRET", "HMAC key of payment links (a dev-only value by default): set it"),
    "batch_max": ("JOURNEY_BATCH_MAX", "most messages an agent takes at once"),
    "batch_linger_s": ("JOURNEY_BATCH_LINGER_MS", "ms an agent waits to fill a batch"),
    "fetch_wait_ms": ("JOURNEY_FETCH_WAIT_MS", "consumer fetch long-poll (ms); unset: 10 on Tansu, else 1500"),
    "producer_buffer": ("JOURNEY_PRODUCER_BUFFER", "Faust's send-soon buffer (table changelogs)"),
    "producer_linger_ms": ("JOURNEY_PRODUCER_LINGER_MS", "producer linger (ms)"),
    "max_value_bytes": ("JOURNEY_MAX_VALUE_BYTES", "larger input values are dead-lettered undecoded"),
    "max_id_chars": ("JOURNEY_MAX_ID_CHARS", "longer identifiers are dead-lettered before any output"),
    "align_max_hold_s": ("JOURNEY_ALIGN_MAX_HOLD_MS", "ms an event waits for the other input topics while catching up"),
    "align_max_held": ("JOURNEY_ALIGN_MAX_HELD", "most events held per partition while catching up"),
}


@dataclass(frozen=True, slots=True)
class Settings:
    """Every knob of a worker, the CLI and the demo (ENV_VARS: the variable and meaning of each)."""

    bootstrap_servers: str | None = None  # None = start the embedded broker
    schema_registry_url: str | None = None  # None = local registry in data_dir
    data_dir: Path = Path(".data")
    app_id: str = "payment-journey"
    partitions: int = 4
    store: str = "rocksdb://"
    policy_path: Path = DEFAULT_POLICY_PATH
    declines_path: Path = DEFAULT_DECLINES_PATH
    schemas_dir: Path = SCHEMAS_DIR
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    web_enabled: bool = True
    timer_interval_s: float = 1.0
    # "wall" fires due retries/reminders by the clock (production); "event" by the latest event time the worker has
    # seen, for replaying past history onto the topics (the demo)
    timer_clock: str = "wall"
    session_timeout_s: float = 6.0  # short, because Tansu joins take half of it
    log_level: str = "WARNING"
    tansu: bool = False
    link_secret: bytes = field(default=b"dev-only-link-secret", repr=False)
    batch_max: int = 500
    batch_linger_s: float = 0.005
    # None: 10 ms on Tansu, which answers a waiting fetch only when the wait runs out (shared/TANSU.md), Faust's
    # 1500 ms elsewhere (Kafka answers as soon as data arrives)
    fetch_wait_ms: int | None = None
    producer_buffer: int = 20_000
    producer_linger_ms: int = 5
    max_value_bytes: int = 256 * 1024
    max_id_chars: int = 128
    # while catching up, events wait for the other input topics to be read past their time (agents/alignment.py) at
    # most this long, and at most this many per partition
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

        def get(name: str, parse: Callable[[str], Any]) -> Any:
            value = e.get(ENV_VARS[name][0], "")
            return parse(value) if value else getattr(d, name)

        return cls(
            bootstrap_servers=get("bootstrap_servers", str),
            schema_registry_url=get("schema_registry_url", str),
            data_dir=get("data_dir", Path),
            app_id=get("app_id", str),
            partitions=get("partitions", int),
            store=get("store", str),
            policy_path=get("policy_path", Path),
            declines_path=get("declines_path", Path),
            schemas_dir=get("schemas_dir", Path),
            web_port=get("web_port", int),
            web_host=get("web_host", str),
            web_enabled=get("web_enabled", _bool),
            timer_clock=get("timer_clock", str),
            timer_interval_s=get("timer_interval_s", float),
            session_timeout_s=get("session_timeout_s", float),
            log_level=get("log_level", str.upper),
            tansu=get("tansu", _bool),
            link_secret=get("link_secret", str.encode),
            batch_max=get("batch_max", int),
            batch_linger_s=get("batch_linger_s", _per_thousand),
            fetch_wait_ms=get("fetch_wait_ms", int),
            producer_buffer=get("producer_buffer", int),
            producer_linger_ms=get("producer_linger_ms", int),
            max_value_bytes=get("max_value_bytes", int),
            max_id_chars=get("max_id_chars", int),
            align_max_hold_s=get("align_max_hold_s", _per_thousand),
            align_max_held=get("align_max_held", int),
        )


def _per_thousand(value: str) -> float:
    """Milliseconds in the environment, seconds in the field."""
    return float(value) / 1000


def env_default(name: str) -> str:
    """A field's default as its environment variable would spell it (for `journey --help`)."""
    value = getattr(Settings(), name)
    if name in ("batch_linger_s", "align_max_hold_s"):
        return f"{value * 1000:g}"
    if name == "link_secret":
        return "a dev-only value"
    if value is None:
        return "unset"
    if isinstance(value, Path) and value.is_relative_to(ROOT):
        return f"{value.relative_to(ROOT)}/" if value.is_dir() else str(value.relative_to(ROOT))
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
