"""The live pipeline and `journey replay` produce the same decisions for the same events (issue 3).

The live run receives the shared file in waves (pipeline/sim/pacing.py), as a shop's traffic spreads over time, each
processed before the next is sent.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from agents.rules.events import PaymentAttempted, RefundRequested
from pipeline.kafka.clients import encode_all, produce
from pipeline.policies import load_policy
from pipeline.sim import generate
from pipeline.sim.pacing import waves
from pipeline.wire.codec import Codec
from pipeline.wire.jsonio import record_to_json
from pipeline.wire.registry import LocalRegistry
from tests.integration.support import collect, journey, journey_env, worker, write_jsonl

pytestmark = pytest.mark.integration
DAY = 86_400_000
DECIDED = ("decisions", "refund-decisions")


def test_live_pipeline_and_replay_agree_on_a_shared_event_file(broker: Any, tmp_path: Path) -> None:
    start = time.time_ns() // 1_000_000 - 60 * DAY
    events = [x.event for x in generate(5, 20, start, 30, reviewed_under=load_policy())]
    assert any(type(e).__name__ == "ReviewVerdict" for e in events)
    shared = write_jsonl(tmp_path / "events.jsonl", events)
    env = journey_env(broker.bootstrap, tmp_path)
    codec = Codec(LocalRegistry(tmp_path / "schema-registry.json"))
    expected = 0
    with worker(env, tmp_path / "worker.log"):
        for wave in waves(events):
            expected += sum(isinstance(e, PaymentAttempted | RefundRequested) for e in wave)
            asyncio.run(produce(broker.bootstrap, encode_all(codec, wave)))
            got = collect(broker.bootstrap, tmp_path, DECIDED, lambda g, n=expected: len(g) >= n, timeout=60)
            assert len(got) >= expected
            time.sleep(0.3)  # the wave's other events and identity links are processed too
        live = {r.event_id: r for _, r, _ in got}

    replayed = journey("replay", str(shared), "--out", str(tmp_path / "replay.jsonl"), env=env)
    assert replayed.returncode == 0, replayed.stderr
    offline = {}
    for line in (tmp_path / "replay.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["topic"] in DECIDED:
            offline[rec["value"]["event_id"]] = rec["value"]
    assert len(live) == expected and set(live) == set(offline)
    assert [k for k, r in live.items() if record_to_json(r)["value"] != offline[k]] == []
