"""The live pipeline and `journey replay` produce the same decisions for the same events (issue 3)."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from pipeline.simulation import generate
from tests.integration.support import collect, journey, journey_env, worker, write_jsonl

pytestmark = pytest.mark.integration
DAY = 86_400_000
DECIDED = ("decisions", "refund-decisions")


def test_live_pipeline_and_replay_agree_on_a_shared_event_file(broker: Any, tmp_path: Path) -> None:
    start = time.time_ns() // 1_000_000 - 60 * DAY
    events = [x.event for x in generate(5, 20, start, 30)]
    shared = write_jsonl(tmp_path / "events.jsonl", events)
    # Live: the events arrive day by day, as they would in a shop, so the identity index (fed asynchronously
    # through the identity-links topic) has caught up with one day before the next begins.
    days: dict[int, list[Any]] = defaultdict(list)
    for e in events:
        days[(e.occurred_at - start) // DAY].append(e)
    env = journey_env(broker.bootstrap, tmp_path)
    expected = 0
    with worker(env, tmp_path / "worker.log"):
        for day in sorted(days):
            batch = days[day]
            expected += sum(type(e).__name__ in ("PaymentAttempted", "RefundRequested") for e in batch)
            run = journey("publish", str(write_jsonl(tmp_path / f"day{day}.jsonl", batch)), env=env)
            assert run.returncode == 0, run.stderr
            got = collect(broker.bootstrap, tmp_path, DECIDED, lambda g, n=expected: len(g) >= n, timeout=60)
            assert len(got) >= expected, f"day {day}: {len(got)} of {expected} decisions"
            time.sleep(0.5)  # identity links of this day reach the index
        live = {r.event_id: r for _, r, _ in got}

    replayed = journey("replay", str(shared), "--out", str(tmp_path / "replay.jsonl"), env=env)
    assert replayed.returncode == 0, replayed.stderr
    offline = {}
    for line in (tmp_path / "replay.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["topic"] in DECIDED:
            offline[rec["value"]["event_id"]] = rec
    assert len(live) == expected and set(live) == set(offline)
    from pipeline.jsonio import record_to_json

    mismatched = [k for k, r in live.items() if record_to_json(r)["value"] != offline[k]["value"]]
    assert mismatched == []
