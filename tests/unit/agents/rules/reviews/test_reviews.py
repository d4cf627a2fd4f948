"""Review verdicts, the review queue and flags that reach linked accounts (issues #13.2 and #10.4), through the one
pure step: `replay` runs it over events with an in-memory identity index, as the live worker does per partition."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from agents.rules.events import (
    AccountFlagged,
    DeviceSeen,
    OrderDelivered,
    OrderPlaced,
    PaymentAttempted,
    PaymentDecision,
    RefundDecision,
    RefundRequested,
    ReviewVerdict,
)
from agents.rules.identity import IdentityNode
from agents.rules.journey import Context, CustomerState, handle, identifiers_needed, in_good_standing
from agents.rules.policy import Policy
from agents.rules.pseudonyms import DEV_PSEUDONYMS
from agents.rules.replay import replay
from agents.rules.reviews import flags_for_linked, standing
from agents.rules.reviews.flags import READABLE_ID_CHARS, flag_id
from agents.rules.reviews.state import MAX_OPEN_CASES, ReviewCase, ReviewState, open_case
from pipeline.policies import load_policy

POLICY = load_policy()
CTX = Context(link_secret=b"test")
P = DEV_PSEUDONYMS.identifier  # the rules see identifiers as pseudonyms (CTX uses the development key)
T0 = 1_760_000_000_000
HOUR = 3_600_000
DAY = 24 * HOUR


def attempt(n: int, at: int, customer: str = "c1", **kw: Any) -> PaymentAttempted:
    """A new customer paying from abroad on a card from home: risk 65, the grey zone, under EUR 30."""
    base: dict[str, Any] = dict(
        event_id=f"a-{customer}-{n}", customer_id=customer, occurred_at=at, payment_id=f"p-{customer}-{n}",
        order_id=f"o-{customer}-{n}", amount_minor=2_500, currency="EUR", method="card", initiator="customer",
        device_id=f"dev-{customer}", ip="192.0.2.1", ip_country="US", card_fingerprint=f"card-{customer}",
        card_issuer="bank-nl", card_country="NL", customer_country="NL", sca_applies=True, network="visa")
    return PaymentAttempted(**{**base, **kw})


def verdict(case_id: str, verdict: str, at: int, customer: str = "c1", kind: str = "payment",
            n: int = 1) -> ReviewVerdict:
    return ReviewVerdict(event_id=f"v-{customer}-{n}", customer_id=customer, occurred_at=at, case_id=case_id,
                         case_kind=kind, verdict=verdict, reviewer="reviewer-7",  # type: ignore[arg-type]
                         note="called the customer, all fine")


def bought(customer: str, order: str, at: int, amount: int = 8_900) -> list[Any]:
    return [OrderPlaced(event_id=f"ev-{order}", customer_id=customer, occurred_at=at, order_id=order,
                        channel="online", amount_minor=amount, currency="EUR"),
            OrderDelivered(event_id=f"ev-{order}-d", customer_id=customer, occurred_at=at + DAY, order_id=order)]


def claim(customer: str, refund_id: str, order: str, at: int, reason: str = "empty_box", amount: int = 8_900,
          device: str | None = None) -> RefundRequested:
    return RefundRequested(
        event_id=f"ev-{refund_id}", customer_id=customer, occurred_at=at, refund_id=refund_id, order_id=order,
        amount_minor=amount, currency="EUR", reason=reason, claimant_name=f"Name {customer}",
        claimant_email=f"{customer}@example.test", device_id=device or f"dev-{customer}",
        shipping_address_id=f"addr-{customer}", card_fingerprint=f"card-{customer}")


class World:
    """Customer states and the identity index, fed by the pure step (what the live tables hold)."""

    def __init__(self, policy: Policy = POLICY) -> None:
        self.policy = policy
        self.states: dict[str, CustomerState] = {}
        self.index: dict[str, IdentityNode] = {}
        self.out: list[Any] = []

    def run(self, *events: Any) -> list[Any]:
        got = list(replay(events, self.policy, CTX, until=max(e.occurred_at for e in events), states=self.states,
                          index=self.index))
        self.out += got
        return got


def of(records: list[Any], kind: type) -> list[Any]:
    return [r for r in records if isinstance(r, kind)]


def serial_claimant_and_alias(w: World) -> None:
    """cust-a claims three empty boxes from a device that cust-b also uses; the third claim is judged serial."""
    w.run(DeviceSeen(event_id="seen-b", customer_id="cust-b", occurred_at=T0, device_id="dev-shared",
                     ip="198.51.100.9", ip_country="NL", user_agent="ua"),
          *bought("cust-b", "ord-b", T0), *bought("cust-a", "ord-a1", T0), *bought("cust-a", "ord-a2", T0),
          *bought("cust-a", "ord-a3", T0))
    for k in (1, 2, 3):
        w.run(claim("cust-a", f"ref-a{k}", f"ord-a{k}", T0 + (2 + k) * DAY, device="dev-shared"))


# ---------------------------------------------------------------- the review queue

def test_a_grey_zone_challenge_opens_a_payment_case_with_its_reasons() -> None:
    w = World()
    decision = of(w.run(attempt(1, T0)), PaymentDecision)[0]
    assert decision.outcome == "challenge" and decision.reasons[0].code == "CHALLENGE_GREY_ZONE"
    (case,) = w.states["c1"].reviews.open
    assert (case.case_id, case.case_kind, case.opened_at, case.amount_minor) == ("p-c1-1", "payment", T0, 2_500)
    assert case.reasons[0].code == "CHALLENGE_GREY_ZONE"
    assert set(case.identifiers) == {P("device", "dev-c1"), P("card", "card-c1")}, "strong identifiers only: no IP"


def test_a_challenge_outside_the_grey_zone_opens_no_case() -> None:
    w = World()
    decision = of(w.run(attempt(1, T0, amount_minor=30_000, ip_country="NL")), PaymentDecision)[0]
    assert decision.outcome == "challenge" and decision.reasons[0].code != "CHALLENGE_GREY_ZONE"
    assert w.states["c1"].reviews.open == ()


def test_a_refund_sent_to_manual_review_opens_a_refund_case_and_others_do_not() -> None:
    w = World()
    w.run(*bought("c9", "ord-1", T0), *bought("c9", "ord-2", T0))
    first = of(w.run(claim("c9", "ref-1", "ord-1", T0 + 3 * DAY, reason="damaged", amount=2_000)), RefundDecision)
    assert first[0].outcome == "instant_refund" and w.states["c9"].reviews.open == ()
    second = of(w.run(claim("c9", "ref-2", "ord-2", T0 + 4 * DAY)), RefundDecision)[0]  # an empty box: nothing back
    assert second.outcome == "manual_review"
    (case,) = w.states["c9"].reviews.open
    assert (case.case_id, case.case_kind, case.amount_minor) == ("ref-2", "refund", 8_900)
    assert [r.code for r in case.reasons] == [r.code for r in second.reasons][:len(case.reasons)]


def test_a_verdict_closes_its_case_and_an_unreviewed_case_expires() -> None:
    w = World()
    w.run(attempt(1, T0), attempt(2, T0 + DAY, device_id="dev-c1-tablet"))
    assert [c.case_id for c in w.states["c1"].reviews.open] == ["p-c1-1", "p-c1-2"]
    w.run(verdict("p-c1-1", "legitimate", T0 + 2 * DAY))
    assert [c.case_id for c in w.states["c1"].reviews.open] == ["p-c1-2"]
    expiry = POLICY.reviews.case_expiry_ms
    w.run(DeviceSeen(event_id="later", customer_id="c1", occurred_at=T0 + DAY + expiry + 1, device_id="dev-c1",
                     ip="192.0.2.1", ip_country="NL", user_agent="ua"))
    assert w.states["c1"].reviews.open == ()


def test_the_queue_is_bounded_and_a_judged_case_is_not_queued_again() -> None:
    r = ReviewState()
    for n in range(MAX_OPEN_CASES + 3):
        r = open_case(r, ReviewCase(case_id=f"p{n}", case_kind="payment", opened_at=n, amount_minor=1,
                                    currency="EUR"))
    assert len(r.open) == MAX_OPEN_CASES and r.open[0].case_id == "p3"
    w = World()
    w.run(attempt(1, T0), verdict("p-c1-1", "confirmed_fraud", T0 + HOUR))
    w.run(replace(attempt(1, T0 + 2 * HOUR), event_id="a-again"))  # the same payment attempted again
    assert w.states["c1"].reviews.open == ()


# ---------------------------------------------------------------- verdicts in later decisions

def test_a_customer_a_reviewer_confirmed_legitimate_is_approved_next_time_and_told_why() -> None:
    w = World()
    w.run(attempt(1, T0), verdict("p-c1-1", "legitimate", T0 + HOUR))
    nxt = of(w.run(attempt(2, T0 + 2 * HOUR)), PaymentDecision)[0]
    assert nxt.outcome == "approve" and nxt.risk_score == 65 + POLICY.checkout.weights["REVIEWED_LEGITIMATE"]
    trust = next(r for r in nxt.reasons if r.code == "REVIEWED_LEGITIMATE")
    assert "reviewer confirmed this customer legitimate" in trust.detail and "p-c1-1" in trust.detail
    assert all("called the customer" not in r.detail for r in nxt.reasons), "the reviewer's note stays out"
    control = World()
    control.run(attempt(1, T0))
    assert of(control.run(attempt(2, T0 + 2 * HOUR)), PaymentDecision)[0].outcome == "challenge"


def test_the_trust_of_a_legitimate_verdict_runs_out() -> None:
    w = World()
    w.run(attempt(1, T0), verdict("p-c1-1", "legitimate", T0 + HOUR))
    later = T0 + HOUR + POLICY.reviews.legitimate_trust_ms + 1
    nxt = of(w.run(attempt(2, later)), PaymentDecision)[0]
    assert "REVIEWED_LEGITIMATE" not in [r.code for r in nxt.reasons]


def test_confirmed_fraud_declines_the_next_attempt_with_the_reviewers_reason_and_no_offers() -> None:
    w = World()
    w.run(attempt(1, T0), verdict("p-c1-1", "confirmed_fraud", T0 + HOUR))
    nxt = of(w.run(attempt(2, T0 + 2 * HOUR)), PaymentDecision)[0]
    assert nxt.outcome == "decline" and nxt.reasons[0].code == "CONFIRMED_FRAUD"
    assert "p-c1-1" in nxt.reasons[0].detail
    assert not in_good_standing(w.states["c1"], POLICY, T0 + 2 * HOUR)


def test_the_latest_verdict_on_a_case_wins() -> None:
    w = World()
    w.run(attempt(1, T0), verdict("p-c1-1", "confirmed_fraud", T0 + HOUR),
          verdict("p-c1-1", "legitimate", T0 + 2 * HOUR, n=2))
    assert [v.verdict for v in w.states["c1"].reviews.verdicts] == ["legitimate"]
    assert of(w.run(attempt(2, T0 + 3 * HOUR)), PaymentDecision)[0].outcome == "approve"


def test_confirmed_abuse_sends_every_later_claim_to_a_person() -> None:
    w = World()
    w.run(*bought("c9", "ord-1", T0), *bought("c9", "ord-2", T0), claim("c9", "ref-1", "ord-1", T0 + 3 * DAY),
          verdict("ref-1", "abuse", T0 + 4 * DAY, customer="c9", kind="refund"))
    later = of(w.run(claim("c9", "ref-2", "ord-2", T0 + 50 * DAY, reason="damaged", amount=1_000)),
               RefundDecision)[0]
    assert later.outcome == "manual_review" and later.reasons[0].code == "CONFIRMED_ABUSE"


def test_not_abuse_clears_the_claim_so_it_no_longer_counts_against_the_claimant() -> None:
    def second_claim(clear: bool) -> RefundDecision:
        w = World()
        w.run(*bought("c9", "ord-1", T0), *bought("c9", "ord-2", T0), claim("c9", "ref-1", "ord-1", T0 + 3 * DAY))
        if clear:
            w.run(verdict("ref-1", "not_abuse", T0 + 4 * DAY, customer="c9", kind="refund"))
        return of(w.run(claim("c9", "ref-2", "ord-2", T0 + 5 * DAY, reason="damaged", amount=1_000)),
                  RefundDecision)[0]

    assert second_claim(clear=False).outcome == "refund_on_return"  # one empty box weighs 1.0: not instant
    cleared = second_claim(clear=True)
    assert cleared.outcome == "instant_refund" and cleared.linked_claims == 0


def test_not_abuse_on_the_claim_that_was_judged_serial_lifts_the_judgement() -> None:
    w = World()
    serial_claimant_and_alias(w)
    assert not in_good_standing(w.states["cust-a"], POLICY, T0 + 6 * DAY)
    w.run(verdict("ref-a3", "not_abuse", T0 + 6 * DAY, customer="cust-a", kind="refund"))
    assert w.states["cust-a"].refunds.abuse_flagged_at is None


# ---------------------------------------------------------------- flags that reach linked accounts

def test_a_serial_claimant_flags_the_account_sharing_its_device_with_one_keyed_record() -> None:
    w = World()
    serial_claimant_and_alias(w)
    decisions = of(w.out, RefundDecision)
    assert decisions[-1].reasons[0].code == "LINKED_SERIAL_CLAIMS"
    (flag,) = of(w.out, AccountFlagged)
    assert (flag.customer_id, flag.cause, flag.via) == ("cust-b", "serial_refund_abuse", ("device",))
    assert flag.source_event_id == "ev-ref-a3" and flag.event_id == flag_id("ev-ref-a3", "cust-b")
    assert [f.source_event_id for f in w.states["cust-b"].reviews.flags] == ["ev-ref-a3"]


def test_the_linked_alias_gets_no_instant_refund_and_the_decision_names_the_link() -> None:
    def alias_claim(policy: Policy) -> RefundDecision:
        w = World(policy)
        serial_claimant_and_alias(w)
        return of(w.run(claim("cust-b", "ref-b1", "ord-b", T0 + 7 * DAY, reason="damaged", amount=1_500,
                              device="dev-b-own")), RefundDecision)[0]

    flagged = alias_claim(POLICY)
    assert flagged.outcome == "refund_on_return" and flagged.linked_claims == 0
    lead = flagged.reasons[0]
    assert lead.code == "LINKED_ACCOUNT_FLAGGED"
    assert lead.detail.startswith("Shares a device with an account flagged for serial refund abuse")
    unflagged = alias_claim(replace(POLICY, reviews=replace(POLICY.reviews, linked_flag_max_accounts=0)))
    assert unflagged.outcome == "instant_refund", "without the flag the same claim is refunded instantly"


def test_a_flagged_alias_with_nothing_to_return_goes_to_a_person_and_gets_no_dunning_offers() -> None:
    w = World()
    serial_claimant_and_alias(w)
    box = of(w.run(claim("cust-b", "ref-b1", "ord-b", T0 + 7 * DAY, reason="empty_box", amount=1_500,
                         device="dev-b-own")), RefundDecision)[0]
    assert box.outcome == "manual_review" and box.reasons[0].code == "LINKED_ACCOUNT_FLAGGED"
    assert not in_good_standing(w.states["cust-b"], POLICY, T0 + 7 * DAY)


def test_a_linked_flag_runs_out_after_the_policy_duration() -> None:
    w = World()
    serial_claimant_and_alias(w)
    after = T0 + 5 * DAY + POLICY.reviews.linked_flag_ms + DAY
    assert standing(w.states["cust-b"].reviews, POLICY.reviews, after).linked is None
    assert standing(w.states["cust-b"].reviews, POLICY.reviews, T0 + 6 * DAY).linked is not None


def test_a_reviewer_clearing_the_alias_lifts_an_older_linked_flag() -> None:
    w = World()
    serial_claimant_and_alias(w)
    w.run(attempt(1, T0 + 6 * DAY, customer="cust-b"),
          verdict("p-cust-b-1", "legitimate", T0 + 6 * DAY + HOUR, customer="cust-b"))
    assert standing(w.states["cust-b"].reviews, POLICY.reviews, T0 + 7 * DAY).linked is None


def test_confirmed_fraud_flags_the_accounts_on_the_cases_card_but_not_those_on_its_ip() -> None:
    w = World()
    w.run(attempt(1, T0, customer="c-shared-card", card_fingerprint="card-stolen", ip="203.0.113.5"),
          attempt(1, T0, customer="c-shared-ip", ip="203.0.113.5"))
    w.run(attempt(1, T0 + HOUR, card_fingerprint="card-stolen", ip="203.0.113.5"))
    assert identifiers_needed(verdict("p-c1-1", "confirmed_fraud", T0 + DAY), CTX, w.states["c1"]) == (
        P("device", "dev-c1"), P("card", "card-stolen"))
    assert identifiers_needed(verdict("p-c1-1", "legitimate", T0 + DAY), CTX, w.states["c1"]) == ()
    flags = of(w.run(verdict("p-c1-1", "confirmed_fraud", T0 + DAY)), AccountFlagged)
    assert [(f.customer_id, f.cause, f.via) for f in flags] == [("c-shared-card", "confirmed_fraud", ("card",))]
    card_holder = w.states["c-shared-card"]
    assert standing(card_holder.reviews, POLICY.reviews, T0 + 2 * DAY).linked is not None


def test_a_flag_folded_twice_changes_nothing_and_its_id_is_deterministic() -> None:
    flag = AccountFlagged(event_id=flag_id("src", "b"), customer_id="b", occurred_at=T0, source_event_id="src",
                          cause="confirmed_abuse", via=("email",))
    once = handle(None, flag, {}, POLICY, CTX).state
    assert handle(once, flag, {}, POLICY, CTX).duplicate
    again = handle(once, replace(flag, event_id="another id, same source"), {}, POLICY, CTX).state
    assert again.reviews == once.reviews
    assert flag_id("src", "b") == flag_id("src", "b") != flag_id("src", "c")
    long = flag_id("e" * 100, "c" * 100)
    assert len(long) <= READABLE_ID_CHARS and long == flag_id("e" * 100, "c" * 100)


def test_fan_out_is_bounded_strongest_links_first() -> None:
    device = IdentityNode(identifier="device:d", customers=tuple((f"c{n:02d}", T0 + n) for n in range(30)))
    card = IdentityNode(identifier="card:k", customers=(("c00", T0), ("a", T0)))
    address = IdentityNode(identifier="addr:x", customers=(("neighbour", T0),))
    policy = replace(POLICY.reviews, linked_flag_max_accounts=3)
    flags = flags_for_linked("a", {"device:d": device, "card:k": card, "addr:x": address}, "confirmed_fraud", "src",
                             T0, policy)
    assert [f.customer_id for f in flags] == ["c00", "c28", "c29"]  # both kinds first, then the most recent
    assert flags[0].via == ("card", "device")
    assert all(f.customer_id not in ("a", "neighbour") for f in flags)
