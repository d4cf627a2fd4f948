"""A backlog published at once gets the decisions `journey replay` makes over the same events (issues 3 and 10).

A month of a few hundred simulated customers, with the seed stories' chargebacks, stolen cards used on other
accounts (other partitions), serial refund claimants and dunning, is published onto the live topics in one go while
the worker runs, as a worker meets a backlog after downtime. The worker's checkout decisions (outcome and SCA
strategy), refund decisions and dunning steps must equal `journey replay` over the same file, record for record.
Without the event-time hold across partitions (agents/alignment.py, agents/progress.py) stolen-card declines become
challenges and instant refunds change, because another customer's identity link has not reached the index yet.

JOURNEY_REPLAY_CUSTOMERS sets the population (`make soak` runs a larger one). The first test has one worker own
every partition; the second splits the partitions between two workers (a smaller population,
JOURNEY_REPLAY_CUSTOMERS_TWO), where an event waits for the other worker's progress marks (agents/progress.py) and
reads its links from the shared identity index (agents/topology.py `_merging_global_table`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiokafka.partitioner import murmur2

from agents.rules.events import PaymentAttempted, RefundRequested
from agents.rules.timeunits import iso_utc
from pipeline.kafka.clients import encode_all, produce
from pipeline.policies import load_policy
from pipeline.sim import generate, simulation_start
from pipeline.wire.codec import Codec
from pipeline.wire.jsonio import record_to_json
from pipeline.wire.registry import LocalRegistry
from pipeline.wire.registry_api import serve_local_registry
from tests.integration.pipeline.worker.test_takeover import assigned, wait_for
from tests.integration.support import collect, journey, journey_env, start_worker, stop_process, write_jsonl

pytestmark = pytest.mark.integration
PARTITIONS = 4
CUSTOMERS = int(os.environ.get("JOURNEY_REPLAY_CUSTOMERS", "300"))
CUSTOMERS_TWO = int(os.environ.get("JOURNEY_REPLAY_CUSTOMERS_TWO", "100"))
# Two workers advance through a backlog in lockstep: an event waits for the other worker's progress mark to pass its
# time. Such a wait is not cut short by the hold bound (only a mark that stops moving ends it), so the default
# settings decide as replay does.
DECIDED = ("decisions", "refund-decisions")
COMPARED = (*DECIDED, "dunning")


def partition_of(cid: str) -> int:
    return (murmur2(cid.encode()) & 0x7FFFFFFF) % PARTITIONS


def timer_horizon(events: list[Any]) -> str:
    """Due actions up to here have fired live too: the event-time timer of a partition runs to its latest event.
    (ISO-8601 UTC, as in the JSON records: such strings compare in time order.)"""
    latest: dict[int, int] = {}
    for e in events:
        p = partition_of(e.customer_id)
        latest[p] = max(latest.get(p, 0), e.occurred_at)
    return iso_utc(min(latest.values()))


def replayed(path: Path, env: dict[str, str], out: Path) -> dict[str, dict[str, Any]]:
    run = journey("replay", str(path), "--out", str(out), env=env)
    assert run.returncode == 0, run.stderr
    found: dict[str, dict[str, Any]] = {}
    for line in out.read_text().splitlines():
        rec = json.loads(line)
        if rec["topic"] in COMPARED:
            found[rec["value"]["event_id"]] = {"topic": rec["topic"], **rec["value"]}
    return found


def differences(live: dict[str, Any], offline: dict[str, dict[str, Any]], horizon: str) -> list[str]:
    """Every record on which the two disagree: missing on one side, or with other content."""
    out = []
    for key, rec in offline.items():
        due = rec["topic"] != "dunning" or rec["occurred_at"] <= horizon
        if key not in live:
            if due:
                out.append(f"missing live: {rec['topic']} {key}")
            continue
        value = record_to_json(live[key])["value"]
        if {"topic": rec["topic"], **value} != rec:
            out.append(f"differs: {rec['topic']} {key}: live {value} replay {rec}")
    out += [f"only live: {key}" for key in live if key not in offline]
    return out


def forced(port: str) -> dict[str, float]:
    """journey_align_forced_total by reason, from a worker's /metrics (waits the alignment cut short)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:  # noqa: S310 - loopback
        text = resp.read().decode()
    return {m.group(1): float(m.group(2)) for m in re.finditer(r'^journey_align_forced_total\{reason="(\w+)"\} (\S+)$',
                                                                text, re.M)}


def population(tmp_path: Path, customers: int = CUSTOMERS) -> tuple[list[Any], Path]:
    events = [x.event for x in generate(11, customers, simulation_start(30), 30, reviewed_under=load_policy())]
    assert any(type(e).__name__ == "ReviewVerdict" for e in events), "reviewers judged some queued cases"
    kinds = Counter(type(e).__name__ for e in events)
    # the history has what is checked
    assert kinds["Chargeback"] >= max(5, customers // 20) and kinds["RefundRequested"] >= customers // 10, kinds
    return events, write_jsonl(tmp_path / "events.jsonl", events)


def live_run(bootstrap: str, envs: list[dict[str, str]], tmp_path: Path, codec: Codec, events: list[Any],
             offline: dict[str, dict[str, Any]], horizon: str) -> dict[str, Any]:
    """Start the workers, publish every event at once, collect what they decide."""
    must = {k for k, r in offline.items() if r["topic"] in DECIDED or r["occurred_at"] <= horizon}
    procs = []
    try:
        procs = [start_worker(env, tmp_path / f"worker-{i}.log") for i, env in enumerate(envs)]
        ports = [env["JOURNEY_WEB_PORT"] for env in envs]
        wait_for(lambda: all(assigned(p) > 0 for p in ports) and sum(assigned(p) for p in ports) == PARTITIONS,
                 90, "every worker to hold partitions")
        asyncio.run(produce(bootstrap, encode_all(codec, events)))
        got = collect(bootstrap, tmp_path, COMPARED, lambda g: must <= {getattr(r, "event_id", None) for _, r, _ in g},
                      timeout=240, settle=3)
        assert all(p.poll() is None for p in procs), "the workers run on"
        for port in ports:
            print(f"worker on {port}: forced waits {forced(port)}", file=sys.stderr)
    finally:
        for proc in procs:
            stop_process(proc, signal.SIGTERM)
    return {r.event_id: r for _, r, _ in got}


def test_a_backlog_published_at_once_is_decided_as_replay_decides_it(broker: Any, tmp_path: Path) -> None:
    events, shared = population(tmp_path)
    env = journey_env(broker.bootstrap, tmp_path, JOURNEY_TIMER_CLOCK="event", JOURNEY_PARTITIONS=str(PARTITIONS))
    offline = replayed(shared, env, tmp_path / "replay.jsonl")
    expected = sum(isinstance(e, PaymentAttempted | RefundRequested) for e in events)
    assert sum(r["topic"] in DECIDED for r in offline.values()) == expected
    assert any(r["topic"] == "decisions" and r["outcome"] == "decline" for r in offline.values())
    codec = Codec(LocalRegistry(tmp_path / "schema-registry.json"))
    horizon = timer_horizon(events)
    live = live_run(broker.bootstrap, [env], tmp_path, codec, events, offline, horizon)
    found = differences(live, offline, horizon)
    print("\n".join(found), file=sys.stderr)  # in full: pytest's assertion message cuts them
    assert found == []


def test_two_workers_decide_a_backlog_published_at_once_as_replay_decides_it(broker: Any, tmp_path: Path) -> None:
    events, shared = population(tmp_path, CUSTOMERS_TWO)
    with serve_local_registry(tmp_path) as api:  # one registry file for both workers and the test
        envs = [journey_env(broker.bootstrap, tmp_path / f"w{i}", JOURNEY_TIMER_CLOCK="event",
                            JOURNEY_PARTITIONS=str(PARTITIONS), SCHEMA_REGISTRY_URL=api.url) for i in (0, 1)]
        offline = replayed(shared, envs[0], tmp_path / "replay.jsonl")
        codec = Codec(LocalRegistry(tmp_path / "schema-registry.json"))
        horizon = timer_horizon(events)
        live = live_run(broker.bootstrap, envs, tmp_path, codec, events, offline, horizon)
    found = differences(live, offline, horizon)
    print("\n".join(found), file=sys.stderr)
    assert found == []
