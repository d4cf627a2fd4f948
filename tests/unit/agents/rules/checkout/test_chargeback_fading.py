"""Chargebacks fade with [checkout] chargeback_half_life_days: each weighs 0.5 ** (age / half-life) at decision
time, own ones count as bad history only while they still weigh bad_history_from, and other customers'
chargebacks on shared identifiers are forgotten after linked_chargeback_half_lives half-lives."""

from __future__ import annotations

import dataclasses

from agents.rules.checkout import has_bad_history, risk_signals
from agents.rules.profile import CustomerProfile, faded_chargebacks
from agents.rules.profile.records import MAX_CHARGEBACK_TIMES
from tests.unit.agents.rules.checkout.test_checkout import (
    DAY,
    NOW,
    POLICY,
    T0,
    attempt,
    chargeback,
    codes,
    index,
    regular,
    run,
    with_event,
)

HALF_LIFE = POLICY.chargeback_half_life_ms


def own_chargeback(cid: str, age: int) -> CustomerProfile:
    return with_event(regular(cid), chargeback(cid, at=NOW - age))


def points(p: CustomerProfile, cid: str) -> dict[str, int]:
    a = attempt(cid)
    return {s.code: s.points for s in risk_signals(p, {}, a, POLICY, a.occurred_at)}


def test_a_fresh_chargeback_weighs_its_full_points_and_one_a_half_life_old_weighs_half() -> None:
    weight = POLICY.weights["OWN_CHARGEBACKS"]
    assert points(own_chargeback("f", 0), "f")["OWN_CHARGEBACKS"] == weight
    assert points(own_chargeback("h", HALF_LIFE), "h")["OWN_CHARGEBACKS"] == round(weight * 0.5)


def test_a_chargeback_older_than_a_half_life_no_longer_makes_bad_history() -> None:
    old = own_chargeback("o", HALF_LIFE + DAY)
    assert faded_chargebacks(old, NOW, HALF_LIFE) < POLICY.bad_history_from
    assert not has_bad_history(old, POLICY, NOW)
    assert "OWN_CHARGEBACKS" not in points(old, "o")
    assert has_bad_history(own_chargeback("y", HALF_LIFE - DAY), POLICY, NOW)


def test_a_customer_whose_only_chargeback_is_two_years_old_is_approved_on_the_usual_device() -> None:
    d = run(own_chargeback("g", 730 * DAY), attempt("g"))
    assert d.outcome == "approve" and "OWN_CHARGEBACKS" not in codes(d)
    assert "ESTABLISHED_CUSTOMER" in codes(d)


def test_the_same_customer_with_a_recent_chargeback_is_still_challenged() -> None:
    d = run(own_chargeback("r", 30 * DAY), attempt("r"))
    assert d.outcome == "challenge" and "OWN_CHARGEBACKS" in codes(d)


def test_the_reason_says_how_old_each_chargeback_is_and_what_it_still_weighs() -> None:
    p = with_event(own_chargeback("w", 14 * 30 * DAY), chargeback("w", at=NOW - 3 * DAY))
    d = run(p, attempt("w"))
    detail = next(r.detail for r in d.reasons if r.code == "OWN_CHARGEBACKS")
    assert "A chargeback 3 days ago, faded to 1.0" in detail
    assert "a chargeback 14 months ago, faded to 0.2" in detail


def test_two_old_chargebacks_together_can_still_be_bad_history() -> None:
    p = with_event(own_chargeback("t", HALF_LIFE + DAY), chargeback("t", at=NOW - HALF_LIFE - DAY))
    assert has_bad_history(p, POLICY, NOW) and "OWN_CHARGEBACKS" in points(p, "t")


def test_the_profile_keeps_only_the_newest_chargeback_times_but_counts_them_all() -> None:
    p = regular("many")
    for k in range(MAX_CHARGEBACK_TIMES + 5):
        p = with_event(p, chargeback("many", at=T0 + k * DAY))
    assert p.chargebacks == MAX_CHARGEBACK_TIMES + 5
    assert len(p.chargeback_times) == MAX_CHARGEBACK_TIMES
    assert p.chargeback_times[0] == T0 + (MAX_CHARGEBACK_TIMES + 4) * DAY


def test_a_profile_stored_before_chargeback_times_fades_from_its_last_chargeback() -> None:
    old = dataclasses.replace(regular("m"), chargebacks=2, last_chargeback_at=NOW - 10 * DAY)
    assert faded_chargebacks(old, NOW, HALF_LIFE) == 2 * 0.5 ** (10 * DAY / HALF_LIFE)
    assert has_bad_history(old, POLICY, NOW)


def test_someone_elses_chargeback_older_than_two_half_lives_no_longer_marks_a_stolen_card() -> None:
    horizon = int(POLICY.linked_chargeback_half_lives * HALF_LIFE)
    thief = attempt("thief", NOW - horizon - DAY, card_fingerprint="card-x")
    d = run(regular("k"), attempt("k", card_fingerprint="card-x"), index(thief, (thief, "chargeback")))
    assert "STOLEN_CARD" not in codes(d)
    recent = attempt("thief2", NOW - horizon + DAY, card_fingerprint="card-y")
    d = run(regular("k2"), attempt("k2", card_fingerprint="card-y"), index(recent, (recent, "chargeback")))
    assert "STOLEN_CARD" in codes(d)
    assert "the latest 1" in next(r.detail for r in d.reasons if r.code == "STOLEN_CARD")


def test_someone_elses_chargeback_from_after_the_decision_does_not_count() -> None:
    """A decision at time t weighs what was known at t: a mark dated later (a worker that applied a later event's
    link first) is left out, as `journey replay` never has it at t."""
    later = attempt("thief3", NOW + DAY, card_fingerprint="card-z")
    d = run(regular("k3"), attempt("k3", card_fingerprint="card-z"), index(later, (later, "chargeback")))
    assert "STOLEN_CARD" not in codes(d)
