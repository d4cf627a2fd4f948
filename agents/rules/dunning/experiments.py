"""The dunning experiment: which variant a customer gets, and how the variants compare.

`variant_for` assigns by a salted SHA-256 of the customer id, so every worker, every replay and every restart
puts a customer in the same arm without storing anything; changing the salt starts a fresh experiment. A
holdout share gets silent retries only, so the effect of reminders and offers can be measured against doing
nothing visible. `recovery_report` turns the DunningStep and PaymentRecovered records into recovery rates per
variant and decline class.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from agents.rules.dunning.policy import HOLDOUT, DunningPolicy
from agents.rules.events import DunningStep, PaymentRecovered

BUCKETS = 10_000  # basis points: a holdout of 2.5 % is 250 buckets
REPORT_HEADERS = ("variant", "decline class", "cases", "recovered", "rate")


def _bucket(salt: str, customer_id: str) -> int:
    digest = hashlib.sha256(f"{salt}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def variant_for(customer_id: str, policy: DunningPolicy) -> str:
    """Deterministic: the same customer and salt always give the same arm; the buckets past the holdout are
    split in proportion to the variants' weights."""
    exp = policy.experiment
    bucket = _bucket(exp.salt, customer_id)
    holdout = round(exp.holdout_percent * BUCKETS / 100)
    if bucket < holdout:
        return HOLDOUT.name
    total = sum(v.weight for v in exp.variants)
    point = (bucket - holdout) * total / (BUCKETS - holdout)  # in [0, total)
    upto = 0
    for v in exp.variants:
        upto += v.weight
        if point < upto:
            return v.name
    return exp.variants[-1].name


@dataclass(frozen=True, slots=True)
class RecoveryRow:
    variant: str
    decline_class: str  # hard, soft, unknown, or "all" for the variant's total
    cases: int
    recovered: int

    @property
    def rate(self) -> float:
        return self.recovered / self.cases if self.cases else 0.0

    def as_tuple(self) -> tuple[str, str, int, int, float]:
        return (self.variant, self.decline_class, self.cases, self.recovered, round(self.rate, 4))


def recovery_report(records: Iterable[DunningStep | PaymentRecovered]) -> list[RecoveryRow]:
    """Cases opened and recovered per (variant, decline class), plus an "all" row per variant.

    A case is counted under the variant and class it was opened with (its `case_opened` step), so a case whose
    class hardened later still compares like with like; a recovery whose opening was not seen counts under its
    own labels.
    """
    opened: dict[tuple[str, str], tuple[str, str]] = {}
    recovered: dict[tuple[str, str], tuple[str, str]] = {}
    for r in records:
        key = (r.customer_id, r.case_id)
        if isinstance(r, DunningStep) and r.action == "case_opened":
            opened.setdefault(key, (r.variant, r.decline_class))
        elif isinstance(r, PaymentRecovered):
            recovered.setdefault(key, (r.variant, r.decline_class))
    counts: dict[tuple[str, str], list[int]] = {}
    for labels in opened.values():
        counts.setdefault(labels, [0, 0])[0] += 1
    for key, labels in recovered.items():
        cell = counts.setdefault(opened.get(key, labels), [0, 0])
        cell[1] += 1
        if key not in opened:
            cell[0] += 1  # a case opened before the records began still was a case
    rows = [RecoveryRow(v, c, n, k) for (v, c), (n, k) in sorted(counts.items())]
    for variant in sorted({v for v, _ in counts}):
        mine = [r for r in rows if r.variant == variant]
        rows.append(RecoveryRow(variant, "all", sum(r.cases for r in mine), sum(r.recovered for r in mine)))
    return sorted(rows, key=lambda r: (r.variant, r.decline_class == "all", r.decline_class))
