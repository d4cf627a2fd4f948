"""The dunning experiment: deterministic weighted assignment with a holdout; recovery rates per variant."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from agents.rules.dunning.experiments import REPORT_HEADERS, recovery_report, variant_for
from agents.rules.dunning.policy import DunningPolicy, ExperimentPolicy, Variant
from agents.rules.events import DunningStep, PaymentRecovered
from agents.rules.policy import parse_table
from pipeline.policies import load_policy

POLICY = load_policy().dunning
IDS = [f"cust-{i:05d}" for i in range(10_000)]


def test_assignment_is_deterministic() -> None:
    assert [variant_for(c, POLICY) for c in IDS[:500]] == [variant_for(c, POLICY) for c in IDS[:500]]


def test_assignment_roughly_matches_the_weights_over_10k_ids() -> None:
    counts = Counter(variant_for(c, POLICY) for c in IDS)
    holdout = POLICY.experiment.holdout_percent / 100
    total = sum(v.weight for v in POLICY.experiment.variants)
    expected = {"holdout": holdout}
    expected |= {v.name: (1 - holdout) * v.weight / total for v in POLICY.experiment.variants}
    assert set(counts) == set(expected)
    for name, share in expected.items():
        assert counts[name] / len(IDS) == pytest.approx(share, abs=0.015), name


def test_a_new_salt_reshuffles_customers() -> None:
    other = replace(POLICY, experiment=replace(POLICY.experiment, salt="another-experiment"))
    moved = sum(variant_for(c, POLICY) != variant_for(c, other) for c in IDS[:1_000])
    assert moved > 300


def test_without_a_holdout_nobody_is_held_out_and_a_zero_weight_arm_gets_nobody() -> None:
    exp = ExperimentPolicy(salt="s", holdout_percent=0.0,
                           variants=(Variant(name="a", weight=1), Variant(name="off", weight=0)))
    assert {variant_for(c, replace(POLICY, experiment=exp)) for c in IDS[:2_000]} == {"a"}


def test_variants_come_from_the_policy_and_bad_weights_are_refused() -> None:
    assert [v.name for v in POLICY.experiment.variants] == ["control", "no_offer", "tight_reminders"]
    assert POLICY.experiment.params_for("holdout").reminders is False
    assert POLICY.experiment.params_for("retired-arm").name == "control"
    with pytest.raises(ValueError):
        parse_table(ExperimentPolicy, {"variants": [{"name": "a", "weight": 0}]}, "dunning.experiment")
    with pytest.raises(ValueError):
        parse_table(DunningPolicy, {"windwo_days": 3}, "dunning")


def opened(cid: str, case: str, variant: str, cls: str) -> DunningStep:
    return DunningStep(event_id=f"{cid}:{case}:open", customer_id=cid, occurred_at=0, case_id=case,
                       action="case_opened", decline_class=cls, reason_code="X", detail="d", variant=variant)


def recovered(cid: str, case: str, variant: str, cls: str) -> PaymentRecovered:
    return PaymentRecovered(event_id=f"{case}:recovered", customer_id=cid, occurred_at=1, case_id=case,
                            payment_id="p", amount_minor=100, currency="EUR", time_to_recover_ms=1,
                            recovered_by="reminder", decline_class=cls, variant=variant)


def test_recovery_report_compares_rates_per_variant_and_decline_class() -> None:
    records: list[DunningStep | PaymentRecovered] = [
        opened("c1", "o1", "control", "soft"), opened("c2", "o2", "control", "soft"),
        opened("c3", "o3", "control", "hard"), opened("c4", "o4", "holdout", "soft"),
        recovered("c1", "o1", "control", "soft"),
        recovered("c3", "o3", "control", "soft"),  # hardened cases count under the class they opened with
        recovered("c1", "o1", "control", "soft"),  # a duplicate delivery is one recovery
        opened("c1", "o1", "control", "soft"),
    ]
    rows = [r.as_tuple() for r in recovery_report(records)]
    assert len(REPORT_HEADERS) == len(rows[0])
    assert rows == [
        ("control", "hard", 1, 1, 1.0),
        ("control", "soft", 2, 1, 0.5),
        ("control", "all", 3, 2, 0.6667),
        ("holdout", "soft", 1, 0, 0.0),
        ("holdout", "all", 1, 0, 0.0),
    ]
