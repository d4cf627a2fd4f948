"""System (d), bench only: a Quix Streams application running the worker's pure step with Quix's RocksDB state.

The five input topics (PREFIX.payments ...) are concatenated into one StreamingDataFrame; a stateful `apply` keeps
each customer's state under one key of Quix's state store, encoded as the worker's table values are
(pipeline.wire.state_codec), so its changelog can be measured the same way. Quix state is scoped to the message's key
(the customer), so the identity index, which other customers' events read, is an in-memory dict as in the plain loop.

On Tansu (shared/TANSU.md; checked with quixstreams 3.28.1 and confluent-kafka 2.12.2):
- Quix reads each input topic's `retention.ms` through DescribeConfigs to configure the changelog topic, and Tansu
  returns only the configs given when a topic was created: the bench creates these topics with explicit
  `retention.ms` and `retention.bytes` (bench/systems.py; Tansu enforces neither), or Quix fails at start-up with
  KeyError: 'retention.ms'.
- librdkafka's default `fetch.wait.max.ms` is 500 ms, and Tansu holds a waiting fetch for all of it: set to 5 ms
  here, the same as the other systems; and Quix's `consumer_poll_timeout` to 5 ms (see POLL_TIMEOUT_S).
- Quix's default idempotent producer works. `processing_guarantee="exactly-once"` also starts and runs (librdkafka's
  transactions are accepted), but Tansu lets read_committed consumers see aborted records (TANSU.md bug 2), so the
  guarantee would not hold: this app stays at-least-once, as the worker is.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

from quixstreams import Application
from quixstreams.models.serializers import SerializationContext, Serializer
from quixstreams.state.rocksdb import RocksDBOptions

from agents.rules.journey import CustomerState
from bench.loop import Journeys
from pipeline.errors import DecodeError
from pipeline.topics import INPUT_TOPICS, OUTPUT_TOPICS
from pipeline.wire import state_codec
from pipeline.wire.codec import Codec
from pipeline.wire.registry import LocalRegistry

STATE_KEY = "journey"
# Quix reads five concatenated topics in timestamp order (its "time alignment"): it then fills a buffer with
# Consumer.consume(10000 messages, timeout), which librdkafka returns only when full or timed out. At the default
# 1.0 s, decisions waited up to a second (p50 ~800 ms at 500/s); 5 ms matches the fetch wait. 1 ms spins harder
# and was no better on two busy cores.
POLL_TIMEOUT_S = 0.005
CONSUMER_CONFIG = {
    "fetch.wait.max.ms": 5,  # librdkafka's 500 ms default would be held in full by Tansu
    "session.timeout.ms": 6000,  # Tansu joins take half the session timeout
    "heartbeat.interval.ms": 1000,
}


class Payload(Serializer):
    """Outputs travel as (topic, wire bytes): write the bytes."""

    def __call__(self, value: Any, ctx: SerializationContext) -> bytes:
        return bytes(value[1])


def _dumps(value: Any) -> bytes:
    """Quix serializes its own bookkeeping (keys, markers) with the same function: only states take our codec."""
    if isinstance(value, CustomerState):
        return state_codec.dumps(value)
    return b"j" + json.dumps(value).encode()


def _loads(data: bytes) -> Any:
    if data[:1] == b"j":
        return json.loads(data[1:])
    return state_codec.loads(CustomerState, data)


class QuixStep:
    """The journey step with each customer's state in Quix's store (scoped to the message key) instead of a dict."""

    def __init__(self, codec: Codec, prefix: str) -> None:
        self.codec, self.prefix, self.journeys = codec, prefix, Journeys()

    def __call__(self, value: bytes, key: Any, timestamp: int, headers: Any, state: Any) -> list[tuple[str, bytes]]:
        try:
            event = self.codec.decode(value)
        except DecodeError:
            return []
        new, outputs = self.journeys.step(state.get(STATE_KEY), event)
        if new is not None:
            state.set(STATE_KEY, new)
        return [(f"{self.prefix}.{r.TOPIC}", self.codec.encode(r)) for r in outputs]


def build(bootstrap: str, codec: Codec, prefix: str, group: str, state_dir: Path) -> Application:
    app = Application(
        broker_address=bootstrap, consumer_group=group, auto_offset_reset="earliest", state_dir=str(state_dir),
        consumer_extra_config=CONSUMER_CONFIG, commit_interval=1.0,  # the journey worker's commit interval
        consumer_poll_timeout=POLL_TIMEOUT_S,
        rocksdb_options=RocksDBOptions(dumps=_dumps, loads=_loads), loglevel="WARNING",
    )
    inputs = [app.topic(f"{prefix}.{t}", key_deserializer="str", value_deserializer="bytes") for t in INPUT_TOPICS]
    outputs = {f"{prefix}.{t}": app.topic(f"{prefix}.{t}", key_serializer="str", value_serializer=Payload())
               for t in OUTPUT_TOPICS}
    sdf = app.dataframe(inputs[0])
    for topic in inputs[1:]:
        sdf = sdf.concat(app.dataframe(topic))
    sdf = sdf.apply(QuixStep(codec, prefix), stateful=True, metadata=True, expand=True)
    sdf.to_topic(lambda value, key, timestamp, headers: outputs[value[0]])
    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--registry", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--state-dir", type=Path, required=True)
    a = p.parse_args()
    logging.getLogger("quixstreams").setLevel(logging.WARNING)
    build(a.bootstrap, Codec(LocalRegistry(a.registry)), a.prefix, a.group, a.state_dir).run()  # stops on SIGTERM


if __name__ == "__main__":
    main()
