"""The simulator: deterministic, well-formed, free of real personal data, and every story says what it should."""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import TypeVar

from agents.rules.events import (
    AuthenticationResult,
    Chargeback,
    CustomerPreferencesUpdated,
    DeviceSeen,
    OrderDelivered,
    OrderPlaced,
    PaymentAttempted,
    PaymentFailed,
    PaymentSucceeded,
    RefundIssued,
    RefundRequested,
)
from pipeline.sim import SEED_STORIES, STORIES, Labelled, generate, label_index, story_events, to_jsonl
from pipeline.sim.events import purchase
from pipeline.sim.world import World, price
from pipeline.wire import jsonio

START = 1_760_000_000_000
DAY = 86_400_000
HOUR = 3_600_000
EEA = {"AT", "BE", "DE", "DK", "ES", "FI", "FR", "IE", "IT", "NL", "PL", "PT", "SE"}
EUR_CENTS = {"EUR": 1.0, "SEK": 0.087, "GBP": 1.17}
DOC_NETS = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
POPULATION = generate(3, 400, START, 30)
E = TypeVar("E")


def of_type(labelled: Sequence[Labelled], kind: type) -> list[Labelled]:
    return [x for x in labelled if isinstance(x.event, kind)]


def events(labelled: Sequence[Labelled], kind: type[E]) -> list[E]:
    return [x.event for x in labelled if isinstance(x.event, kind)]


def pairs(labelled: Sequence[Labelled], kind: type[E]) -> list[tuple[Labelled, E]]:
    return [(x, x.event) for x in labelled if isinstance(x.event, kind)]


def by_actor(labelled: Sequence[Labelled], actor: str) -> list[Labelled]:
    return [x for x in labelled if x.actor == actor]


def in_story(story: str, labelled: Sequence[Labelled] = POPULATION) -> list[Labelled]:
    return [x for x in labelled if x.story == story]


def attempts_by_payment(labelled: Sequence[Labelled]) -> dict[str, PaymentAttempted]:
    return {a.payment_id: a for a in events(labelled, PaymentAttempted)}


def eur(amount_minor: int, currency: str) -> int:
    return round(amount_minor * EUR_CENTS[currency])


# ---------------------------------------------------------------- determinism and shape

def test_the_same_seed_gives_the_same_population() -> None:
    assert generate(3, 400, START, 30) == POPULATION
    assert list(to_jsonl(generate(8, 40, START))) == list(to_jsonl(generate(8, 40, START)))


def test_a_different_seed_gives_a_different_population() -> None:
    other = generate(4, 400, START, 30)
    assert [x.event for x in other] != [x.event for x in POPULATION]


def test_events_are_in_time_order_within_the_history() -> None:
    times = [x.event.occurred_at for x in POPULATION]
    assert times == sorted(times)
    assert times[0] >= START and times[-1] < START + 30 * DAY


def test_every_event_has_a_unique_id_derived_from_the_seed() -> None:
    ids = [x.event.event_id for x in POPULATION]
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("sim-3-") for i in ids)


def test_the_population_has_exactly_the_customers_asked_for() -> None:
    customers = {x.event.customer_id for x in POPULATION}
    assert len(customers) == 400
    assert all(re.fullmatch(r"cust-\d{5}", c) for c in customers)


def test_a_few_hundred_customers_make_ten_to_thirty_events_each_on_average() -> None:
    assert 10 <= len(POPULATION) / 400 <= 30


def test_every_event_round_trips_through_its_record_and_the_publish_format() -> None:
    sample = generate(5, 40, START)
    for x in sample:
        assert type(x.event).from_record(x.event.to_record()) == x.event
    lines = list(to_jsonl(sample))
    assert len(lines) == len(sample)
    for n, (line, x) in enumerate(zip(lines, sample, strict=True), start=1):
        doc = json.loads(line)
        assert doc["type"] == type(x.event).__name__
        assert isinstance(doc["value"]["occurred_at"], int)
        assert jsonio.parse_line(line, n) == (x.event.TOPIC, x.event)


def test_the_label_index_finds_every_event_by_its_id() -> None:
    index = label_index(POPULATION)
    assert len(index) == len(POPULATION)
    assert all(index[x.event.event_id] is x for x in POPULATION)


# ---------------------------------------------------------------- consistency of the traffic

def test_every_outcome_and_chargeback_follows_an_attempt_of_the_same_customer() -> None:
    attempted: dict[str, PaymentAttempted] = {}
    checked: Counter[str] = Counter()
    for x in POPULATION:
        e = x.event
        if isinstance(e, PaymentAttempted):
            attempted[e.payment_id] = e
        elif isinstance(e, PaymentSucceeded | PaymentFailed | AuthenticationResult | Chargeback):
            a = attempted.get(e.payment_id)
            assert a is not None and a.customer_id == e.customer_id and a.occurred_at < e.occurred_at
            checked[type(e).__name__] += 1
    assert set(checked) == {"PaymentSucceeded", "PaymentFailed", "AuthenticationResult", "Chargeback"}


def test_deliveries_payments_and_refunds_follow_an_order_of_the_same_customer() -> None:
    orders: dict[str, OrderPlaced] = {}
    claims: dict[str, RefundRequested] = {}
    checked: Counter[str] = Counter()
    for x in POPULATION:
        e = x.event
        if isinstance(e, OrderPlaced):
            orders[e.order_id] = e
        elif isinstance(e, OrderDelivered | PaymentAttempted | RefundRequested):
            assert orders[e.order_id].customer_id == e.customer_id
            if isinstance(e, RefundRequested):
                claims[e.refund_id] = e
            checked[type(e).__name__] += 1
        elif isinstance(e, RefundIssued):
            assert claims[e.refund_id].customer_id == e.customer_id
            checked[type(e).__name__] += 1
    assert set(checked) == {"OrderDelivered", "PaymentAttempted", "RefundRequested", "RefundIssued"}


def test_a_legitimate_customer_sets_preferences_before_anything_else() -> None:
    first: dict[str, Labelled] = {}
    for x in POPULATION:
        first.setdefault(x.event.customer_id, x)
    legit = [x for x in first.values() if x.actor == "legit"]
    assert len(legit) > 300
    assert all(isinstance(x.event, CustomerPreferencesUpdated) for x in legit)


def test_no_real_looking_personal_data() -> None:
    checked: Counter[str] = Counter()
    for x in POPULATION:
        e = x.event
        if isinstance(e, RefundRequested):
            assert e.claimant_email.endswith("@example.test")
            assert re.fullmatch(r"Customer \d+", e.claimant_name)
            checked["claimant"] += 1
        if isinstance(e, CustomerPreferencesUpdated):
            assert re.fullmatch(r"Customer \d+", e.name)
            checked["name"] += 1
        ip = getattr(e, "ip", None)
        if ip is not None:
            assert any(ipaddress.ip_address(ip) in net for net in DOC_NETS), ip
            checked["ip"] += 1
    assert set(checked) == {"claimant", "name", "ip"}


def test_money_is_mostly_euro_with_realistic_amounts() -> None:
    attempts = events(POPULATION, PaymentAttempted)
    currencies = Counter(a.currency for a in attempts)
    assert set(currencies) == {"EUR", "SEK", "GBP"}
    assert currencies["EUR"] > len(attempts) / 2
    amounts = [eur(a.amount_minor, a.currency) for a in attempts if a.initiator == "customer"]
    assert all(100 <= v <= 130_000 for v in amounts)
    assert any(v > 50_000 for v in amounts) and any(v < 3_000 for v in amounts)


def test_cards_carry_a_network_and_sca_applies_only_inside_the_eea() -> None:
    for a in events(POPULATION, PaymentAttempted):
        if a.method == "card":
            assert a.network in ("visa", "mastercard") and a.card_fingerprint and a.card_country
            assert a.sca_applies == (a.customer_country in EEA and a.card_country in EEA)
        else:
            assert a.network is None and a.card_fingerprint is None


def test_most_payments_are_customer_initiated_and_subscriptions_are_merchant_initiated() -> None:
    attempts = pairs(POPULATION, PaymentAttempted)
    merchant = [(x, a) for x, a in attempts if a.initiator == "merchant"]
    assert 0 < len(merchant) < len(attempts) / 10
    assert {x.story for x, _ in merchant} == {"subscription"}
    assert all(a.device_id is None for _, a in merchant)


def test_payment_methods_follow_each_country() -> None:
    by_country: dict[str, Counter[str]] = defaultdict(Counter)
    for a in events(in_story("everyday"), PaymentAttempted):
        by_country[a.customer_country][a.method] += 1
    nl = by_country["NL"]
    assert nl["ideal"] > 0.4 * sum(nl.values())
    assert "sofort" in by_country["DE"] and "ideal" not in by_country["DE"]
    assert by_country["FR"].most_common(1)[0][0] == "card"


def test_authentication_is_consistent_with_sca() -> None:
    """An exemption only when it was asked and accepted; a challenge always reported; low value under EUR 30 and
    never more than 5 in a row on a card without a challenge; out-of-scope payments are not authenticated."""
    attempts = attempts_by_payment(POPULATION)
    results = {r.payment_id: r for r in events(POPULATION, AuthenticationResult)}
    streak: Counter[str] = Counter()
    for ok in events(POPULATION, PaymentSucceeded):
        a, r = attempts[ok.payment_id], results.get(ok.payment_id)
        if ok.authentication == "challenge":
            assert r is not None and r.challenge_outcome == "passed"
            streak[a.card_fingerprint or ""] = 0
        elif ok.authentication == "frictionless":
            assert r is not None and r.exemption_accepted is True and r.exemption_requested == ok.exemption
        else:
            assert r is None
            assert not a.sca_applies or a.initiator == "merchant" or a.method != "card" or a.device_id is None
            remote_card = a.method == "card" and (a.device_id is not None or a.initiator == "merchant")
            assert ok.exemption == ("out_of_scope" if remote_card else None)
        if ok.exemption == "low_value":
            assert eur(a.amount_minor, a.currency) < 3_000
            streak[a.card_fingerprint or ""] += 1
            assert streak[a.card_fingerprint or ""] <= 5
        if a.initiator == "merchant":
            assert ok.exemption == "out_of_scope" and ok.authentication == "none"


def test_low_value_exemptions_stop_after_five_or_eur_100_until_the_next_challenge() -> None:
    w = World.new(1)
    for euros in ((5, 9), (5, 9), (5, 9), (22, 29), (22, 29), (22, 29)):  # the count binds, then the total
        p = w.person("NL", favourite="card", loyalty=1.0)
        for day in range(1, 11):
            purchase(w, p, START + day * DAY, "legit", "everyday", amount=price(w, "EUR", euros))
    attempts = attempts_by_payment(w.labelled)
    count: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for ok in events(w.labelled, PaymentSucceeded):
        card = ok.card_fingerprint or ""
        if ok.authentication == "challenge":
            count[card] = total[card] = 0
        elif ok.exemption == "low_value":
            count[card] += 1
            total[card] += attempts[ok.payment_id].amount_minor
            assert count[card] <= 5 and total[card] <= 10_000
    assert max(count.values()) >= 4


def test_declines_speak_the_language_of_the_card_network() -> None:
    failed = events(POPULATION, PaymentFailed)
    assert all(f.merchant_advice_code is None for f in failed if f.network == "visa")
    legit = events(by_actor(POPULATION, "legit"), PaymentFailed)
    codes = {(f.network, f.decline_code, f.network_response_code, f.merchant_advice_code) for f in legit}
    assert ("visa", "insufficient_funds", "51", None) in codes
    assert any(c[0] == "mastercard" and c[3] in ("24", "25") for c in codes)
    assert any(c[2] == "43" for c in codes)


def test_soft_declines_are_mostly_paid_later_and_some_never() -> None:
    attempts = attempts_by_payment(POPULATION)
    paid_orders = {attempts[ok.payment_id].order_id for ok in events(POPULATION, PaymentSucceeded)}
    soft = events(in_story("soft_decline"), PaymentFailed)
    recovered = sum(f.order_id in paid_orders for f in soft)
    assert 0 < len(soft) - recovered < recovered


def test_fraud_is_a_minority_and_every_fraud_actor_appears() -> None:
    attempts = of_type(POPULATION, PaymentAttempted)
    fraud = [x for x in attempts if x.fraud]
    assert 0 < len(fraud) < 0.2 * len(attempts)
    assert {x.actor for x in fraud} >= {"card_tester", "account_takeover", "stolen_card"}
    assert not any(x.fraud for x in POPULATION if x.actor in ("legit", "traveller", "late_payer"))


# ---------------------------------------------------------------- the seed stories of DOMAIN.md

def test_every_seed_story_is_in_the_population() -> None:
    assert set(SEED_STORIES) <= {x.story for x in POPULATION}


def test_traveller_uses_a_usual_device_abroad_and_ships_to_a_hotel_charged_back_by_someone_else() -> None:
    story = in_story("traveller_usual_device")
    traveller = story[0].event.customer_id
    attempts = events(story, PaymentAttempted)
    trip = attempts[-1]
    assert trip.ip_country != trip.customer_country and trip.shipping_address_id
    assert "hotel" in trip.shipping_address_id
    earlier = [a for a in attempts if a.occurred_at < trip.occurred_at]
    assert trip.device_id in {a.device_id for a in earlier}
    assert trip.card_fingerprint in {a.card_fingerprint for a in earlier}
    assert trip.shipping_address_id not in {a.shipping_address_id for a in earlier}
    hotel_payments = {a.payment_id for a in events(POPULATION, PaymentAttempted)
                      if a.shipping_address_id == trip.shipping_address_id and a.customer_id != traveller}
    chargebacks = [c for c in events(POPULATION, Chargeback) if c.payment_id in hotel_payments]
    assert chargebacks and all(c.occurred_at < trip.occurred_at - DAY for c in chargebacks)
    assert not any(x.fraud for x in story)


def test_swedish_customer_with_a_french_card_is_refused_exemptions_and_passes_challenges() -> None:
    story = in_story("swedish_french_card")
    attempts = events(story, PaymentAttempted)
    assert {(a.customer_country, a.card_country, a.method) for a in attempts} == {("SE", "FR", "card")}
    results = events(story, AuthenticationResult)
    assert len(results) == len(attempts) >= 4
    assert all(r.exemption_requested == "low_value" and r.exemption_accepted is False
               and r.challenge_outcome == "passed" for r in results)
    assert len({r.card_issuer for r in results}) == 1


def test_dutch_customer_always_pays_with_klarna() -> None:
    story = in_story("dutch_klarna")
    attempts = events(story, PaymentAttempted)
    assert len(attempts) >= 4
    assert {(a.customer_country, a.method) for a in attempts} == {("NL", "klarna")}
    assert len(of_type(story, PaymentSucceeded)) == len(attempts)


def test_store_customer_places_a_first_online_order_after_store_orders() -> None:
    orders = events(in_story("store_first_online"), OrderPlaced)
    channels = [o.channel for o in orders]
    assert channels[-1] == "online" and channels.count("online") == 1
    assert channels.count("store") >= 2


def test_serial_empty_box_claims_come_from_one_actor_under_many_names() -> None:
    claims = pairs(in_story("serial_empty_box"), RefundRequested)
    requests = [r for _, r in claims]
    assert len(requests) == 5 and {r.reason for r in requests} == {"empty_box"}
    assert requests[-1].occurred_at - requests[0].occurred_at <= 60 * DAY
    assert len({r.claimant_name for r in requests}) >= 4 and len({r.claimant_email for r in requests}) >= 4
    assert len({r.customer_id for r in requests}) == 5
    assert len({r.device_id for r in requests}) == 1 and len({r.shipping_address_id for r in requests}) == 1
    assert all(x.fraud for x, _ in claims[:4]) and {x.actor for x, _ in claims} == {"refund_abuser"}


def test_late_payer_pays_a_soft_declined_order_later() -> None:
    story = in_story("late_payer")
    failed = events(story, PaymentFailed)
    assert len(failed) == 1 and failed[0].decline_code == "insufficient_funds"
    paid = [ok for ok in events(story, PaymentSucceeded) if ok.order_id == failed[0].order_id]
    assert len(paid) == 1 and paid[0].occurred_at - failed[0].occurred_at >= 12 * HOUR
    assert {x.actor for x in story} == {"late_payer"}


# ---------------------------------------------------------------- fraud actors

def test_card_tester_bursts_small_payments_through_many_cards_from_one_device() -> None:
    story = story_events("card_testing", seed=2)
    attempts = events(story, PaymentAttempted)
    assert len(attempts) >= 10 and all(x.fraud for x in of_type(story, PaymentAttempted))
    assert len({a.device_id for a in attempts}) == 1
    assert len({a.card_fingerprint for a in attempts}) == len(attempts)
    assert attempts[-1].occurred_at - attempts[0].occurred_at < HOUR
    assert all(eur(a.amount_minor, a.currency) <= 500 for a in attempts)
    assert len(of_type(story, PaymentFailed)) > len(attempts) / 2


def test_account_takeover_changes_device_country_address_and_card_and_is_charged_back_later() -> None:
    story = story_events("account_takeover", seed=1)
    before = events(by_actor(story, "legit"), PaymentAttempted)
    taken = pairs(by_actor(story, "account_takeover"), PaymentAttempted)
    assert before and taken and all(x.fraud for x, _ in taken)
    a = taken[0][1]
    assert a.customer_id == before[0].customer_id and a.occurred_at > before[-1].occurred_at
    assert a.device_id not in {b.device_id for b in before}
    assert a.ip_country not in {b.ip_country for b in before}
    assert a.shipping_address_id not in {b.shipping_address_id for b in before}
    assert a.card_fingerprint not in {b.card_fingerprint for b in before}
    chargebacks = {c.payment_id: c for c in events(story, Chargeback)}
    assert chargebacks[a.payment_id].occurred_at - a.occurred_at >= 7 * DAY


def test_stolen_card_reappears_on_a_new_account_after_a_chargeback_elsewhere() -> None:
    story = story_events("stolen_card", seed=5)
    attempts = events(story, PaymentAttempted)
    first, second = attempts[0], attempts[-1]
    assert first.customer_id != second.customer_id and first.card_fingerprint == second.card_fingerprint
    chargeback = next(c for c in events(story, Chargeback) if c.payment_id == first.payment_id)
    assert chargeback.occurred_at < second.occurred_at - DAY
    devices_before = {d.device_id for d in events(story, DeviceSeen) if d.customer_id == first.customer_id}
    assert second.device_id not in devices_before
    assert all(x.fraud for x in of_type(story, PaymentAttempted))


def test_every_story_can_be_played_alone() -> None:
    for name in STORIES:
        played = story_events(name, seed=9)
        assert played and name in {x.story for x in played}, name
        assert story_events(name, seed=9) == played
