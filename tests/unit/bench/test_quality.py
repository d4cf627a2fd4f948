"""The decision-quality claim of issue 3 holds on a labelled population: fewer false declines than the naive
per-transaction baseline, and no less fraud stopped. Also the refund claim of issue 5: the serial claimant's claims
are not refunded instantly."""

from __future__ import annotations

from bench.quality import evaluate


def test_fewer_false_declines_than_the_baseline_at_no_loss_of_fraud_caught() -> None:
    result = evaluate(seed=21, customers=300)
    ours, naive = result["ours"], result["naive"]
    assert naive.false_declines > 0 and ours.false_declines < naive.false_declines
    assert ours.fraud > 0 and ours.fraud_stopped >= naive.fraud_stopped


def test_abusive_claims_are_not_refunded_instantly() -> None:
    abusive, caught, good, delayed = evaluate(seed=21, customers=300)["refunds"]
    assert abusive > 0 and caught == abusive
    assert good > 0 and delayed < good
