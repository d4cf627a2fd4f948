"""The explorer's overview: this worker's counters over the last hour, from samples of its own metrics registry.

A worker samples its registry every SAMPLE_EVERY_S seconds (`Rolling.add`, from a timer) and keeps an hour and a bit
of samples; the overview is the difference between the newest sample and the last one taken at least an hour before
(or zero: since the worker started, when it is younger than that). Scope: one worker, the partitions it owns, from
the moment it started; another worker of the same group shows its own share. Pure apart from reading the registry.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from agents.rules.timeunits import iso_utc

SAMPLE_EVERY_S = 15.0
WINDOW_MS = 3_600_000
TOP_REASONS = 10
Sample = dict[tuple[str, ...], float]  # (series name, label values...) -> value

# series kept: name -> the labels that make up its key (others are summed over)
KEPT: dict[str, tuple[str, ...]] = {
    "journey_decisions_total": ("outcome",),
    "journey_refund_decisions_total": ("outcome",),
    "journey_decision_reasons_total": ("kind", "code"),
    "journey_dead_letters_total": ("topic", "reason"),
    "journey_dunning_cases_opened_total": ("variant",),
    "journey_recoveries_total": ("variant",),
    "journey_events_total": ("topic",),
    "journey_consumer_lag": ("topic",),
    "journey_assigned_partitions": ("topic",),
}
GAUGES = frozenset({"journey_consumer_lag", "journey_assigned_partitions"})


def sample_of(families: Iterable[Any]) -> Sample:
    """The kept series of a prometheus_client registry's `collect()`, summed over the labels not kept."""
    out: Sample = {}
    for family in families:
        for s in family.samples:
            keys = KEPT.get(s.name)
            if keys is None:
                continue
            key = (s.name, *(s.labels.get(k, "") for k in keys))
            out[key] = out.get(key, 0.0) + float(s.value)
    return out


@dataclass
class Rolling:
    """Samples of the last hour and a bit, oldest first."""

    started_ms: int
    samples: deque[tuple[int, Sample]] = field(default_factory=deque)

    def add(self, now_ms: int, sample: Sample) -> None:
        self.samples.append((now_ms, sample))
        # keep the newest sample older than the window: it is the baseline of the next overview
        while len(self.samples) > 1 and self.samples[1][0] <= now_ms - WINDOW_MS:
            self.samples.popleft()

    def baseline(self, now_ms: int) -> tuple[int, Sample, bool]:
        """The last sample taken at least WINDOW_MS before `now_ms` (True), or zeros at the worker's start (False)."""
        older = [(t, s) for t, s in self.samples if t <= now_ms - WINDOW_MS]
        return (*older[-1], True) if older else (self.started_ms, {}, False)


def _delta(now: Sample, then: Sample, name: str) -> dict[tuple[str, ...], float]:
    return {k[1:]: v - then.get(k, 0.0) for k, v in now.items() if k[0] == name and v - then.get(k, 0.0) > 0}


def _gauge(now: Sample, name: str) -> dict[tuple[str, ...], float]:
    return {k[1:]: v for k, v in now.items() if k[0] == name}


def overview(rolling: Rolling, now_ms: int, current: Sample, partitions: int, input_topic: str) -> dict[str, Any]:
    """The overview's JSON: what this worker decided since the baseline, its dead letters, dunning recovery by
    variant, and its lag now; `partitions` of every topic, of which this worker owns those of `input_topic`."""
    since, then, full_hour = rolling.baseline(now_ms)
    decisions = _delta(current, then, "journey_decisions_total")
    refunds = _delta(current, then, "journey_refund_decisions_total")
    reasons = sorted(_delta(current, then, "journey_decision_reasons_total").items(), key=lambda kv: (-kv[1], kv[0]))
    dead = _delta(current, then, "journey_dead_letters_total")
    dead_all = _delta(current, {}, "journey_dead_letters_total")
    opened = _delta(current, then, "journey_dunning_cases_opened_total")
    recovered = _delta(current, then, "journey_recoveries_total")
    lag = _gauge(current, "journey_consumer_lag")
    owned = _gauge(current, "journey_assigned_partitions")
    mine = int(owned.get((input_topic,), 0))
    minutes = max(0, (now_ms - since) // 60_000)
    window = "the last hour" if full_hour else f"the {minutes} minute(s) since this worker started"
    variants = sorted({k[0] for k in opened} | {k[0] for k in recovered})
    return {
        "scope": (f"This worker only: {mine} of {partitions} partitions of each topic, {window} "
                  f"(from {iso_utc(since)}); lag is now. Other workers of the group show their own share."),
        "window": {"from": iso_utc(since), "to": iso_utc(now_ms), "minutes": minutes},
        "partitions": {"owned": mine, "total": partitions},
        "decisions": {k[0]: int(v) for k, v in sorted(decisions.items())},
        "refund_decisions": {k[0]: int(v) for k, v in sorted(refunds.items())},
        "top_reasons": [{"kind": k[0], "code": k[1], "count": int(v)} for k, v in reasons[:TOP_REASONS]],
        "dead_letters": [{"topic": k[0], "reason": k[1], "count": int(dead.get(k, 0)), "since_start": int(v)}
                         for k, v in sorted(dead_all.items())],
        "recovery": [{"variant": v, "opened": int(opened.get((v,), 0)), "recovered": int(recovered.get((v,), 0)),
                      "rate": round(recovered.get((v,), 0) / opened[(v,)], 3) if opened.get((v,)) else None}
                     for v in variants],
        "lag": [{"topic": k[0], "messages": int(v)} for k, v in sorted(lag.items())],
        "events": int(sum(_delta(current, then, "journey_events_total").values())),
    }
