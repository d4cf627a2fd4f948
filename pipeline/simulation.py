"""A labelled synthetic population of shop customers: realistic traffic with ground truth.

Used by `journey demo` and `journey simulate` (published live), by the decision-quality report (run through the rules
and compared with the labels) and by tests. Pure and deterministic for a seed: no wall clock, no real personal data
(names like "Customer 17", e-mails at example.test, IPs from documentation ranges).

Each event is labelled with the actor who produced it, a story slug, and whether it is abusive and should be stopped.
The seed stories of shared/DOMAIN.md appear once each, under their own slugs; one function per story below.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator

from agents.rules.events import AuthenticationResult, Chargeback, RefundIssued, RefundRequested
from pipeline.sim_world import (
    COUNTRIES,
    DAY,
    HARD,
    HOUR,
    SOFT,
    Labelled,
    _attempt,
    _deliver,
    _fail,
    _order,
    _Person,
    _person,
    _prefs,
    _seen,
    _succeed,
    _World,
    purchase,
)

__all__ = ["Labelled", "generate", "label_index", "to_jsonl"]

SEED_STORIES = ("traveller_usual_device", "swedish_french_card", "dutch_klarna", "store_first_online",
                "serial_empty_box", "late_payer")


def _country(code: str) -> tuple[str, str, str, tuple[str, ...]]:
    return next(c for c in COUNTRIES if c[0] == code)


def _refund(w: _World, p: _Person, at: int, order: str, amount: int, reason: str, actor: str, story: str,
            fraud: bool = False, name: str | None = None, email: str | None = None, device: str | None = None,
            address: str | None = None, issued: str | None = None) -> None:
    rid = f"ref-{w.seed}-{w.n + 1}"
    w.emit(RefundRequested(
        event_id=w.eid(), customer_id=p.cid, occurred_at=at, refund_id=rid, order_id=order, amount_minor=amount,
        currency="EUR", reason=reason, claimant_name=name or f"Customer {p.cid[-5:]}",
        claimant_email=email or f"{p.cid}@example.test", device_id=device or p.device,
        shipping_address_id=address or p.address, card_fingerprint=p.card), actor, story, fraud)
    if issued:
        w.emit(RefundIssued(event_id=w.eid(), customer_id=p.cid, occurred_at=at + 2 * DAY, refund_id=rid,
                            destination=issued), actor, story)


def _chargeback(w: _World, cid: str, payment_id: str, at: int, actor: str, story: str, fraud: bool = True) -> None:
    w.emit(Chargeback(event_id=w.eid(), customer_id=cid, occurred_at=at, payment_id=payment_id, reason="fraud"),
           actor, story, fraud)


def legit(w: _World, p: _Person, start: int, days: int, actor: str = "legit") -> None:
    story = "everyday"
    _prefs(w, p, start, actor, story)
    _seen(w, p, start + HOUR, actor, story)
    for k in range(w.rng.randint(2, 5)):
        at = start + DAY + int(w.rng.random() * (days - 6) * DAY) + k
        roll = w.rng.random()
        if roll < 0.06:
            purchase(w, p, at, actor, "soft_decline", fail=w.rng.choice(SOFT),
                     recover_after=w.rng.choice((0, 6 * HOUR, 2 * DAY, 5 * DAY)))
        elif roll < 0.08:
            purchase(w, p, at, actor, "hard_decline", fail=w.rng.choice(HARD), recover_after=w.rng.choice((0, DAY)))
        elif roll < 0.11:
            purchase(w, p, at, actor, "new_device", device=f"{p.device}-new", ip=w.ip(7))
        else:
            order, a = purchase(w, p, at, actor, story)
            if w.rng.random() < 0.06:
                _refund(w, p, at + 6 * DAY, order, a.amount_minor, w.rng.choice(("damaged", "changed_mind")), actor,
                        "refund", issued="original_method")


def traveller_usual_device(w: _World, p: _Person, other: _Person, start: int) -> None:
    """A known customer on their usual device, abroad, shipping to a hotel that someone else charged back."""
    hotel = f"addr-hotel-{w.seed}"
    _prefs(w, p, start, "traveller", "traveller_usual_device")
    _seen(w, p, start + HOUR, "traveller", "traveller_usual_device")
    for k in range(4):
        purchase(w, p, start + (k + 1) * 2 * DAY, "traveller", "traveller_usual_device")
    _prefs(w, other, start, "fraudster", "hotel_chargeback")
    _, bad = purchase(w, other, start + 3 * DAY, "fraudster", "hotel_chargeback", address=hotel, fraud=True)
    _chargeback(w, other.cid, bad.payment_id, start + 12 * DAY, "fraudster", "hotel_chargeback")
    _seen(w, p, start + 20 * DAY, "traveller", "traveller_usual_device", ip=w.ip(9), country="ES")
    purchase(w, p, start + 20 * DAY + HOUR, "traveller", "traveller_usual_device", address=hotel, ip=w.ip(9),
             ip_country="ES")


def swedish_french_card(w: _World, p: _Person, start: int) -> None:
    """Swedish customer, French-issued card; the issuer refuses exemptions; the customer passes 3DS every time."""
    s, issuer = "swedish_french_card", "bank-fr-exemption-averse"
    _prefs(w, p, start, "legit", s)
    _seen(w, p, start + HOUR, "legit", s)
    for k in range(3):
        at = start + (k + 1) * 4 * DAY
        order = _order(w, p, at, 2_000, "legit", s)
        a = _attempt(w, p, at + 60_000, order, 2_000, "legit", s, method="card", card_country="FR", issuer=issuer)
        w.emit(AuthenticationResult(event_id=w.eid(), customer_id=p.cid, occurred_at=at + 70_000,
                                    payment_id=a.payment_id, exemption_requested="low_value", exemption_accepted=False,
                                    challenge_outcome="passed", card_issuer=issuer, card_fingerprint=p.card),
               "legit", s)
        _succeed(w, a, at + 80_000, "legit", s, auth="challenge")
        _deliver(w, p, order, at + 3 * DAY, "legit", s)
    purchase(w, p, start + 22 * DAY, "legit", s, method="card", amount=2_500, card_country="FR", issuer=issuer)


def dutch_klarna(w: _World, p: _Person, start: int) -> None:
    s = "dutch_klarna"
    _prefs(w, p, start, "legit", s)
    _seen(w, p, start + HOUR, "legit", s)
    for k in range(5):
        purchase(w, p, start + (k + 1) * 4 * DAY, "legit", s, method="klarna")


def store_first_online(w: _World, p: _Person, start: int) -> None:
    s = "store_first_online"
    _prefs(w, p, start, "legit", s)
    for k in range(3):
        purchase(w, p, start + (k + 1) * 3 * DAY, "legit", s, channel="store", method="card")
    _seen(w, p, start + 15 * DAY, "legit", s)
    purchase(w, p, start + 15 * DAY + HOUR, "legit", s)


def serial_empty_box(w: _World, people: list[_Person], start: int) -> None:
    """One actor, five accounts, different names and e-mails, one device and one address: five empty-box claims."""
    device, address = f"dev-boxer-{w.seed}", f"addr-boxer-{w.seed}"
    for k, p in enumerate(people):
        at = start + k * 5 * DAY
        _prefs(w, p, at, "refund_abuser", "serial_empty_box", name=f"Alias {k}")
        order, a = purchase(w, p, at + HOUR, "refund_abuser", "serial_empty_box", device=device, address=address)
        _refund(w, p, at + 4 * DAY, order, a.amount_minor, "empty_box", "refund_abuser", "serial_empty_box",
                fraud=True, name=f"Alias {k} Surname{k}", email=f"alias{k}.{w.seed}@example.test", device=device,
                address=address)


def late_payer(w: _World, p: _Person, start: int) -> None:
    _prefs(w, p, start, "late_payer", "late_payer")
    _seen(w, p, start + HOUR, "late_payer", "late_payer")
    purchase(w, p, start + 2 * DAY, "late_payer", "late_payer")
    purchase(w, p, start + 8 * DAY, "late_payer", "late_payer", fail=SOFT[0], recover_after=2 * DAY + 3 * HOUR)


def card_tester(w: _World, p: _Person, start: int) -> None:
    at = start + int(w.rng.random() * 20) * DAY
    for k in range(12):
        a = _attempt(w, p, at + k * 40_000, f"ord-test-{w.seed}-{w.n}", w.rng.choice((100, 150, 200, 300)),
                     "card_tester", "card_testing", fraud=True, method="card", card=f"card-tested-{w.seed}-{w.n}",
                     issuer=f"bank-x-{k % 5}")
        if w.rng.random() < 0.8:
            _fail(w, a, at + k * 40_000 + 500, ("incorrect_number", "visa", "14", None), "card_tester",
                  "card_testing", fraud=True)
        else:
            _succeed(w, a, at + k * 40_000 + 500, "card_tester", "card_testing", fraud=True)


def account_takeover(w: _World, p: _Person, start: int, days: int) -> None:
    legit(w, p, start, days - 10, actor="legit")
    at = start + (days - 8) * DAY
    thief_device, thief_ip = f"dev-ato-{w.seed}-{p.cid}", w.ip(11)
    _seen(w, p, at, "account_takeover", "account_takeover", device=thief_device, ip=thief_ip, country="RU",
          fraud=True)
    _, a = purchase(w, p, at + HOUR, "account_takeover", "account_takeover", fraud=True, amount=64_900,
                    device=thief_device, ip=thief_ip, ip_country="RU", address=f"addr-drop-{w.seed}-{p.cid}",
                    card=f"card-ato-{w.seed}-{p.cid}", method="card")
    _chargeback(w, p.cid, a.payment_id, at + 6 * DAY, "account_takeover", "account_takeover")


def stolen_cards(w: _World, first: _Person, second: _Person, start: int) -> None:
    """A fraud ring: one device, two accounts; the first account's stolen card is charged back before the second."""
    device = f"dev-ring-{w.seed}-{first.cid}"
    _, a = purchase(w, first, start + DAY, "stolen_card", "stolen_card", fraud=True, device=device, method="card",
                    card=f"card-stolen-{w.seed}-{first.cid}", amount=29_900)
    _chargeback(w, first.cid, a.payment_id, start + 7 * DAY, "stolen_card", "stolen_card")
    _, b = purchase(w, second, start + 12 * DAY, "stolen_card", "stolen_card", fraud=True, device=device,
                    method="card", card=f"card-stolen-{w.seed}-{second.cid}", amount=34_900)
    _chargeback(w, second.cid, b.payment_id, start + 20 * DAY, "stolen_card", "stolen_card")


def generate(seed: int, customers: int, start_ms: int, days: int = 30) -> list[Labelled]:
    """The whole population's events, sorted by occurred_at (ties in generation order)."""
    w = _World(seed=seed, rng=random.Random(seed))
    people = [_person(w, i) for i in range(max(customers, 20))]
    traveller_usual_device(w, _person(w, 0, _country("DE")), people[1], start_ms)
    swedish_french_card(w, _person(w, 2, _country("SE")), start_ms)
    dutch_klarna(w, _person(w, 3, _country("NL")), start_ms)
    store_first_online(w, _person(w, 4, _country("GB")), start_ms)
    serial_empty_box(w, people[5:10], start_ms)
    late_payer(w, people[10], start_ms)
    for i in range(11, len(people)):
        roll = w.rng.random()
        p = people[i]
        if roll < 0.03:
            card_tester(w, p, start_ms)
        elif roll < 0.06:
            account_takeover(w, p, start_ms, days)
        elif roll < 0.08 and i + 1 < len(people):
            stolen_cards(w, p, people[i + 1], start_ms)
        else:
            legit(w, p, start_ms, days)
    return [lab for _, _, lab in sorted(w.out, key=lambda x: (x[0], x[1]))]


def to_jsonl(labelled: Iterable[Labelled]) -> Iterator[str]:
    """The `journey publish` format, timestamps as epoch milliseconds."""
    for lab in labelled:
        e = lab.event
        yield json.dumps({"topic": e.TOPIC, "type": type(e).__name__, "value": e.to_record()})


def label_index(labelled: Iterable[Labelled]) -> dict[str, Labelled]:
    return {lab.event.event_id: lab for lab in labelled}
