"""All configuration, in one typed, frozen object read from the environment with local defaults.

Nothing else in the project reads os.environ. Secrets are kept out of repr() so they never reach a log line.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.rules.pseudonyms import DEV_KEY as DEV_PSEUDONYM_SECRET
from pipeline.errors import SettingsError
from pipeline.policies import DEFAULT_DECLINES_PATH, DEFAULT_POLICY_PATH
from pipeline.resources import SCHEMAS_DIR

DEV_LINK_SECRET = b"dev-only-link-secret"  # noqa: S105 (public on purpose: a worker on a real cluster refuses it)
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


# Every setting: its field, its environment variable, and what it means. from_env reads the variables named here and
# `journey --help` prints this table, so the names cannot drift apart (tests/unit/pipeline/test_settings.py checks
# that every field has a row).
ENV_VARS: dict[str, tuple[str, str]] = {
    "bootstrap_servers": ("KAFKA_BOOTSTRAP_SERVERS", "brokers; unset: the embedded Tansu"),
    "schema_registry_url": ("SCHEMA_REGISTRY_URL", "Confluent-compatible registry; unset: a local registry file"),
    "register_schemas": ("JOURNEY_REGISTER_SCHEMAS", "register our schemas in the registry; 0: look their ids up "
                         "(a registry with auto-registration off)"),
    "data_dir": ("JOURNEY_DATA_DIR", "tables (RocksDB), local registry, broker log"),
    "app_id": ("JOURNEY_APP_ID", "consumer group and changelog prefix"),
    "partitions": ("JOURNEY_PARTITIONS", "partitions of every topic, so streams and tables are co-partitioned"),
    "store": ("JOURNEY_STORE", "table store: rocksdb:// for workers, memory:// for tests"),
    "state_wal": ("JOURNEY_STATE_WAL", "RocksDB's write-ahead log for the tables; 0: off, as Kafka Streams (the "
                  "changelogs make them durable)"),
    "policy_path": ("JOURNEY_POLICY", "decision policy"),
    "declines_path": ("JOURNEY_DECLINES", "decline-code knowledge base"),
    "schemas_dir": ("JOURNEY_SCHEMAS", "the Avro schemas the codec registers and JSON input is checked against"),
    "web_port": ("JOURNEY_WEB_PORT", "port of /metrics for Prometheus"),
    "web_host": ("JOURNEY_WEB_HOST", "host name Faust puts in the URLs it generates"),
    "web_bind": ("JOURNEY_WEB_BIND", "interface the web server listens on (the image sets 0.0.0.0)"),
    "api_token": ("JOURNEY_API_TOKEN", "when set, every web request but /metrics needs this bearer token; "
                  "required when JOURNEY_WEB_BIND is not a loopback address"),
    "web_enabled": ("JOURNEY_WEB_ENABLED", "serve /metrics at all"),
    "timer_interval_s": ("JOURNEY_TIMER_INTERVAL", "seconds between publishing due retries and reminders"),
    "timer_clock": ("JOURNEY_TIMER_CLOCK", "wall: timers follow the clock; event: the latest event time (replays)"),
    "session_timeout_s": ("JOURNEY_SESSION_TIMEOUT", "consumer session timeout (s); raise it on Apache Kafka"),
    "log_level": ("JOURNEY_LOG_LEVEL", "worker log level"),
    "tansu": ("JOURNEY_TANSU", "the broker at KAFKA_BOOTSTRAP_SERVERS is Tansu (enables its workarounds)"),
    "link_secret": ("JOURNEY_LINK_SECRET", "HMAC key of payment links; the dev value is refused on a real cluster"),
    "pseudonym_secret": ("JOURNEY_PSEUDONYM_SECRET", "HMAC key of the identifiers' pseudonyms (state, index, links); "
                         "the dev value is refused on a real cluster"),
    "replication_factor": ("JOURNEY_REPLICATION_FACTOR", "replicas of every topic created (changelogs too)"),
    "security_protocol": ("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
    "sasl_mechanism": ("KAFKA_SASL_MECHANISM", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"),
    "sasl_username": ("KAFKA_SASL_USERNAME", "SASL user (required with SASL_*)"),
    "sasl_password": ("KAFKA_SASL_PASSWORD", "SASL password (a secret; required with SASL_*)"),
    "ssl_cafile": ("KAFKA_SSL_CAFILE", "CA file to verify the brokers' certificates; unset: the system's"),
    "batch_max": ("JOURNEY_BATCH_MAX", "most messages an agent takes at once"),
    "batch_linger_s": ("JOURNEY_BATCH_LINGER_MS", "ms an agent waits to fill a batch"),
    "batch_catchup_s": ("JOURNEY_BATCH_CATCHUP_MS", "ms the customer agent gathers a batch while it has a backlog"),
    "batch_catchup_max": ("JOURNEY_BATCH_CATCHUP_MAX", "most events the customer agent gathers into one batch while "
                          "it has a backlog"),
    "batch_busy_s": ("JOURNEY_BATCH_BUSY_MS", "ms the customer agent gathers a batch while the worker's CPU is busy"),
    "index_linger_s": ("JOURNEY_INDEX_LINGER_MS", "ms the identity index agent waits to fill a batch"),
    "fetch_wait_ms": ("JOURNEY_FETCH_WAIT_MS", "consumer fetch long-poll (ms); unset: 10 on Tansu, else 1500"),
    "fetch_idle_wait_ms": ("JOURNEY_FETCH_IDLE_WAIT_MS", "consumer fetch long-poll (ms) once no record has arrived "
                           "for 250 ms; unset: 100 on Tansu, else the fetch wait"),
    "producer_buffer": ("JOURNEY_PRODUCER_BUFFER", "Faust's send-soon buffer (table changelogs)"),
    "producer_linger_ms": ("JOURNEY_PRODUCER_LINGER_MS", "producer linger (ms)"),
    "max_value_bytes": ("JOURNEY_MAX_VALUE_BYTES", "larger input values are dead-lettered undecoded"),
    "max_id_chars": ("JOURNEY_MAX_ID_CHARS", "longer identifiers are dead-lettered before any output"),
    "align_max_hold_s": ("JOURNEY_ALIGN_MAX_HOLD_MS", "ms an event waits, while catching up, for an input topic "
                         "that brings nothing (a stalled topic; one still bringing its backlog is waited for)"),
    "align_max_held": ("JOURNEY_ALIGN_MAX_HELD", "most events held per partition while catching up"),
    "explorer_history": ("JOURNEY_EXPLORER_HISTORY", "records (events and outputs) kept per customer for the "
                         "explorer's timeline; 0: none"),
    "align_idle_s": ("JOURNEY_ALIGN_IDLE_MS", "ms a held event waits for a partition whose progress does not move "
                     "(idle, or its worker gone) before that partition counts as done"),
    "align_lateness_ms": ("JOURNEY_ALIGN_LATENESS_MS", "allowed lateness (ms): an event read within this long of its "
                          "event time is live and waits for no caught-up partition; an older one is backlog and waits "
                          "for every partition's progress to pass its time"),
}


@dataclass(frozen=True, slots=True)
class Settings:
    """Every knob of a worker, the CLI and the demo (ENV_VARS: the variable and meaning of each)."""

    bootstrap_servers: str | None = None  # KAFKA_BOOTSTRAP_SERVERS; None = start the embedded broker
    schema_registry_url: str | None = None  # SCHEMA_REGISTRY_URL; None = local registry in data_dir
    # JOURNEY_REGISTER_SCHEMAS: register our schemas (POST /subjects/{s}/versions); off, look their ids up (POST
    # /subjects/{s}), for a registry that refuses registrations: every schema must be registered beforehand
    register_schemas: bool = True
    data_dir: Path = Path(".data")  # JOURNEY_DATA_DIR: tables, local registry, broker log
    app_id: str = "payment-journey"  # JOURNEY_APP_ID: consumer group and changelog prefix
    partitions: int = 4  # JOURNEY_PARTITIONS: every topic, so streams and tables are co-partitioned
    store: str = "rocksdb://"  # JOURNEY_STORE: rocksdb:// for workers, memory:// for tests
    # JOURNEY_STATE_WAL: RocksDB's write-ahead log for the tables; off, a killed worker reads its changelogs back from
    # the last flush instead (pipeline/worker/unlogged_tables.py)
    state_wal: bool = False
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
    # JOURNEY_PSEUDONYM_SECRET: the key of the identifiers' pseudonyms (agents/rules/pseudonyms.py); changing it
    # re-keys what the worker stores (README, "Privacy and erasure")
    pseudonym_secret: bytes = field(default=DEV_PSEUDONYM_SECRET, repr=False)
    replication_factor: int = 1  # JOURNEY_REPLICATION_FACTOR: every topic created, Faust's changelogs included
    security_protocol: str = "PLAINTEXT"  # KAFKA_SECURITY_PROTOCOL: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
    sasl_mechanism: str = "PLAIN"  # KAFKA_SASL_MECHANISM: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
    sasl_username: str | None = None  # KAFKA_SASL_USERNAME
    sasl_password: str | None = field(default=None, repr=False)  # KAFKA_SASL_PASSWORD
    ssl_cafile: Path | None = None  # KAFKA_SSL_CAFILE: CA bundle for SSL/SASL_SSL (default: the system's)
    batch_max: int = 500  # JOURNEY_BATCH_MAX: most messages an agent takes at once
    batch_linger_s: float = 0.005  # JOURNEY_BATCH_LINGER_MS: how long an agent waits to fill a batch
    # JOURNEY_BATCH_CATCHUP_MS / JOURNEY_BATCH_CATCHUP_MAX: while the customer agent is behind (its input partitions
    # hold at least JOURNEY_BATCH_MAX events it has not read), it gathers takes for up to this long, until it holds
    # this many events, before processing them: fewer, larger batches while catching up (a customer's state is written
    # once per batch however many of their events it holds); live traffic is taken as it comes
    # (JOURNEY_BATCH_LINGER_MS)
    batch_catchup_s: float = 0.3
    batch_catchup_max: int = 2000
    # JOURNEY_BATCH_BUSY_MS: while the worker uses most of a core (agents/batching.py BUSY_LOAD), the customer agent
    # gathers takes for up to this long: fewer batches, each with its fixed costs, so a busy worker keeps up instead
    # of queueing; an idle one takes live traffic as it comes. 0: off
    batch_busy_s: float = 0.015
    # JOURNEY_INDEX_LINGER_MS: how long the identity index agent waits to fill a batch. Nothing waits for its writes
    # on the way to a decision (the customer agent merges the links it sent in at once, agents/progress.py), and a hot
    # node (one IP behind many customers) is rewritten once per batch: longer batches, fewer rewrites
    index_linger_s: float = 0.02
    # JOURNEY_FETCH_WAIT_MS: the consumers' fetch long-poll. None: 10 ms on Tansu, which answers a waiting fetch only
    # when the wait runs out (shared/TANSU.md), Faust's 1500 ms elsewhere (Kafka answers as soon as data arrives)
    fetch_wait_ms: int | None = None
    # JOURNEY_FETCH_IDLE_WAIT_MS: the long-poll once no record has arrived for 250 ms (fetch_wait.QUIET_S). None: 100
    # ms on Tansu, where polling every 10 ms kept a resting worker and its broker at 37% of a core (26% with it); the
    # first record after such a rest waits up to half of it more. Elsewhere the fetch wait (Kafka answers at once).
    fetch_idle_wait_ms: int | None = None
    producer_buffer: int = 20_000  # JOURNEY_PRODUCER_BUFFER: Faust's send-soon buffer (changelog writes of a batch)
    producer_linger_ms: int = 5  # JOURNEY_PRODUCER_LINGER_MS
    max_value_bytes: int = 256 * 1024  # JOURNEY_MAX_VALUE_BYTES: larger input values are dead-lettered undecoded
    max_id_chars: int = 128  # JOURNEY_MAX_ID_CHARS: longer identifiers are dead-lettered before any output
    # JOURNEY_ALIGN_MAX_HOLD_MS / JOURNEY_ALIGN_MAX_HELD: while catching up, events wait for the other input topics
    # to be read past their time (agents/alignment.py) at most this long, and at most this many per partition
    align_max_hold_s: float = 5.0
    align_max_held: int = 20_000
    # JOURNEY_EXPLORER_HISTORY: the last N records (inputs redacted, outputs) the customer agent keeps per customer
    # for the explorer's timeline and last decisions (agents/history.py); 0 keeps none
    explorer_history: int = 40
    # JOURNEY_ALIGN_IDLE_MS / JOURNEY_ALIGN_LATENESS_MS: held events also wait for the identity links of earlier events
    # on partitions other workers own, through their progress marks (agents/progress.py): a partition whose mark has
    # not moved for align_idle_s counts as done; a caught-up one counts as done for an event read within
    # align_lateness_ms of its event time (live traffic), not for an older one (a backlog)
    align_idle_s: float = 2.0
    align_lateness_ms: int = 60_000

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
        if self.explorer_history < 0:
            raise SettingsError("JOURNEY_EXPLORER_HISTORY must be 0 (off) or more")

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
    def dev_pseudonym_secret(self) -> bool:
        """The pseudonym secret is the public development value."""
        return self.pseudonym_secret == DEV_PSEUDONYM_SECRET

    @property
    def production_broker(self) -> bool:
        """A broker that is neither embedded nor declared to be Tansu: development defaults are refused there."""
        return bool(self.bootstrap_servers) and not self.tansu

    @property
    def web_loopback_only(self) -> bool:
        """The web server listens on a loopback address only (127.0.0.0/8, ::1, localhost)."""
        bind = self.web_bind.strip("[]")
        if bind == "localhost":
            return True
        try:
            return ipaddress.ip_address(bind).is_loopback
        except ValueError:  # a host name: it may resolve to anything
            return False

    def fetch_wait_for(self, tansu: bool) -> int:
        """The consumer fetch wait to use against this broker (see fetch_wait_ms)."""
        if self.fetch_wait_ms is not None:
            return self.fetch_wait_ms
        return 10 if tansu else 1500

    def fetch_idle_wait_for(self, tansu: bool) -> int:
        """The fetch wait once no fetch has returned a record for 250 ms (see fetch_idle_wait_ms), never below the
        busy one."""
        busy = self.fetch_wait_for(tansu)
        if self.fetch_idle_wait_ms is not None:
            return max(busy, self.fetch_idle_wait_ms)
        return max(busy, 100) if tansu else busy

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings in `env` (default: os.environ); SettingsError naming the variable of a malformed value.

        An empty variable counts as unset."""
        e = os.environ if env is None else env
        d = cls()

        def get(name: str, parse: Callable[[str], Any]) -> Any:
            var = ENV_VARS[name][0]
            value = e.get(var, "")
            if not value:
                return getattr(d, name)
            try:
                return parse(value)
            except ValueError:
                kind = "an integer" if parse is int else "a number"
                raise SettingsError(f"{var} must be {kind}, not {value!r}") from None

        return cls(**{name: get(name, PARSERS.get(name, str)) for name in ENV_VARS})


def _per_thousand(value: str) -> float:
    """Milliseconds in the environment, seconds in the field."""
    return float(value) / 1000


PARSERS: dict[str, Callable[[str], Any]] = {
    "data_dir": Path, "policy_path": Path, "declines_path": Path, "schemas_dir": Path, "ssl_cafile": Path,
    "partitions": int, "web_port": int, "replication_factor": int, "batch_max": int, "batch_catchup_max": int,
    "fetch_wait_ms": int, "fetch_idle_wait_ms": int,
    "producer_buffer": int, "producer_linger_ms": int, "max_value_bytes": int, "max_id_chars": int,
    "align_max_held": int, "align_lateness_ms": int, "explorer_history": int, "timer_interval_s": float,
    "session_timeout_s": float, "batch_linger_s": _per_thousand, "batch_catchup_s": _per_thousand,
    "batch_busy_s": _per_thousand, "index_linger_s": _per_thousand, "align_max_hold_s": _per_thousand,
    "align_idle_s": _per_thousand,
    "web_enabled": _bool, "tansu": _bool, "state_wal": _bool, "register_schemas": _bool, "link_secret": str.encode,
    "pseudonym_secret": str.encode,
    "log_level": str.upper, "security_protocol": str.upper, "sasl_mechanism": str.upper,
}
"""How each variable's text becomes its field (str when not listed)."""

def env_default(name: str) -> str:
    """A field's default as its environment variable would spell it (for `journey --help`)."""
    value = getattr(Settings(), name)
    if name in ("batch_linger_s", "batch_catchup_s", "batch_busy_s", "index_linger_s", "align_max_hold_s",
                "align_idle_s"):
        return f"{value * 1000:g}"
    if name in ("link_secret", "pseudonym_secret"):
        return "a public dev-only value"
    if name in ("api_token", "sasl_password") and value is None:
        return "unset (secret)"
    if value is None:
        return "unset"
    if isinstance(value, Path) and value.is_absolute():
        return f"{value.name}/ (shipped in the package)" if value.is_dir() else f"{value.name} (shipped in the package)"
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
