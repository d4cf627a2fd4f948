"""The customer profile: every input event folds in, trust comes from success, bounds hold, and inputs
never change."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from agents.rules.declines import classify
from agents.rules.events import (
    AuthenticationResult,
    Chargeback,
    CustomerPreferencesUpdated,
    DeviceSeen,
    InputEvent,
    OrderDelivered,
    OrderPlaced,
    PaymentAttempted,
    PaymentFailed,
    PaymentSucceeded,
    RefundIssued,
    RefundRequested,
)
from agents.rules.ledger import PaymentRef, ref_of
from agents.rules.profile import CustomerProfile, has_bad_history, update_profile
from agents.rules.profile.records import (
    MAX_CARDS_PER_ISSUER,
    MAX_ISSUERS,
    MAX_LOW_VALUE_CARDS,
    MAX_RECENT,
    MAX_SEEN,
    Money,
)
from pipeline.policies import load_declines
from pipeline.wire import state_codec

DECLINES = load_declines()
T0 = 1_760_000_000_000
DAY = 86_400_000
HALF_LIFE = 180 * DAY


def bad(p: CustomerProfile, now: int = T0 + 2 * DAY) -> bool:
    return has_bad_history(p, now, HALF_LIFE, bad_from=0.5)
_n = itertools.count()


def attempt(cid: str = "c1", at: int = T0, **kw: Any) -> PaymentAttempted:
    n = next(_n)
    base: dict[str, Any] = dict(
        event_id=f"a{n}", customer_id=cid, occurred_at=at, payment_id=f"p{n}", order_id=f"o{n}",
        amount_minor=4_500, currency="EUR", method="card", initiator="customer", device_id="dev-1",
        ip="192.0.2.1", ip_country="DE", shipping_address_id="addr-1", card_fingerprint="card-1",
        card_issuer="bank-de", card_country="DE", customer_country="DE", sca_applies=True, network="visa")
    return PaymentAttempted(**{**base, **kw})


def success(a: PaymentAttempted, **kw: Any) -> PaymentSucceeded:
    base: dict[str, Any] = dict(event_id=f"{a.event_id}-ok", customer_id=a.customer_id,
                                occurred_at=a.occurred_at + 1, payment_id=a.payment_id,
                                authentication="frictionless")
    return PaymentSucceeded(**{**base, **kw})


def failure(a: PaymentAttempted, code: str = "insufficient_funds") -> PaymentFailed:
    return PaymentFailed(event_id=f"{a.event_id}-ko", customer_id=a.customer_id,
                         occurred_at=a.occurred_at + 1, payment_id=a.payment_id, decline_code=code,
                         network="visa", initiator="customer")


def auth(a: PaymentAttempted, outcome: str, requested: str | None = None, accepted: bool | None = None,
         issuer: str | None = None) -> AuthenticationResult:
    return AuthenticationResult(event_id=f"{a.event_id}-auth", customer_id=a.customer_id,
                                occurred_at=a.occurred_at + 1, payment_id=a.payment_id,
                                exemption_requested=requested, exemption_accepted=accepted,
                                challenge_outcome=outcome, card_issuer=issuer)  # type: ignore[arg-type]


def fold(p: CustomerProfile, *events: InputEvent, payment: PaymentRef | None = None) -> CustomerProfile:
    for e in events:
        decline = classify(e, DECLINES) if isinstance(e, PaymentFailed) else None
        p = update_profile(p, e, e.occurred_at, payment=payment, decline=decline)
    return p


def paid(p: CustomerProfile, a: PaymentAttempted, **kw: Any) -> CustomerProfile:
    """The attempt, then its success reported by payment_id only (the ledger supplies the rest)."""
    return fold(fold(p, a), success(a, **kw), payment=ref_of(a))


def order(channel: str, at: int = T0, order_id: str | None = None, **kw: Any) -> OrderPlaced:
    n = next(_n)
    return OrderPlaced(event_id=f"ord{n}", customer_id="c1", occurred_at=at, order_id=order_id or f"o{n}",
                       channel=channel, amount_minor=3_000, currency="EUR", **kw)  # type: ignore[arg-type]


# ---- what each event teaches -------------------------------------------------------------------------------

def test_an_attempt_records_devices_ips_countries_addresses_cards_methods_and_issuers() -> None:
    a = attempt()
    p = fold(CustomerProfile.empty("c1"), a)
    assert [s.value for s in p.devices] == ["dev-1"] and [s.value for s in p.ips] == ["192.0.2.1"]
    assert [s.value for s in p.ip_countries] == ["DE"] and [s.value for s in p.addresses] == ["addr-1"]
    assert [s.value for s in p.cards] == ["card-1"] and [s.value for s in p.methods] == ["card"]
    assert p.issuer("bank-de") is not None and p.issuer_of_card("card-1") == "bank-de"
    assert p.home_country == "DE" and p.first_seen_at == T0 and p.payments.attempted == 1


def test_seen_entries_keep_first_and_last_seen_and_a_count() -> None:
    p = fold(CustomerProfile.empty("c1"), attempt(at=T0), attempt(at=T0 + 5 * DAY))
    device = p.devices[0]
    assert (device.first_at, device.last_at, device.count) == (T0, T0 + 5 * DAY, 2)


def test_trust_comes_from_a_successful_payment_not_from_being_seen() -> None:
    p = fold(CustomerProfile.empty("c1"), DeviceSeen(
        event_id="ds", customer_id="c1", occurred_at=T0, device_id="dev-1", ip="192.0.2.1", ip_country="DE",
        user_agent="ua"))
    a = attempt(at=T0 + 1)
    p = fold(p, a, failure(a), payment=ref_of(a))
    assert not p.paid_with("devices", "dev-1") and not p.paid_with("cards", "card-1")
    p = paid(p, attempt(at=T0 + DAY))
    for kind, value in (("devices", "dev-1"), ("cards", "card-1"), ("addresses", "addr-1"),
                        ("ips", "192.0.2.1"), ("ip_countries", "DE"), ("methods", "card")):
        assert p.paid_with(kind, value), kind


def test_a_success_reported_by_payment_id_only_is_tied_back_through_the_ledger() -> None:
    a = attempt(card_fingerprint="card-9", method="klarna", amount_minor=1_234, currency="SEK")
    p = paid(CustomerProfile.empty("c1"), a)
    assert p.paid_with("cards", "card-9") and p.paid_with("methods", "klarna")
    assert p.payments.succeeded == 1 and p.payments.paid == (Money("SEK", 1_234),)


def test_failures_count_per_method_and_fraud_declines_mark_bad_history() -> None:
    a = attempt(method="sofort")
    p = fold(CustomerProfile.empty("c1"), a, failure(a), payment=ref_of(a))
    assert p.payments.failed == 1 and p.methods[0].failed == 1 and p.recent_declines == (a.occurred_at + 1,)
    assert not bad(p)
    b = attempt(at=T0 + DAY)
    assert bad(fold(p, b, failure(b, "fraudulent"), payment=ref_of(b)))


def test_a_chargeback_is_bad_history_until_it_has_faded_below_half_its_weight() -> None:
    p = fold(CustomerProfile.empty("c1"), Chargeback(event_id="cb", customer_id="c1", occurred_at=T0,
                                                     payment_id="p", reason="fraud"))
    assert bad(p) and p.chargebacks == 1 and p.last_chargeback_at == T0 and p.chargeback_times == (T0,)
    assert bad(p, now=T0 + HALF_LIFE) and not bad(p, now=T0 + HALF_LIFE + DAY)


def test_authentication_history_is_kept_per_issuer() -> None:
    p = CustomerProfile.empty("c1")
    fr, de = attempt(card_issuer="bank-fr", card_fingerprint="card-fr"), attempt(card_issuer="bank-de")
    p = fold(p, fr, auth(fr, "passed", "low_value", False), payment=ref_of(fr))
    p = fold(p, de, auth(de, "not_challenged", "tra", True), payment=ref_of(de))
    p = fold(p, fr, auth(fr, "abandoned"), payment=ref_of(fr))
    french, german = p.issuer("bank-fr"), p.issuer("bank-de")
    assert french is not None and german is not None
    assert (french.exemptions_requested, french.exemptions_accepted, french.exemptions_rejected) == (1, 0, 1)
    assert (french.challenges_passed, french.challenges_abandoned) == (1, 1)
    assert (german.exemptions_requested, german.exemptions_accepted, german.challenges_passed) == (1, 1, 0)
    assert (p.challenges.passed, p.challenges.failed, p.challenges.abandoned) == (1, 0, 1)


def test_an_authentication_result_without_issuer_finds_it_through_the_card() -> None:
    a = attempt(card_issuer="bank-fr", card_fingerprint="card-fr")
    p = fold(CustomerProfile.empty("c1"), a)
    ref = PaymentRef(**{**{f: getattr(ref_of(a), f) for f in ref_of(a).__dataclass_fields__},
                        "card_issuer": None})
    p = update_profile(p, auth(a, "failed", "low_value", False), T0, payment=ref)
    record = p.issuer("bank-fr")
    assert record is not None and record.exemptions_rejected == 1 and record.challenges_failed == 1


def test_low_value_counter_grows_with_exempted_payments_and_resets_on_authentication() -> None:
    p = CustomerProfile.empty("c1")
    for k in range(3):
        p = paid(p, attempt(at=T0 + k, amount_minor=1_000), exemption="low_value")
    assert p.low_value_on("card-1").payments == 3
    assert p.low_value_on("card-1").amounts == (Money("EUR", 3_000),)
    assert p.low_value_on("card-other").payments == 0
    challenged = paid(p, attempt(at=T0 + DAY), authentication="challenge")
    assert challenged.low_value_on("card-1").payments == 0
    a = attempt(at=T0 + DAY)
    passed = fold(p, a, auth(a, "passed"), payment=ref_of(a))
    assert passed.low_value_on("card-1").payments == 0


def test_a_tra_exempted_or_frictionless_payment_leaves_the_low_value_counter_alone() -> None:
    p = paid(CustomerProfile.empty("c1"), attempt(amount_minor=1_000), exemption="low_value")
    p = paid(p, attempt(at=T0 + 1), exemption="tra")
    p = paid(p, attempt(at=T0 + 2))
    assert p.low_value_on("card-1").payments == 1


def test_orders_are_counted_by_channel_with_their_value() -> None:
    p = fold(CustomerProfile.empty("c1"), order("store"), order("store"), order("online", order_id="web-1"))
    assert p.store_orders.count == 2 and p.store_orders.value == (Money("EUR", 6_000),)
    assert p.online_orders.count == 1 and p.first_online_order_id == "web-1"


def test_a_checkout_attempt_is_an_online_order_even_without_an_order_event() -> None:
    p = fold(CustomerProfile.empty("c1"), order("store"), attempt(order_id="web-7"))
    assert p.first_online_order_id == "web-7"
    assert fold(CustomerProfile.empty("c1"), attempt(initiator="merchant")).first_online_order_id is None


def test_a_new_device_from_a_new_country_raises_a_takeover_alert_only_on_an_account_with_devices() -> None:
    seen = DeviceSeen(event_id="ds", customer_id="c1", occurred_at=T0 + DAY, device_id="dev-x",
                      ip="198.51.100.3", ip_country="BR", user_agent="ua")
    assert fold(CustomerProfile.empty("c1"), seen).device_alert is None
    p = fold(paid(CustomerProfile.empty("c1"), attempt()), seen)
    assert p.device_alert is not None
    assert (p.device_alert.device_id, p.device_alert.country) == ("dev-x", "BR")
    usual = DeviceSeen(event_id="ds2", customer_id="c1", occurred_at=T0 + DAY, device_id="dev-1",
                       ip="198.51.100.3", ip_country="BR", user_agent="ua")
    assert fold(paid(CustomerProfile.empty("c1"), attempt()), usual).device_alert is None


EVENTS: list[InputEvent] = [
    attempt(), success(attempt()), failure(attempt()), auth(attempt(), "passed"),
    Chargeback(event_id="cb", customer_id="c1", occurred_at=T0, payment_id="p1", reason="fraud"),
    DeviceSeen(event_id="ds", customer_id="c1", occurred_at=T0, device_id="d", ip="192.0.2.9",
               ip_country="DE", user_agent="ua"),
    order("online"),
    OrderDelivered(event_id="od", customer_id="c1", occurred_at=T0, order_id="o1"),
    RefundRequested(event_id="rr", customer_id="c1", occurred_at=T0, refund_id="r1", order_id="o1",
                    amount_minor=100, currency="EUR", reason="damaged", claimant_name="C",
                    claimant_email="c@example.test"),
    RefundIssued(event_id="ri", customer_id="c1", occurred_at=T0, refund_id="r1", destination="card"),
    CustomerPreferencesUpdated(event_id="cp", customer_id="c1", occurred_at=T0, name="C", locale="nl-NL",
                               timezone="Europe/Amsterdam", channels=("email",)),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_input_event_type_folds_in_without_changing_its_input(event: InputEvent) -> None:
    before = paid(CustomerProfile.empty("c1"), attempt(at=T0 - DAY))
    snapshot = copy.deepcopy(before)
    decline = classify(event, DECLINES) if isinstance(event, PaymentFailed) else None
    after = update_profile(before, event, T0, decline=decline)
    assert before == snapshot
    changed = type(event).__name__ != "CustomerPreferencesUpdated"
    assert (after != before) is changed


# ---- bounds, immutability, storage -------------------------------------------------------------------------

def test_profile_stays_bounded_after_thousands_of_events() -> None:
    p = CustomerProfile.empty("big")
    for k in range(3_000):
        a = attempt("big", T0 + k * 60_000, device_id=f"d{k}", ip=f"192.0.2.{k % 250}",
                    ip_country=f"C{k % 60}", card_fingerprint=f"c{k}", card_issuer=f"bank{k % 40}",
                    shipping_address_id=f"a{k}", method=f"m{k % 30}", amount_minor=1_000)
        p = paid(p, a, exemption="low_value")
        p = fold(p, a, auth(a, "abandoned", "low_value", False), failure(a), payment=ref_of(a))
    for name in ("devices", "ips", "ip_countries", "addresses", "cards", "methods"):
        assert len(getattr(p, name)) <= MAX_SEEN, name
    assert len(p.issuers) <= MAX_ISSUERS and all(len(i.cards) <= MAX_CARDS_PER_ISSUER for i in p.issuers)
    assert len(p.low_value) <= MAX_LOW_VALUE_CARDS
    assert len(p.recent_attempts) <= MAX_RECENT and len(p.recent_declines) <= MAX_RECENT
    assert p.payments.succeeded == 3_000 and p.challenges.abandoned == 3_000  # aggregates stay exact


def test_update_profile_never_mutates_its_input() -> None:
    p = CustomerProfile.empty("c1")
    history = []
    for k in range(50):
        a = attempt(at=T0 + k * DAY, card_fingerprint=f"card-{k % 3}")
        history.append((p, copy.deepcopy(p)))
        p = paid(p, a, exemption="low_value" if k % 2 else None)
    assert all(before == snapshot for before, snapshot in history)
    assert len({id(before) for before, _ in history}) == len(history)


def test_a_rich_profile_survives_the_state_codec() -> None:
    p = CustomerProfile.empty("c1")
    for k in range(5):
        a = attempt(at=T0 + k * DAY, amount_minor=1_000)
        p = fold(paid(p, a, exemption="low_value"), auth(a, "passed", "low_value", False), payment=ref_of(a))
    p = fold(p, order("store"), DeviceSeen(event_id="ds", customer_id="c1", occurred_at=T0 + 9 * DAY,
                                           device_id="dev-new", ip="198.51.100.1", ip_country="BR",
                                           user_agent="ua"))
    assert state_codec.loads(CustomerProfile, state_codec.dumps(p)) == p
