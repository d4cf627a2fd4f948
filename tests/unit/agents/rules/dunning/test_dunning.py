"""Dunning as a state machine: silent retries within network rules, reminders, offers, stops, recovery."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import replace

import pytest

from agents.rules import dunning
from agents.rules.declines import DeclineInfo, classify
from agents.rules.dunning import DunningContext, DunningPolicy, DunningState, Output
from agents.rules.events import (
    Chargeback,
    DueAction,
    DunningStep,
    Initiator,
    InputEvent,
    Notification,
    OrderPlaced,
    PaymentFailed,
    PaymentRecovered,
    PaymentSucceeded,
)
from agents.rules.ledger import PaymentRef
from agents.rules.preferences import Preferences
from agents.rules.timeunits import DAY_MS, HOUR_MS
from pipeline.policies import load_policy
from pipeline.wire import state_codec

POLICIES = load_policy()
POLICY = POLICIES.dunning
T0 = 1_795_435_200_000  # 2026-11-23 12:00 UTC
MIN = 60_000
SECRET = b"test-secret"


def ctx(variant: str = "control", prefs: Preferences | None = None, good: bool = True) -> DunningContext:
    return DunningContext(customer_id="c1", prefs=prefs or Preferences(channels=("email",)), payment=None,
                          in_good_standing=good, link_secret=SECRET, variant=variant)


def meaning(event: InputEvent) -> DeclineInfo | None:
    """What the journey passes along with a PaymentFailed."""
    return classify(event, POLICIES.declines) if isinstance(event, PaymentFailed) else None


def fail(eid: str, at: int, code: str = "insufficient_funds", *, order: str = "o1", card: str = "card-1",
         network: str = "visa", response: str | None = None, advice: str | None = None,
         initiator: Initiator = "merchant", amount: int = 5_000) -> PaymentFailed:
    return PaymentFailed(event_id=eid, customer_id="c1", occurred_at=at, payment_id=f"pay-{eid}",
                         decline_code=code, network=network, network_response_code=response,
                         merchant_advice_code=advice, initiator=initiator, order_id=order,
                         card_fingerprint=card, amount_minor=amount, currency="EUR")


def paid(eid: str, at: int, *, order: str = "o1", card: str = "card-1",
         amount: int = 5_000) -> PaymentSucceeded:
    return PaymentSucceeded(event_id=eid, customer_id="c1", occurred_at=at, payment_id=f"pay-{eid}",
                            authentication="none", order_id=order, card_fingerprint=card, amount_minor=amount,
                            currency="EUR")


def fire_due(state: DunningState, until: int, c: DunningContext,
             policy: DunningPolicy) -> tuple[DunningState, list[Output]]:
    """What the live timer and the journey step do: fire each due entry at its own time, in order."""
    out: list[Output] = []
    for _ in range(1_000):  # schedules are finite: a rule that never clears its entry fails here, not hangs
        due = dunning.due_actions(state, c.customer_id, until)
        if not due:
            return state, out
        state, more = dunning.on_due(state, due[0], c, policy, due[0].occurred_at)
        out += more
    raise AssertionError("scheduled entries keep firing without end")


def run(events: Sequence[InputEvent], c: DunningContext | None = None, policy: DunningPolicy = POLICY,
        until: int | None = None) -> tuple[DunningState, list[Output]]:
    c = c or ctx()
    state, out = DunningState.empty(), []
    for event in events:
        at = event.occurred_at
        state, fired = fire_due(state, at, c, policy)
        state, more = dunning.on_event(state, event, c, policy, at, meaning(event))
        out += fired + more
    if until is not None:
        state, fired = fire_due(state, until, c, policy)
        out += fired
    return state, out


def steps(out: list[Output], action: str | None = None, source: str | None = None) -> list[DunningStep]:
    return [o for o in out if isinstance(o, DunningStep) and (action is None or o.action == action)
            and (source is None or o.event_id.startswith(f"{source}:"))]


def notes(out: list[Output]) -> list[Notification]:
    return [o for o in out if isinstance(o, Notification)]


def recoveries(out: list[Output]) -> list[PaymentRecovered]:
    return [o for o in out if isinstance(o, PaymentRecovered)]


def pending(state: DunningState, action: str) -> list[int]:
    return [p.due_at for c in state.cases for p in c.pending if p.action == action]


# ---------------------------------------------------------------- retries and the first reminder

def test_soft_decline_schedules_spaced_retries_and_a_first_reminder_on_the_preferred_channel() -> None:
    c = ctx(prefs=Preferences(channels=("sms", "email", "push"), locale="nl-NL"))
    second = T0 + DAY_MS + 5 * MIN
    state, out = run([fail("f1", T0, response="51"), fail("f2", second, response="51")], c)
    assert [s.action for s in steps(out, source="f1")] == [
        "case_opened", "retry_scheduled", "reminder_sent", "reminder_scheduled"]
    retries = [s.due_at for s in steps(out, "retry_scheduled")]
    assert retries == [T0 + DAY_MS, second + DAY_MS]
    assert [s.due_at for s in steps(out, "retry_due")] == [T0 + DAY_MS]
    [note] = notes(out)  # the first notice at the first failure, not one per failure
    assert (note.channel, note.fallback_channels, note.locale) == ("sms", ("email", "push"), "nl-NL")
    assert note.template == "dunning.soft.reminder_1" and note.send_at == T0
    assert note.params["order_id"] == "o1" and note.params["amount_minor"] == "5000"
    assert set(note.params) == {"order_id", "amount_minor", "currency", "status", "items", "reminder_no",
                                "wording", "pay_by"}
    assert "card-1" not in str(note.to_record())


def test_a_reminder_names_its_case_and_the_latest_failed_payment() -> None:
    _, out = run([fail("f1", T0, response="51")])
    [note] = notes(out)
    [opened] = steps(out, "case_opened")
    assert note.case_id == opened.case_id == "o1" and note.payment_id == "pay-f1"


def test_the_reminder_names_the_order_size_but_not_its_contents() -> None:
    order = OrderPlaced(event_id="op", customer_id="c1", occurred_at=T0 - MIN, order_id="o1",
                        channel="online", amount_minor=5_000, currency="EUR",
                        items=("sku-secret-1", "sku-secret-2"))
    _, out = run([order, fail("f1", T0)])
    [note] = notes(out)
    assert note.params["items"] == "2" and "sku-secret" not in str(note.to_record())


def test_an_issuer_side_decline_is_retried_silently_before_the_customer_is_told() -> None:
    _, out = run([fail("f1", T0, "issuer_unavailable"), fail("f2", T0 + DAY_MS + MIN, "issuer_unavailable")])
    assert steps(out, "reminder_sent", source="f1") == []
    assert len(steps(out, "reminder_sent", source="f2")) == 1


def test_a_hard_decline_is_never_retried_and_asks_for_a_new_payment_method() -> None:
    state, out = run([fail("f1", T0, "stolen_card")])
    [held] = steps(out, "retry_held")
    assert held.reason_code == "HARD_DECLINE" and steps(out, "retry_scheduled") == []
    assert pending(state, "retry") == []
    [note] = notes(out)
    assert note.template == "dunning.hard.update_payment_method"
    assert note.params["wording"] == "new_payment_method" and "reminder" not in note.template


@pytest.mark.parametrize("code", ["04", "07", "12", "14", "15", "41", "43", "46", "57", "R0", "R1", "R3"])
def test_a_visa_category_1_code_is_never_retried(code: str) -> None:
    state, out = run([fail("f1", T0, "do_not_honor", response=code)])
    assert [s.reason_code for s in steps(out, "retry_held")] == ["VISA_CATEGORY_1"]
    assert pending(state, "retry") == [] and notes(out)[0].template.endswith("update_payment_method")


def test_a_retry_that_comes_back_dead_switches_to_asking_for_a_new_payment_method() -> None:
    state, out = run([fail("f1", T0), fail("f2", T0 + DAY_MS + MIN, "lost_card")])
    templates = [n.template for n in notes(out)]
    assert templates == ["dunning.soft.reminder_1", "dunning.hard.update_payment_method"]
    assert pending(state, "retry") == []


# ---------------------------------------------------------------- network limits

def test_visa_reattempts_are_capped_per_card_per_30_days_and_counted_separately_per_initiator() -> None:
    merchant = [fail(f"m{i}", T0 + i * HOUR_MS, "do_not_honor", initiator="merchant") for i in range(16)]
    customer = fail("cust", T0 + 17 * HOUR_MS, "do_not_honor", initiator="customer")
    _, out = run([*merchant, customer])
    assert steps(out, "retry_scheduled", source="m14")  # 1 decline + 14 reattempts: one more is allowed
    [held] = steps(out, "retry_held", source="m15")  # 15 reattempts in 30 days: the cap
    assert held.reason_code == "VISA_REATTEMPT_LIMIT" and steps(out, "retry_scheduled", source="m15") == []
    assert steps(out, "retry_scheduled", source="cust")  # customer-initiated attempts have their own count


def test_mastercard_caps_ten_retries_in_24_hours_and_holds_the_retry_until_the_window_frees() -> None:
    events = [fail(f"f{i}", T0 + i * MIN, network="mastercard", advice="24") for i in range(11)]
    state, out = run(events)
    [held] = steps(out, "retry_held", source="f10")
    assert held.reason_code == "MC_RETRY_LIMIT_24H" and held.due_at == T0 + DAY_MS
    assert [s.due_at for s in steps(out, "retry_scheduled", source="f10")] == [T0 + DAY_MS]
    assert steps(out, "retry_held", source="f9") == []
    assert pending(state, "retry") == [T0 + DAY_MS]


def test_mastercard_caps_35_retries_in_30_days_across_cases() -> None:
    gap = 19 * HOUR_MS  # never more than two in 24 h, so only the 30-day cap can bite
    events = [fail(f"f{i}", T0 + i * gap, order=f"o{i}", network="mastercard", advice="24")
              for i in range(36)]
    _, out = run(events)
    assert steps(out, "retry_held", source="f34") == []
    [held] = steps(out, "retry_held", source="f35")
    assert held.reason_code == "MC_RETRY_LIMIT_30D" and held.due_at == T0 + 30 * DAY_MS


@pytest.mark.parametrize("advice", ["03", "21"])
def test_mastercard_advice_03_and_21_hold_every_retry(advice: str) -> None:
    state, out = run([fail("f1", T0, "do_not_honor", network="mastercard", advice=advice)])
    assert [s.reason_code for s in steps(out, "retry_held")] == [f"MC_ADVICE_{advice}"]
    assert pending(state, "retry") == [] and steps(out, "retry_scheduled") == []


@pytest.mark.parametrize(("advice", "hours"), [("24", 1), ("25", 24), ("26", 48), ("27", 96), ("28", 144),
                                               ("29", 192), ("30", 240)])
def test_mastercard_advice_24_to_30_spacing_is_honoured(advice: str, hours: int) -> None:
    _, out = run([fail("f1", T0, network="mastercard", advice=advice)])
    assert [s.due_at for s in steps(out, "retry_scheduled")] == [T0 + hours * HOUR_MS]


def test_retries_stop_at_the_policy_maximum_and_the_customer_is_told() -> None:
    policy = replace(POLICY, max_retries=1)
    _, out = run([fail("f1", T0, "issuer_unavailable"), fail("f2", T0 + DAY_MS + MIN, "issuer_unavailable")],
                 policy=policy)
    assert [s.reason_code for s in steps(out, "retry_held", source="f2")] == ["MAX_RETRIES"]
    assert len(notes(out)) == 1


# ---------------------------------------------------------------- stops and recovery

def test_success_stops_everything_yields_one_recovery_and_no_further_reminder() -> None:
    before, _ = run([fail("f1", T0)])
    stale = dunning.due_actions(before, "c1", T0 + 30 * DAY_MS)
    assert stale, "the failure scheduled retries and reminders"
    state, out = run([fail("f1", T0), paid("ok", T0 + 2 * HOUR_MS)])
    [rec] = recoveries(out)
    assert (rec.event_id, rec.recovered_by, rec.reminder_no) == ("o1:recovered", "reminder", 1)
    assert rec.time_to_recover_ms == 2 * HOUR_MS and rec.amount_minor == 5_000 and rec.variant == "control"
    assert [s.reason_code for s in steps(out, "stopped")] == ["PAID"]
    assert dunning.next_due(state) is None and state.cases == ()
    for due in stale:  # the timer may still publish what was scheduled before the payment
        assert dunning.on_due(state, due, ctx(), POLICY, due.occurred_at) == (state, [])
    again, more = dunning.on_event(state, paid("ok2", T0 + 3 * HOUR_MS), ctx(), POLICY, T0 + 3 * HOUR_MS)
    assert more == [] and again.cases == ()


def test_a_customer_who_already_paid_is_never_dunned_by_a_late_failure() -> None:
    _, out = run([paid("ok", T0), fail("late", T0 + MIN)])
    assert out == []


def test_a_new_payment_method_succeeding_closes_the_case_credited_to_the_customer() -> None:
    _, out = run([fail("f1", T0, "issuer_unavailable"), paid("ok", T0 + HOUR_MS, card="card-2")])
    assert [r.recovered_by for r in recoveries(out)] == ["customer"]


def test_a_success_after_a_silent_retry_is_credited_to_the_retry() -> None:
    _, out = run([fail("f1", T0, "issuer_unavailable"), paid("ok", T0 + DAY_MS + MIN)])
    assert steps(out, "retry_due") and [r.recovered_by for r in recoveries(out)] == ["silent_retry"]


def test_a_new_card_paying_after_silent_retries_is_credited_to_the_customer_not_the_retry() -> None:
    _, out = run([fail("f1", T0, "issuer_unavailable"), paid("ok", T0 + DAY_MS + MIN, card="card-2")])
    assert steps(out, "retry_due") and [r.recovered_by for r in recoveries(out)] == ["customer"]


def test_the_end_of_the_dunning_window_stops_the_case_for_good() -> None:
    state, out = run([fail("f1", T0)], until=T0 + 15 * DAY_MS)
    [stop] = steps(out, "stopped")
    assert stop.reason_code == "WINDOW_END" and stop.occurred_at == T0 + POLICY.window_days * DAY_MS
    assert state.cases == () and dunning.next_due(state) is None
    assert all(s.occurred_at < stop.occurred_at for s in steps(out) if s is not stop)
    f2 = fail("f2", T0 + 16 * DAY_MS)
    _, later = dunning.on_event(state, f2, ctx(), POLICY, T0 + 16 * DAY_MS, meaning(f2))
    assert later == []


def test_a_failure_arriving_before_the_timer_closed_a_lapsed_case_does_not_extend_it() -> None:
    state, _ = run([fail("f1", T0)])
    late = T0 + 16 * DAY_MS
    f2 = fail("f2", late)
    state, out = dunning.on_event(state, f2, ctx(), POLICY, late, meaning(f2))
    assert [(s.action, s.reason_code, s.occurred_at) for s in steps(out)] == [
        ("stopped", "WINDOW_END", T0 + POLICY.window_days * DAY_MS)]
    assert state.cases == () and notes(out) == []


def test_a_chargeback_stops_everything_and_blocks_new_cases() -> None:
    cb = Chargeback(event_id="cb", customer_id="c1", occurred_at=T0 + HOUR_MS, payment_id="pay-old",
                    reason="fraud")
    state, out = run([fail("f1", T0), cb, fail("f2", T0 + 2 * HOUR_MS, order="o2")])
    assert [(s.case_id, s.reason_code) for s in steps(out, "stopped")] == [("o1", "CHARGEBACK"),
                                                                          ("o2", "CUSTOMER_BLOCKED")]
    assert len(notes(out)) == 1 and state.cases == ()


def test_a_fraud_block_stops_every_case_and_sends_nothing() -> None:
    state, out = run([fail("f1", T0, "issuer_unavailable"), fail("f2", T0 + MIN, "fraudulent", order="o2")])
    assert [(s.case_id, s.reason_code) for s in steps(out, "stopped")] == [("o1", "FRAUD_BLOCK"),
                                                                          ("o2", "FRAUD_BLOCK")]
    assert notes(out) == [] and state.cases == () and dunning.next_due(state) is None


def test_a_repeated_due_action_fires_nothing() -> None:
    state, _ = run([fail("f1", T0)])
    assert dunning.due_actions(state, "c1", T0 + DAY_MS - 1) == [] and dunning.next_due(state) == T0 + DAY_MS
    [due] = dunning.due_actions(state, "c1", T0 + DAY_MS)
    assert due.event_id == f"o1:retry:{due.seq}"
    fired, out = dunning.on_due(state, due, ctx(), POLICY, due.occurred_at)
    assert [s.action for s in steps(out)] == ["retry_due"]
    assert dunning.on_due(fired, due, ctx(), POLICY, due.occurred_at) == (fired, [])
    unknown = DueAction(event_id="x", customer_id="c1", occurred_at=T0, case_id="nope", action="retry", seq=1)
    assert dunning.on_due(fired, unknown, ctx(), POLICY, T0) == (fired, [])


def test_the_whole_timeline_for_a_fixed_input_is_deterministic() -> None:
    events: list[InputEvent] = [
        fail("f1", T0, amount=20_000), fail("f2", T0 + DAY_MS + MIN, "issuer_unavailable"),
        fail("g1", T0 + 2 * HOUR_MS, "expired_card", order="o2", card="card-9"), paid("ok", T0 + 5 * DAY_MS),
    ]
    first = run(events, until=T0 + 20 * DAY_MS)
    second = run(events, until=T0 + 20 * DAY_MS)
    assert first == second
    ids = [o.event_id for o in first[1]]
    assert len(ids) == len(set(ids))  # every output id is unique, so consumers can deduplicate


# ---------------------------------------------------------------- reminders: quiet hours, cap, consent

AMSTERDAM_NIGHTS = Preferences(channels=("push", "email"), timezone="Europe/Amsterdam",
                               quiet_hours_start=22 * 60, quiet_hours_end=7 * 60)


@pytest.mark.parametrize(("failed_at", "send_at"), [
    (1_795_473_000_000, 1_795_500_000_000),  # 23:30 CET -> 07:00 CET next day (crosses midnight)
    (1_795_485_600_000, 1_795_500_000_000),  # 03:00 CET -> 07:00 CET the same day
    (1_774_735_200_000, 1_774_760_400_000),  # 23:00 CET on 28 March -> 07:00 CEST: DST starts that night
    (1_792_875_600_000, 1_792_908_000_000),  # 23:00 CEST on 24 October -> 07:00 CET: DST ends that night
])
def test_reminders_wait_for_the_end_of_quiet_hours_in_the_customers_time_zone(failed_at: int,
                                                                               send_at: int) -> None:
    _, out = run([fail("f1", failed_at)], ctx(prefs=AMSTERDAM_NIGHTS))
    [note] = notes(out)
    [sent] = steps(out, "reminder_sent")
    assert note.send_at == send_at and sent.reason_code == "QUIET_HOURS" and sent.due_at == send_at
    assert note.link_expires_at is not None and note.link_expires_at > send_at


def test_a_daytime_reminder_goes_at_once() -> None:
    _, out = run([fail("f1", T0)], ctx(prefs=AMSTERDAM_NIGHTS))  # 13:00 in Amsterdam
    assert notes(out)[0].send_at == T0 and steps(out, "reminder_sent")[0].reason_code != "QUIET_HOURS"


def test_reminders_are_capped_per_window_across_cases() -> None:
    policy = replace(POLICY, max_reminders_per_window=2)
    _, out = run([fail(f"f{i}", T0 + i * HOUR_MS, order=f"o{i}") for i in range(3)], policy=policy)
    assert len(notes(out)) == 2
    assert [s.reason_code for s in steps(out, "reminder_held")] == ["REMINDER_CAP"]


def test_later_reminders_follow_the_gaps_and_end_with_the_window() -> None:
    _, out = run([fail("f1", T0, "expired_card")], until=T0 + 20 * DAY_MS)
    sent = [n.send_at - T0 for n in notes(out)]
    assert sent == [0, 72 * HOUR_MS, (72 + 96) * HOUR_MS, (72 + 96 + 120) * HOUR_MS]


def test_no_reminder_without_transactional_consent() -> None:
    _, out = run([fail("f1", T0)], ctx(prefs=Preferences(transactional_consent=False)))
    assert notes(out) == [] and [s.reason_code for s in steps(out, "reminder_held")] == ["NO_CONSENT"]
    assert steps(out, "retry_scheduled")


def test_the_holdout_gets_silent_retries_only() -> None:
    _, out = run([fail("f1", T0, amount=50_000)], ctx(variant="holdout"), until=T0 + 20 * DAY_MS)
    assert notes(out) == [] and steps(out, "offer_made") == [] and steps(out, "retry_due")
    assert {s.variant for s in steps(out)} == {"holdout"}


# ---------------------------------------------------------------- offers

def test_a_customer_short_of_funds_on_a_large_order_is_offered_instalments_with_an_expiry() -> None:
    _, out = run([fail("f1", T0, amount=20_000)])
    [note] = notes(out)
    assert note.offer is not None and (note.offer.kind, note.offer.instalments) == ("instalments", 3)
    assert note.offer.expires_at == note.send_at + POLICY.offers.ttl_hours * HOUR_MS
    assert [s.reason_code for s in steps(out, "offer_made")] == ["OFFER_INSTALMENTS"]


def test_no_offer_for_a_customer_not_in_good_standing() -> None:
    _, out = run([fail("f1", T0, amount=20_000)], ctx(good=False), until=T0 + 20 * DAY_MS)
    assert notes(out) and all(n.offer is None for n in notes(out)) and steps(out, "offer_made") == []


def test_no_offer_in_the_variant_without_offers() -> None:
    _, out = run([fail("f1", T0, amount=20_000)], ctx(variant="no_offer"))
    assert notes(out)[0].offer is None


def test_a_small_discount_comes_with_a_later_reminder_and_stays_within_the_per_offer_cap() -> None:
    _, out = run([fail("f1", T0, "expired_card", amount=100_000)], until=T0 + 4 * DAY_MS)
    offers = [n.offer for n in notes(out)]
    assert offers[0] is None
    # 5 % of 1000.00 is over the 15.00 per-offer cap, so the percentage comes down to 1 %
    assert offers[1] is not None and (offers[1].kind, offers[1].percent_off) == ("discount", 1)


def test_the_offer_budget_allows_one_offer_per_customer_per_window() -> None:
    events = [fail("f1", T0, amount=20_000), fail("g1", T0 + HOUR_MS, order="o2", amount=30_000)]
    _, out = run(events)
    assert [n.offer is not None for n in notes(out)] == [True, False]


def test_an_offer_taken_up_in_time_is_honoured_on_recovery() -> None:
    _, out = run([fail("f1", T0, amount=20_000), paid("ok", T0 + 3 * HOUR_MS, amount=20_000)])
    [rec] = recoveries(out)
    assert (rec.recovered_by, rec.offer_id) == ("offer", notes(out)[0].offer.offer_id)  # type: ignore[union-attr]


def test_an_expired_offer_is_not_credited() -> None:
    _, out = run([fail("f1", T0, amount=20_000), paid("ok", T0 + 2 * DAY_MS, amount=20_000)])
    [rec] = recoveries(out)
    assert (rec.recovered_by, rec.offer_id, rec.reminder_no) == ("reminder", None, 1)


# ---------------------------------------------------------------- state

def test_dunning_state_survives_the_changelog_encoding() -> None:
    state, _ = run([fail("f1", T0, amount=20_000), fail("g1", T0 + HOUR_MS, "expired_card", order="o2"),
                    paid("ok", T0 + 2 * HOUR_MS, order="o9")])
    assert state.offers and state.attempts and state.closed and state.cases
    assert state_codec.loads(DunningState, state_codec.dumps(state)) == state


def test_state_stays_bounded_however_many_orders_fail() -> None:
    events = [fail(f"f{i}", T0 + i * MIN, "issuer_unavailable", order=f"o{i}") for i in range(40)]
    state, out = run(events)
    assert len(state.cases) == 10 and len(steps(out, "stopped")) == 30
    assert {s.reason_code for s in steps(out, "stopped")} == {"CASE_LIMIT"}


def test_a_payment_our_checkout_declined_opens_no_dunning_case() -> None:
    """A card tester's hard declines must not become reminders asking the tester for a new payment method."""
    ref = PaymentRef(payment_id="pay-f1", order_id="o1", amount_minor=5_000, currency="EUR", method="card",
                     initiator="customer", network="visa", card_issuer="bank",
                     identifiers=("card:card-1",), attempted_at=T0 - MIN, checkout_outcome="decline")
    declined = dataclasses.replace(ctx(), payment=ref)
    state, out = run([fail("f1", T0, "stolen_card")], declined, until=T0 + 30 * 24 * 60 * MIN)
    assert out == [] and state.cases == ()
    _, approved = run([fail("f1", T0, "stolen_card")], dataclasses.replace(declined, payment=dataclasses.replace(
        ref, checkout_outcome="approve")))
    assert steps(approved, "case_opened"), "the same failure after an approval is dunned"


def test_after_mastercard_advice_03_the_card_is_not_retried_for_30_days_whatever_the_order() -> None:
    day = 24 * 60 * MIN
    dead = fail("f1", T0, "do_not_honor", network="mastercard", advice="03", order="o1")
    other_order = fail("f2", T0 + 5 * day, "insufficient_funds", network="mastercard", order="o2")
    _, out = run([dead, other_order])
    assert not [s for s in steps(out, "retry_scheduled") if s.case_id == "o2"]
    assert [s.reason_code for s in steps(out, "retry_held") if s.case_id == "o2"] == ["MC_NO_RETRY"]
    later = fail("f3", T0 + 31 * day, "insufficient_funds", network="mastercard", order="o3")
    _, out = run([dead, later])
    assert [s for s in steps(out, "retry_scheduled") if s.case_id == "o3"], "after 30 days the card may be retried"
