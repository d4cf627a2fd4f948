"""Refund rules: personalised terms for good customers, a different answer for serial claimants (issue #5)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

import pytest

from agents.rules.events import (
    Chargeback,
    InputEvent,
    OrderDelivered,
    OrderPlaced,
    RefundIssued,
    RefundRequested,
)
from agents.rules.identity import IdentityNode, apply_link, link
from agents.rules.journey import identifiers_of
from agents.rules.policy import parse_table
from agents.rules.preferences import Preferences
from agents.rules.refunds import (
    RefundHistory,
    RefundPolicy,
    baseline_refund,
    decide_refund,
    is_refund_abuser,
    record_decision,
    update_refund_history,
)
from agents.rules.refunds.history import MAX_CLAIMS, MAX_ORDERS, SERIAL_CLAIMS
from pipeline.policies import DEFAULT_POLICY_PATH, load_policy, read_toml
from pipeline.wire import state_codec

DAY = 86_400_000
T0 = 1_760_000_000_000
BASE = load_policy()
SECTION: dict[str, Any] = read_toml(DEFAULT_POLICY_PATH)["refunds"]
POLICY = BASE.refunds
PREFS = Preferences(locale="sv-SE", channels=("push", "sms", "email"))


def policy_with(**changes: Any) -> RefundPolicy:
    return parse_table(RefundPolicy, {**SECTION, **changes}, "refunds", given={"fx": BASE.fx})


def claim(customer: str, refund_id: str, at: int, *, order: str = "ord-1", reason: str = "damaged",
          amount: int = 2450, currency: str = "EUR", device: str | None = None, address: str | None = None,
          card: str | None = None, email: str | None = None, name: str | None = None) -> RefundRequested:
    return RefundRequested(
        event_id=f"ev-{refund_id}", customer_id=customer, occurred_at=at, refund_id=refund_id, order_id=order,
        amount_minor=amount, currency=currency, reason=reason, claimant_name=name or f"Name of {customer}",
        claimant_email=email or f"{customer}@example.test", device_id=device or f"dev-{customer}",
        shipping_address_id=address or f"addr-{customer}", card_fingerprint=card or f"card-{customer}",
    )


def bought(customer: str, order: str, at: int, *, amount: int = 8900, delivered_after: int | None = 2 * DAY,
           channel: str = "online") -> list[InputEvent]:
    events: list[InputEvent] = [OrderPlaced(event_id=f"ev-{order}", customer_id=customer, occurred_at=at,
                                            order_id=order, channel=channel,  # type: ignore[arg-type]
                                            amount_minor=amount, currency="EUR")]
    if delivered_after is not None:
        events.append(OrderDelivered(event_id=f"ev-{order}-d", customer_id=customer,
                                     occurred_at=at + delivered_after, order_id=order))
    return events


def history_of(events: Iterable[InputEvent], start: RefundHistory | None = None) -> RefundHistory:
    h = start or RefundHistory.empty()
    for e in events:
        h = update_refund_history(h, e, e.occurred_at)
    return h


def index_of(claims: Iterable[RefundRequested]) -> dict[str, IdentityNode]:
    """The identity index as the journey builds it from earlier claims: each identifier seen with and claimed on."""
    nodes: dict[str, IdentityNode] = {}
    for r in claims:
        for ident in identifiers_of(r):
            rec = link((ident,), r.customer_id, r.occurred_at, "claim", r.event_id, r.reason, r.refund_id)
            assert rec is not None
            nodes[ident] = apply_link(nodes.get(ident), ident, rec)
    return nodes


def links_for(request: RefundRequested, nodes: Mapping[str, IdentityNode]) -> dict[str, IdentityNode]:
    return {i: nodes[i] for i in identifiers_of(request) if i in nodes}


def serial_claims(start: int = T0) -> list[RefundRequested]:
    """The seed's actor: four empty-box claims in two months, four names and e-mails, one device and one address."""
    return [claim(f"cust-alias-{k}", f"ref-box-{k}", start + k * 14 * DAY, order=f"ord-alias-{k}", reason="empty_box",
                  amount=8900, device="dev-boxer", address="addr-boxer", card=f"card-alias-{k}",
                  email=f"alias{k}@example.test", name=f"Alias {k} Surname{k}") for k in range(4)]


def fifth_claim(at: int = T0 + 56 * DAY) -> tuple[RefundHistory, RefundRequested]:
    history = history_of(bought("cust-alias-4", "ord-alias-4", at - 5 * DAY))
    return history, claim("cust-alias-4", "ref-box-4", at, order="ord-alias-4", reason="empty_box", amount=8900,
                          device="dev-boxer", address="addr-boxer", card="card-alias-4",
                          email="alias4@example.test", name="Alias 4 Surname4")


def decide(history: RefundHistory, request: RefundRequested, nodes: Mapping[str, IdentityNode] | None = None,
           policy: RefundPolicy = POLICY, now: int | None = None) -> Any:
    return decide_refund(history, links_for(request, nodes or {}), request, PREFS, policy,
                         request.occurred_at if now is None else now, "test-policy")


def loyal_history(now: int) -> RefundHistory:
    """Seven months with us, ten delivered orders, one change-of-mind return long ago."""
    events: list[InputEvent] = []
    for k in range(10):
        events += bought("cust-loyal", f"ord-l{k}", now - 210 * DAY + k * 20 * DAY)
    events.append(claim("cust-loyal", "ref-l-old", now - 150 * DAY, order="ord-l2", reason="changed_mind"))
    return history_of(events)


def test_serial_empty_box_claimant_is_not_refunded_instantly_on_the_fifth_claim() -> None:
    history, fifth = fifth_claim()
    decision, notice = decide(history, fifth, index_of(serial_claims()))
    assert decision.outcome in ("manual_review", "deny")
    assert decision.reasons[0].code == SERIAL_CLAIMS
    assert all(f"ref-box-{k}" in decision.reasons[0].detail for k in range(4))
    assert decision.linked_claims == 4
    assert notice.template in ("refund.review", "refund.denied")


def test_each_further_claim_of_the_serial_actor_gets_a_firmer_answer() -> None:
    claims = serial_claims()
    outcomes = []
    for k, r in enumerate(claims):
        history = history_of(bought(r.customer_id, r.order_id, r.occurred_at - 5 * DAY))
        decision, _ = decide(history, r, index_of(claims[:k]))
        outcomes.append(decision.outcome)
    history, fifth = fifth_claim()
    outcomes.append(decide(history, fifth, index_of(claims))[0].outcome)
    assert outcomes[1:] == ["manual_review", "manual_review", "manual_review", "deny"]


def test_loyal_customer_gets_a_longer_window_instant_refund_and_more_destinations() -> None:
    now = T0 + 300 * DAY
    request = claim("cust-loyal", "ref-l-new", now, order="ord-l9", reason="damaged", amount=8900)
    loyal, _ = decide(loyal_history(now), request)
    ordinary_history = history_of(bought("cust-loyal", "ord-l9", now - 20 * DAY))
    ordinary, _ = decide(ordinary_history, request)
    assert loyal.outcome == "instant_refund" and loyal.reasons[0].code == "LOYAL_CUSTOMER"
    assert loyal.return_window_days == 60 and ordinary.return_window_days == 30
    assert ordinary.outcome == "refund_on_return"
    assert set(ordinary.destinations) < set(loyal.destinations)
    assert {"wallet", "account_balance"} <= set(loyal.destinations)


def test_first_time_claimant_with_a_normal_history_gets_a_fast_friendly_answer() -> None:
    history = history_of(bought("cust-new", "ord-1", T0, amount=2450))
    small, notice = decide(history, claim("cust-new", "ref-1", T0 + 5 * DAY, amount=2450))
    assert small.outcome == "instant_refund" and notice.template == "refund.instant"
    big_history = history_of(bought("cust-new", "ord-1", T0, amount=24_900))
    big, _ = decide(big_history, claim("cust-new", "ref-1", T0 + 5 * DAY, amount=24_900))
    assert big.outcome == "refund_on_return" and big.destinations


def test_neighbour_who_only_shares_the_address_with_the_abuser_is_not_treated_as_the_abuser() -> None:
    at = T0 + 56 * DAY
    history = history_of(bought("cust-neighbour", "ord-n", at - 6 * DAY, amount=2450))
    request = claim("cust-neighbour", "ref-n", at, order="ord-n", amount=2450, address="addr-boxer")
    decision, _ = decide(history, request, index_of(serial_claims()))
    assert decision.outcome == "instant_refund"
    assert decision.linked_claims == 0
    assert all(r.code != SERIAL_CLAIMS for r in decision.reasons)


def test_an_address_alone_brands_the_neighbour_only_when_the_policy_says_so() -> None:
    at = T0 + 56 * DAY
    history = history_of(bought("cust-neighbour", "ord-n", at - 6 * DAY, amount=2450))
    request = claim("cust-neighbour", "ref-n", at, order="ord-n", amount=2450, address="addr-boxer")
    decision, _ = decide(history, request, index_of(serial_claims()), policy=policy_with(weak_links_needed=1))
    assert decision.outcome == "deny" and decision.linked_claims == 4


def test_address_plus_a_second_identifier_links_the_accounts() -> None:
    at = T0 + 56 * DAY
    history = history_of(bought("cust-other", "ord-x", at - 6 * DAY, amount=2450))
    nodes = index_of(serial_claims())
    card_only = claim("cust-other", "ref-x", at, order="ord-x", amount=2450, card="card-alias-3")
    address_and_card = claim("cust-other", "ref-x", at, order="ord-x", amount=2450, card="card-alias-3",
                             address="addr-boxer")
    only_device_is_strong = policy_with(strong_kinds=["device"])
    unlinked, _ = decide(history, card_only, nodes, policy=only_device_is_strong)
    linked, _ = decide(history, address_and_card, nodes, policy=only_device_is_strong)
    assert (unlinked.outcome, unlinked.linked_claims) == ("instant_refund", 0)
    assert (linked.outcome, linked.linked_claims) == ("refund_on_return", 1)
    assert "EARLIER_CLAIMS_BELOW_THRESHOLD" in [r.code for r in linked.reasons]


def test_item_not_received_before_delivery_is_traced_and_after_delivery_is_checked() -> None:
    in_transit = history_of(bought("cust-p", "ord-p", T0, amount=8900, delivered_after=None))
    request = claim("cust-p", "ref-p", T0 + 6 * DAY, order="ord-p", reason="item_not_received", amount=8900)
    traced, notice = decide(in_transit, request)
    delivered = history_of(bought("cust-p", "ord-p", T0, amount=8900, delivered_after=2 * DAY))
    checked, _ = decide(delivered, request)
    assert traced.outcome == "refund_on_return" and traced.reasons[0].code == "PARCEL_IN_TRANSIT"
    assert notice.template == "refund.tracing" and notice.params["trace_days"] == str(POLICY.trace_days)
    assert checked.outcome == "manual_review" and checked.reasons[0].code == "NOTHING_TO_RETURN"


def test_lost_parcel_claims_on_undelivered_orders_weigh_less_than_on_delivered_ones() -> None:
    events: list[InputEvent] = []
    for k in range(2):
        events += bought("cust-q", f"ord-q{k}", T0 + k * DAY, delivered_after=None)
        events.append(claim("cust-q", f"ref-q{k}", T0 + 8 * DAY + k, order=f"ord-q{k}", reason="item_not_received"))
    undelivered = history_of(events)
    delivered = history_of([e for e in events if isinstance(e, OrderPlaced)] + [
        OrderDelivered(event_id=f"d{k}", customer_id="cust-q", occurred_at=T0 + 3 * DAY, order_id=f"ord-q{k}")
        for k in range(2)] + [e for e in events if isinstance(e, RefundRequested)])
    now = T0 + 10 * DAY
    assert not is_refund_abuser(undelivered, POLICY, now)
    assert is_refund_abuser(delivered, POLICY, now)


def test_a_linked_claim_just_outside_the_look_back_window_does_not_count() -> None:
    at = T0 + 100 * DAY
    window_start = at - POLICY.lookback_days * DAY
    history, request = fifth_claim(at)
    inside = [claim("cust-alias-0", "ref-old", window_start, reason="empty_box", device="dev-boxer"),
              claim("cust-alias-1", "ref-recent", at - DAY, reason="empty_box", device="dev-boxer")]
    outside = [claim("cust-alias-0", "ref-old", window_start - 1, reason="empty_box", device="dev-boxer"),
               inside[1]]
    counted, _ = decide(history, request, index_of(inside))
    forgiven, _ = decide(history, request, index_of(outside))
    assert counted.linked_claims == 2 and counted.outcome == "manual_review"
    assert counted.reasons[0].code == SERIAL_CLAIMS and "ref-old" in counted.reasons[0].detail
    assert forgiven.linked_claims == 1 and forgiven.reasons[0].code != SERIAL_CLAIMS


def test_thresholds_come_from_the_policy() -> None:
    history, fifth = fifth_claim()
    nodes = index_of(serial_claims())
    assert decide(history, fifth, nodes)[0].outcome == "deny"
    assert decide(history, fifth, nodes, policy=policy_with(deny_threshold=10.0))[0].outcome == "manual_review"
    lenient = policy_with(deny_threshold=10.0, review_threshold=10.0, instant_max_prior_weight=10.0,
                          no_return_instant_cap_eur_cents=10_000)
    assert decide(history, fifth, nodes, policy=lenient)[0].outcome == "instant_refund"


def test_return_window_is_personal_and_only_limits_change_of_mind_returns() -> None:
    now = T0 + 300 * DAY
    late = claim("cust-loyal", "ref-late", now, order="ord-l9", reason="changed_mind", amount=4990)
    ordinary = history_of(bought("cust-loyal", "ord-l9", now - 47 * DAY))
    denied, notice = decide(ordinary, late)
    accepted, _ = decide(loyal_history(now), late)
    defect, _ = decide(ordinary, claim("cust-loyal", "ref-d", now, order="ord-l9", reason="damaged", amount=4990))
    assert denied.outcome == "deny" and denied.reasons[0].code == "OUTSIDE_RETURN_WINDOW"
    assert notice.template == "refund.denied" and denied.destinations == ()
    assert accepted.outcome == "instant_refund"
    assert defect.outcome != "deny"


def test_customer_with_a_chargeback_goes_to_review() -> None:
    events = [*bought("cust-cb", "ord-cb", T0, amount=2450),
              Chargeback(event_id="cb", customer_id="cust-cb", occurred_at=T0 + 3 * DAY, payment_id="p",
                         reason="fraud")]
    decision, _ = decide(history_of(events), claim("cust-cb", "ref-cb", T0 + 5 * DAY, order="ord-cb"))
    assert decision.outcome == "manual_review" and decision.reasons[0].code == "OWN_CHARGEBACKS"


def test_an_own_chargeback_fades_out_of_refund_review() -> None:
    """One chargeback sends claims to a person while its weight 0.5 ** (age / half-life) is at least the review
    weight (two half-lives with the default 0.25), then no longer; a second one keeps it longer."""
    half_life = POLICY.chargeback_half_life_days * DAY
    events = [*bought("cust-cf", "ord-cf", T0, amount=2450),
              Chargeback(event_id="cb1", customer_id="cust-cf", occurred_at=T0 + DAY, payment_id="p1",
                         reason="fraud")]
    history = history_of(events)
    inside, _ = decide(history, claim("cust-cf", "ref-1", T0 + DAY + 2 * half_life - DAY, order="ord-cf"))
    outside, _ = decide(history, claim("cust-cf", "ref-2", T0 + DAY + 2 * half_life + DAY, order="ord-cf"))
    assert inside.outcome == "manual_review" and inside.reasons[0].code == "OWN_CHARGEBACKS"
    assert "OWN_CHARGEBACKS" not in {r.code for r in outside.reasons}
    twice = history_of([*events, Chargeback(event_id="cb2", customer_id="cust-cf", occurred_at=T0 + 2 * DAY,
                                            payment_id="p2", reason="fraud")])
    still, _ = decide(twice, claim("cust-cf", "ref-3", T0 + DAY + 2 * half_life + DAY, order="ord-cf"))
    assert still.reasons[0].code == "OWN_CHARGEBACKS" and "2 chargeback(s)" in still.reasons[0].detail
    assert twice.chargebacks == 2 and twice.chargeback_times == (T0 + 2 * DAY, T0 + DAY)


def test_chargeback_weights_are_validated() -> None:
    with pytest.raises(ValueError, match="chargeback_half_life_days"):
        policy_with(chargeback_half_life_days=0).validate()


def test_claim_above_the_order_amount_goes_to_review() -> None:
    history = history_of(bought("cust-c", "ord-1", T0, amount=1299))
    decision, _ = decide(history, claim("cust-c", "ref-c", T0 + 4 * DAY, amount=4990))
    assert decision.outcome == "manual_review" and decision.reasons[0].code == "CLAIM_EXCEEDS_ORDER"


def test_judged_abuser_is_remembered_for_other_rules_and_later_claims() -> None:
    history, fifth = fifth_claim()
    decision, _ = decide(history, fifth, index_of(serial_claims()))
    flagged = record_decision(update_refund_history(history, fifth, fifth.occurred_at), decision)
    assert not is_refund_abuser(history, POLICY, fifth.occurred_at)
    assert is_refund_abuser(flagged, POLICY, fifth.occurred_at + 30 * DAY)
    assert not is_refund_abuser(flagged, POLICY, fifth.occurred_at + (POLICY.abuse_memory_days + 1) * DAY)
    later = claim("cust-alias-4", "ref-later", fifth.occurred_at + 90 * DAY, order="ord-alias-4", amount=1299,
                  device="dev-fresh", address="addr-fresh", card="card-fresh", email="fresh@example.test")
    again, _ = decide(flagged, later)
    assert again.outcome == "manual_review" and again.reasons[0].code == "FLAGGED_SERIAL_CLAIMANT"


def test_notifications_carry_no_personal_data() -> None:
    history, fifth = fifth_claim()
    neighbour = claim("cust-n", "ref-n", T0, address="addr-boxer", name="Jane Doe", email="jane@example.test")
    cases = [(history, fifth, index_of(serial_claims())), (RefundHistory.empty(), neighbour, {})]
    for h, request, nodes in cases:
        decision, notice = decide(h, request, nodes)
        text = repr(notice.to_record())
        for secret in (request.claimant_name, request.claimant_email, request.device_id,
                       request.shipping_address_id, request.card_fingerprint):
            assert secret and secret not in text
        assert notice.event_id == f"{request.event_id}:notice" and notice.send_at == request.occurred_at
        assert (notice.channel, notice.fallback_channels, notice.locale) == ("push", ("sms", "email"), "sv-SE")
        assert notice.params["refund_id"] == request.refund_id
        assert notice.params["window_days"] == str(decision.return_window_days)
        assert decision.event_id == f"{request.event_id}:decision"
        assert decision.source_event_id == request.event_id and decision.policy_version == "test-policy"


def test_history_stays_bounded_and_keeps_lifetime_aggregates() -> None:
    events: list[InputEvent] = []
    for k in range(100):
        events += bought("cust-b", f"ord-b{k}", T0 + k * DAY)
        events.append(claim("cust-b", f"ref-b{k}", T0 + k * DAY + 3 * DAY, order=f"ord-b{k}"))
        events.append(RefundIssued(event_id=f"iss-{k}", customer_id="cust-b", occurred_at=T0 + k * DAY + 4 * DAY,
                                   refund_id=f"ref-b{k}", destination="original_method"))
    h = history_of(events)
    assert len(h.orders) == MAX_ORDERS and len(h.claims) == MAX_CLAIMS
    assert (h.orders_total, h.delivered_total, h.claims_total) == (100, 100, 100)
    assert h.first_seen == T0 and h.refunds_issued == 100 and h.refunded == (("EUR", 100 * 2450),)
    assert h.orders[0].order_id == "ord-b99"


def test_repeated_events_are_counted_once() -> None:
    events = [*bought("cust-r", "ord-1", T0), claim("cust-r", "ref-1", T0 + 4 * DAY)]
    once = history_of(events)
    assert history_of(events, once) == once


def test_update_never_mutates_its_input() -> None:
    before = history_of(bought("cust-m", "ord-1", T0, delivered_after=None))
    snapshot = copy.deepcopy(before)
    for event in [*bought("cust-m", "ord-2", T0 + DAY, delivered_after=None), claim("cust-m", "ref-1", T0 + 4 * DAY),
                  OrderDelivered(event_id="d", customer_id="cust-m", occurred_at=T0 + DAY, order_id="ord-1")]:
        after = update_refund_history(before, event, event.occurred_at)
        assert after != before
    assert before == snapshot


def test_same_inputs_give_the_same_decision_whatever_the_order_of_the_links() -> None:
    history, fifth = fifth_claim()
    links = links_for(fifth, index_of(serial_claims()))
    reversed_links = dict(reversed(list(links.items())))
    first = decide_refund(history, links, fifth, PREFS, POLICY, fifth.occurred_at, "v")
    second = decide_refund(copy.deepcopy(history), reversed_links, fifth, PREFS, POLICY, fifth.occurred_at, "v")
    assert first == second


def test_history_survives_the_state_codec() -> None:
    events = [*bought("cust-s", "ord-1", T0), claim("cust-s", "ref-1", T0 + 4 * DAY),
              RefundIssued(event_id="i", customer_id="cust-s", occurred_at=T0 + 5 * DAY, refund_id="ref-1",
                           destination="wallet")]
    h = history_of(events)
    assert state_codec.loads(RefundHistory, state_codec.dumps(h)) == h
    assert {f.name for f in fields(RefundHistory)} >= {"orders", "claims", "abuse_flagged_at"}


def test_baseline_is_one_rule_for_everyone() -> None:
    history, fifth = fifth_claim()
    assert baseline_refund(claim("a", "r1", T0, amount=2450)) == "instant_refund"
    assert baseline_refund(fifth) == baseline_refund(claim("b", "r2", T0, amount=8900)) == "refund_on_return"


def test_policy_with_an_unknown_destination_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown destinations"):
        policy_with(destinations={"loyal": ["bitcoin"], "standard": [], "review": []})
