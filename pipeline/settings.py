"""All configuration, in one typed, frozen object read from the environment with local defaults.

Nothing else in the project reads os.environ. Secrets are kept out of repr() so they never reach a log line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import SettingsError
from pipeline.policies import DEFAULT_DECLINES_PATH, DEFAULT_POLICY_PATH
from pipeline.resources import SCHEMAS_DIR

DEV_LINK_SECRET = b"dev-only-link-secret"  # noqa: S105 (public on purpose: a worker on a real cluster refuses it)
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def _int(e: Mapping[str, str], name: str, default: int) -> int:
    raw = e.get(name)
    try:
        return default if raw is None else int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, not {raw!r}") from None


def _float(e: Mapping[str, str], name: str, default: float) -> float:
    raw = e.get(name)
    try:
        return default if raw is None else float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None


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
    web_host: str = "127.0.0.1"  # JOURNEY_WEB_HOST: the name Faust puts in the URLs it generates
    web_bind: str = "127.0.0.1"  # JOURNEY_WEB_BIND: the interface the web server listens on (the image: 0.0.0.0)
    # JOURNEY_API_TOKEN: when set, every web request but /metrics needs `Authorization: Bearer <token>`
    api_token: str | None = field(default=None, repr=False)
    web_enabled: bool = True  # JOURNEY_WEB_ENABLED
    timer_interval_s: float = 1.0  # JOURNEY_TIMER_INTERVAL: how often due retries/reminders are published
    # JOURNEY_TIMER_CLOCK: "wall" fires due retries/reminders by the clock (production); "event" by the latest event
    # time the worker has seen, for replaying past history onto the topics (the demo)
    timer_clock: str = "wall"
    session_timeout_s: float = 6.0  # JOURNEY_SESSION_TIMEOUT: short, because Tansu joins take half of it
    log_level: str = "WARNING"  # JOURNEY_LOG_LEVEL
    tansu: bool = False  # JOURNEY_TANSU: the broker at bootstrap_servers is Tansu (enables its workarounds)
    link_secret: bytes = field(default=DEV_LINK_SECRET, repr=False)  # JOURNEY_LINK_SECRET
    replication_factor: int = 1  # JOURNEY_REPLICATION_FACTOR: every topic created, Faust's changelogs included
    security_protocol: str = "PLAINTEXT"  # KAFKA_SECURITY_PROTOCOL: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
    sasl_mechanism: str = "PLAIN"  # KAFKA_SASL_MECHANISM: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
    sasl_username: str | None = None  # KAFKA_SASL_USERNAME
    sasl_password: str | None = field(default=None, repr=False)  # KAFKA_SASL_PASSWORD
    ssl_cafile: Path | None = None  # KAFKA_SSL_CAFILE: CA bundle for SSL/SASL_SSL (default: the system's)
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

    def __post_init__(self) -> None:
        if self.security_protocol not in SECURITY_PROTOCOLS:
            raise SettingsError(f"KAFKA_SECURITY_PROTOCOL must be one of {', '.join(SECURITY_PROTOCOLS)}, "
                                f"not {self.security_protocol!r}")
        if self.sasl_mechanism not in SASL_MECHANISMS:
            raise SettingsError(f"KAFKA_SASL_MECHANISM must be one of {', '.join(SASL_MECHANISMS)}, "
                                f"not {self.sasl_mechanism!r}")
        if self.sasl and not (self.sasl_username and self.sasl_password):
            raise SettingsError(f"KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs KAFKA_SASL_USERNAME and "
                                "KAFKA_SASL_PASSWORD")
        if self.replication_factor < 1:
            raise SettingsError("JOURNEY_REPLICATION_FACTOR must be at least 1")

    @property
    def embedded(self) -> bool:
        return not self.bootstrap_servers

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    @property
    def dev_link_secret(self) -> bool:
        """The link secret is the public development value."""
        return self.link_secret == DEV_LINK_SECRET

    @property
    def production_broker(self) -> bool:
        """A broker that is neither embedded nor declared to be Tansu: development defaults are refused there."""
        return bool(self.bootstrap_servers) and not self.tansu

    def fetch_wait_for(self, tansu: bool) -> int:
        """The consumer fetch wait to use against this broker (see fetch_wait_ms)."""
        if self.fetch_wait_ms is not None:
            return self.fetch_wait_ms
        return 10 if tansu else 1500

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings in `env` (default: os.environ); SettingsError naming the variable of a malformed value."""
        e = os.environ if env is None else env
        d = cls()
        return cls(
            bootstrap_servers=e.get("KAFKA_BOOTSTRAP_SERVERS") or None,
            schema_registry_url=e.get("SCHEMA_REGISTRY_URL") or None,
            data_dir=Path(e.get("JOURNEY_DATA_DIR", str(d.data_dir))),
            app_id=e.get("JOURNEY_APP_ID", d.app_id),
            partitions=_int(e, "JOURNEY_PARTITIONS", d.partitions),
            store=e.get("JOURNEY_STORE", d.store),
            policy_path=Path(e.get("JOURNEY_POLICY", str(d.policy_path))),
            declines_path=Path(e.get("JOURNEY_DECLINES", str(d.declines_path))),
            schemas_dir=Path(e.get("JOURNEY_SCHEMAS", str(d.schemas_dir))),
            web_port=_int(e, "JOURNEY_WEB_PORT", d.web_port),
            web_host=e.get("JOURNEY_WEB_HOST", d.web_host),
            web_bind=e.get("JOURNEY_WEB_BIND", d.web_bind),
            api_token=e.get("JOURNEY_API_TOKEN") or None,
            web_enabled=_bool(e.get("JOURNEY_WEB_ENABLED", "true")),
            timer_clock=e.get("JOURNEY_TIMER_CLOCK", d.timer_clock),
            timer_interval_s=_float(e, "JOURNEY_TIMER_INTERVAL", d.timer_interval_s),
            session_timeout_s=_float(e, "JOURNEY_SESSION_TIMEOUT", d.session_timeout_s),
            log_level=e.get("JOURNEY_LOG_LEVEL", d.log_level).upper(),
            tansu=_bool(e.get("JOURNEY_TANSU", "false")),
            link_secret=e.get("JOURNEY_LINK_SECRET", "").encode() or d.link_secret,
            replication_factor=_int(e, "JOURNEY_REPLICATION_FACTOR", d.replication_factor),
            security_protocol=e.get("KAFKA_SECURITY_PROTOCOL", d.security_protocol).upper(),
            sasl_mechanism=e.get("KAFKA_SASL_MECHANISM", d.sasl_mechanism).upper(),
            sasl_username=e.get("KAFKA_SASL_USERNAME") or None,
            sasl_password=e.get("KAFKA_SASL_PASSWORD") or None,
            ssl_cafile=Path(e["KAFKA_SSL_CAFILE"]) if e.get("KAFKA_SSL_CAFILE") else None,
            batch_max=_int(e, "JOURNEY_BATCH_MAX", d.batch_max),
            batch_linger_s=_float(e, "JOURNEY_BATCH_LINGER_MS", d.batch_linger_s * 1000) / 1000,
            fetch_wait_ms=_int(e, "JOURNEY_FETCH_WAIT_MS", 0) if e.get("JOURNEY_FETCH_WAIT_MS") else None,
            producer_buffer=_int(e, "JOURNEY_PRODUCER_BUFFER", d.producer_buffer),
            producer_linger_ms=_int(e, "JOURNEY_PRODUCER_LINGER_MS", d.producer_linger_ms),
            max_value_bytes=_int(e, "JOURNEY_MAX_VALUE_BYTES", d.max_value_bytes),
            max_id_chars=_int(e, "JOURNEY_MAX_ID_CHARS", d.max_id_chars),
            align_max_hold_s=_float(e, "JOURNEY_ALIGN_MAX_HOLD_MS", d.align_max_hold_s * 1000) / 1000,
            align_max_held=_int(e, "JOURNEY_ALIGN_MAX_HELD", d.align_max_held),
        )
