"""Finding the broker: KAFKA_BOOTSTRAP_SERVERS when set, else the embedded Tansu that `journey broker` (or this
process) runs. `journey broker` records its address in the data directory so that `journey worker`, `publish` and
`tail` in other terminals find it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import JourneyError
from pipeline.kafka.embedded import EmbeddedBroker, embedded_available
from pipeline.kafka.security import client_options
from pipeline.settings import Settings


@dataclass(frozen=True)
class Connection:
    bootstrap: str
    tansu: bool  # the broker is Tansu: its end-offset workaround applies
    # aiokafka security keywords (pipeline.kafka.security); none for the embedded broker, which is plaintext
    security: Mapping[str, Any] = field(default_factory=dict)


def broker_file(data_dir: Path) -> Path:
    return data_dir / "broker" / "bootstrap.json"


def write_broker_file(data_dir: Path, bootstrap: str) -> None:
    path = broker_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"bootstrap": bootstrap, "pid": os.getpid()}))


def running_embedded_broker(data_dir: Path) -> str | None:
    """Bootstrap of a `journey broker` still running for this data directory, if any."""
    try:
        info = json.loads(broker_file(data_dir).read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return str(info["bootstrap"])


@contextlib.contextmanager
def connect(settings: Settings, start_embedded: bool) -> Iterator[Connection]:
    """Yield a connection; start (and finally stop) an embedded broker only when allowed and none is running."""
    if settings.bootstrap_servers:
        yield Connection(settings.bootstrap_servers, settings.tansu, client_options(settings))
        return
    found = running_embedded_broker(settings.data_dir)
    if found:
        yield Connection(found, True)
        return
    if not start_embedded:
        raise JourneyError(
            "no broker: set KAFKA_BOOTSTRAP_SERVERS, or run `journey broker` first (it serves this data directory)"
        )
    if not embedded_available():
        raise JourneyError("no broker: set KAFKA_BOOTSTRAP_SERVERS, or install payment-journey[embedded] "
                           "to run the embedded broker")
    with EmbeddedBroker(settings.data_dir) as broker:
        yield Connection(broker.bootstrap, True)
