"""Size and speed of the worker's stored state: the JSON earlier versions wrote against the Avro state codec.

    .venv/bin/python -m bench.state_bench [--seed 7] [--customers 300] [--rounds 3]

Builds the demo population's final customer states and identity nodes by replaying pipeline.sim's events through
`journey replay`'s engine (as bench/quality.py does), then prints bytes per value (mean and max) in both formats and
microseconds per encode and decode (best of `--rounds` passes over every value).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from agents.rules.identity import IdentityNode
from agents.rules.journey import Context, CustomerState
from agents.rules.ledger import Ledger
from agents.rules.replay import replay
from bench.text_table import table
from pipeline.errors import StateSchemaError
from pipeline.policies import load_policy
from pipeline.sim import generate
from pipeline.wire import state_codec

START = 1_760_000_000_000


def json_as_earlier_versions_wrote(obj: Any) -> bytes:
    """The replaced encoder: dataclasses to dicts and tuples to lists, recursively, as compact JSON (the payment
    ledger was a tuple of PaymentRef then, each with its identifiers in full)."""
    return json.dumps(_plain(obj), separators=(",", ":"), ensure_ascii=False).encode()


def _plain(obj: Any) -> Any:
    if isinstance(obj, Ledger):
        return _plain(obj.refs())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [_plain(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    return obj


def final_tables(seed: int, customers: int) -> tuple[list[CustomerState], list[IdentityNode], int]:
    """(customer states, identity nodes, events replayed) after the population's last event."""
    events = [x.event for x in generate(seed, customers, START, 30)]
    states: dict[str, CustomerState] = {}
    index: dict[str, IdentityNode] = {}
    for _ in replay(events, load_policy(None), Context(link_secret=b"bench"), states=states, index=index):
        pass
    return list(states.values()), list(index.values()), len(events)


def per_value_us(fn: Callable[[Any], Any], values: Sequence[Any], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for v in values:
            fn(v)
        best = min(best, time.perf_counter() - started)
    return best / len(values) * 1e6


def measure(cls: type, values: Sequence[Any], rounds: int) -> dict[str, float]:
    as_json = [json_as_earlier_versions_wrote(v) for v in values]
    as_avro = [state_codec.dumps(v) for v in values]
    assert [state_codec.loads(cls, b) for b in as_avro] == list(values)
    json_readable = _json_readable(cls, as_json[:1])
    if json_readable:
        assert all(_same(state_codec.loads(cls, b), v) for b, v in zip(as_json, values, strict=True))
    return {
        "json_mean": statistics.fmean(map(len, as_json)), "json_max": max(map(len, as_json)),
        "avro_mean": statistics.fmean(map(len, as_avro)), "avro_max": max(map(len, as_avro)),
        "json_encode": per_value_us(json_as_earlier_versions_wrote, values, rounds),
        "json_decode": per_value_us(lambda b: state_codec.loads(cls, b), as_json, rounds) if json_readable else -1,
        "avro_encode": per_value_us(state_codec.dumps, values, rounds),
        "avro_decode": per_value_us(lambda b: state_codec.loads(cls, b), as_avro, rounds),
    }


def _same(loaded: Any, value: Any) -> bool:
    """Equal, but for where a ledger read from JSON keeps its identifiers: the same payments, identifiers and all."""
    if isinstance(value, CustomerState):
        return (loaded.payments.refs() == value.payments.refs()
                and dataclasses.replace(loaded, payments=value.payments) == value)
    return bool(loaded == value)


def _json_readable(cls: type, sample: Sequence[bytes]) -> bool:
    """Does today's read path still accept this class's JSON form? (identity nodes from before pseudonymisation are
    refused: they were keyed by raw identifiers)"""
    try:
        for b in sample:
            state_codec.loads(cls, b)
    except StateSchemaError:
        return False
    return True


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=7, help="simulation seed (the demo's: 7)")
    p.add_argument("--customers", type=int, default=300, help="simulated customers (the demo's: 300)")
    p.add_argument("--rounds", type=int, default=3, help="timed passes over every value; the best counts")
    a = p.parse_args()
    states, nodes, n_events = final_tables(a.seed, a.customers)
    print(f"seed {a.seed}, {a.customers} customers, 30 days: {n_events:,} events -> {len(states):,} customer states, "
          f"{len(nodes):,} identity nodes\n")
    rows = []
    for label, cls, values in (("customer state", CustomerState, states), ("identity node", IdentityNode, nodes)):
        m = measure(cls, values, a.rounds)
        rows.append((label, f"{m['json_mean']:,.0f}", f"{m['json_max']:,}", f"{m['avro_mean']:,.0f}",
                     f"{m['avro_max']:,}", f"{m['json_mean'] / m['avro_mean']:.1f}x", f"{m['json_encode']:.1f}",
                     f"{m['json_decode']:.1f}" if m['json_decode'] >= 0 else "refused",
                     f"{m['avro_encode']:.1f}", f"{m['avro_decode']:.1f}"))
    print(table(("value", "JSON mean B", "JSON max B", "Avro mean B", "Avro max B", "smaller", "JSON enc us",
                 "JSON dec us", "Avro enc us", "Avro dec us"), rows))
    print("\nJSON: the format earlier versions wrote (encoded here as they did; decoded by today's JSON read path).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
