"""The simulator's building blocks: a world that numbers and labels events, people, and one builder per event kind.

Stories (pipeline/simulation.py) are written with these. Deterministic for a seed; no real personal data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from agents.rules.events import (
    AuthenticationResult,
    Channel,
    CustomerPreferencesUpdated,
    DeviceSeen,
    InputEvent,
    OrderDelivered,
    OrderPlaced,
    PaymentAttempted,
    PaymentFailed,
    PaymentSucceeded,
)

HOUR = 3_600_000
DAY = 24 * HOUR
EEA = frozenset({"NL", "DE", "SE", "FR", "ES", "IT", "BE", "AT", "IE"})
COUNTRIES = (("NL", "nl-NL", "Europe/Amsterdam", ("ideal", "klarna", "card")),
             ("DE", "de-DE", "Europe/Berlin", ("sofort", "paypal", "card")),
             ("SE", "sv-SE", "Europe/Stockholm", ("card", "klarna")),
             ("FR", "fr-FR", "Europe/Paris", ("card", "paypal")),
             ("GB", "en-GB", "Europe/London", ("card", "paypal", "apple_pay")),
             ("ES", "es-ES", "Europe/Madrid", ("card", "paypal")),
             ("IT", "it-IT", "Europe/Rome", ("card", "paypal")))
CHANNELS: tuple[tuple[Channel, ...], ...] = (
    ("email",), ("sms", "email"), ("push", "email"), ("email", "sms"), ("in_app", "push", "email"))
SOFT = (("insufficient_funds", "visa", "51", None), ("do_not_honor", "visa", "05", None),
        ("insufficient_funds", "mastercard", "51", "24"), ("issuer_unavailable", "mastercard", "91", "25"))
HARD = (("expired_card", "visa", "54", None), ("stolen_card", "visa", "43", None),
        ("lost_card", "mastercard", "41", "03"))
ITEMS = ("running shoes", "rain jacket", "coffee grinder", "desk lamp", "headphones", "yoga mat", "backpack")


@dataclass(frozen=True)
class Labelled:
    event: InputEvent
    actor: str
    story: str
    fraud: bool = False


@dataclass
class _Person:
    cid: str
    country: str
    locale: str
    tz: str
    methods: tuple[str, ...]
    device: str
    ip: str
    address: str
    card: str
    issuer: str
    network: str
    favourite: str


@dataclass
class _World:
    seed: int
    rng: random.Random
    out: list[tuple[int, int, Labelled]] = field(default_factory=list)
    n: int = 0

    def eid(self) -> str:
        self.n += 1
        return f"sim-{self.seed}-{self.n}"

    def emit(self, event: InputEvent, actor: str, story: str, fraud: bool = False) -> None:
        self.out.append((event.occurred_at, self.n, Labelled(event, actor, story, fraud)))

    def ip(self, block: int) -> str:
        prefix = ("192.0.2", "198.51.100", "203.0.113")[block % 3]
        return f"{prefix}.{self.rng.randint(1, 254)}"


def _person(w: _World, i: int, country: tuple[str, str, str, tuple[str, ...]] | None = None) -> _Person:
    code, locale, tz, methods = country or w.rng.choice(COUNTRIES)
    network = w.rng.choice(("visa", "mastercard"))
    return _Person(cid=f"cust-{i:05d}", country=code, locale=locale, tz=tz, methods=methods,
                   device=f"dev-{w.seed}-{i}", ip=w.ip(i), address=f"addr-{w.seed}-{i}", card=f"card-{w.seed}-{i}",
                   issuer=f"bank-{code.lower()}-{i % 3}", network=network,
                   favourite=w.rng.choice(methods) if w.rng.random() < 0.7 else methods[0])


def _prefs(w: _World, p: _Person, at: int, actor: str, story: str, name: str | None = None) -> None:
    quiet = w.rng.random() < 0.5
    w.emit(CustomerPreferencesUpdated(
        event_id=w.eid(), customer_id=p.cid, occurred_at=at, name=name or f"Customer {p.cid[-5:]}", locale=p.locale,
        timezone=p.tz, channels=w.rng.choice(CHANNELS), quiet_hours_start=22 * 60 if quiet else None,
        quiet_hours_end=7 * 60 if quiet else None, marketing_consent=w.rng.random() < 0.4), actor, story)


def _seen(w: _World, p: _Person, at: int, actor: str, story: str, device: str | None = None, ip: str | None = None,
          country: str | None = None, fraud: bool = False) -> None:
    w.emit(DeviceSeen(event_id=w.eid(), customer_id=p.cid, occurred_at=at, device_id=device or p.device,
                      ip=ip or p.ip, ip_country=country or p.country, user_agent="Mozilla/5.0 (simulated)"),
           actor, story, fraud)


def _attempt(w: _World, p: _Person, at: int, order: str, amount: int, actor: str, story: str, *, fraud: bool = False,
             method: str | None = None, device: str | None = None, ip: str | None = None,
             ip_country: str | None = None, address: str | None = None, card: str | None = None,
             card_country: str | None = None, issuer: str | None = None, currency: str = "EUR",
             initiator: str = "customer") -> PaymentAttempted:
    method = method or p.favourite
    is_card = method == "card"
    a = PaymentAttempted(
        event_id=w.eid(), customer_id=p.cid, occurred_at=at, payment_id=f"pay-{w.seed}-{w.n}", order_id=order,
        amount_minor=amount, currency=currency, method=method, initiator=initiator,  # type: ignore[arg-type]
        device_id=device or p.device, ip=ip or p.ip, ip_country=ip_country or p.country,
        shipping_address_id=address or p.address, card_fingerprint=(card or p.card) if is_card else None,
        card_issuer=(issuer or p.issuer) if is_card else None,
        card_country=(card_country or p.country) if is_card else None, customer_country=p.country,
        sca_applies=p.country in EEA and (card_country or p.country) in EEA, network=p.network if is_card else None)
    w.emit(a, actor, story, fraud)
    return a


def _succeed(w: _World, a: PaymentAttempted, at: int, actor: str, story: str, fraud: bool = False,
             auth: str | None = None) -> None:
    small = a.amount_minor < 3_000
    reported = auth is not None  # the story emitted its own AuthenticationResult
    if auth is None:
        auth = "frictionless" if (small or not a.sca_applies or a.initiator == "merchant") else "challenge"
    exemption = "low_value" if (auth == "frictionless" and small and a.sca_applies) else None
    if a.sca_applies and a.method == "card" and a.initiator == "customer" and not reported:
        w.emit(AuthenticationResult(
            event_id=w.eid(), customer_id=a.customer_id, occurred_at=at - 1, payment_id=a.payment_id,
            exemption_requested=exemption, exemption_accepted=True if exemption else None,
            challenge_outcome="passed" if auth == "challenge" else "not_challenged", card_issuer=a.card_issuer,
            card_fingerprint=a.card_fingerprint), actor, story, fraud)
    w.emit(PaymentSucceeded(
        event_id=w.eid(), customer_id=a.customer_id, occurred_at=at, payment_id=a.payment_id,
        authentication=auth, exemption=exemption, order_id=a.order_id, method=a.method,  # type: ignore[arg-type]
        card_fingerprint=a.card_fingerprint, amount_minor=a.amount_minor, currency=a.currency), actor, story, fraud)


def _fail(w: _World, a: PaymentAttempted, at: int, decline: tuple[str, str, str, str | None], actor: str,
          story: str, fraud: bool = False) -> None:
    code, network, response, advice = decline
    w.emit(PaymentFailed(
        event_id=w.eid(), customer_id=a.customer_id, occurred_at=at, payment_id=a.payment_id, decline_code=code,
        network=a.network or network, network_response_code=response, merchant_advice_code=advice,
        initiator=a.initiator, order_id=a.order_id, card_fingerprint=a.card_fingerprint, amount_minor=a.amount_minor,
        currency=a.currency), actor, story, fraud)


def _order(w: _World, p: _Person, at: int, amount: int, actor: str, story: str, channel: str = "online",
           address: str | None = None, fraud: bool = False) -> str:
    order = f"ord-{w.seed}-{w.n + 1}"
    w.emit(OrderPlaced(event_id=w.eid(), customer_id=p.cid, occurred_at=at, order_id=order,
                       channel=channel, amount_minor=amount, currency="EUR",  # type: ignore[arg-type]
                       shipping_address_id=(address or p.address) if channel == "online" else None,
                       shipping_country=p.country, items=(w.rng.choice(ITEMS),)), actor, story, fraud)
    return order


def _deliver(w: _World, p: _Person, order: str, at: int, actor: str, story: str) -> None:
    w.emit(OrderDelivered(event_id=w.eid(), customer_id=p.cid, occurred_at=at, order_id=order), actor, story)


def purchase(w: _World, p: _Person, at: int, actor: str, story: str, *, amount: int | None = None,
             channel: str = "online", fail: tuple[str, str, str, str | None] | None = None, recover_after: int = 0,
             **attempt: Any) -> tuple[str, PaymentAttempted]:
    """An order, its payment (succeeding, or failing and perhaps paid later) and its delivery."""
    amount = amount or w.rng.choice((1_299, 2_450, 4_990, 8_900, 12_500, 24_900, 39_900))
    order = _order(w, p, at, amount, actor, story, channel=channel, address=attempt.get("address"))
    a = _attempt(w, p, at + 60_000, order, amount, actor, story, **attempt)
    if fail is None:
        _succeed(w, a, at + 90_000, actor, story)
    else:
        _fail(w, a, at + 90_000, fail, actor, story)
        if not recover_after:
            return order, a
        again = _attempt(w, p, at + recover_after, order, amount, actor, story,
                         card=f"{p.card}-new" if fail in HARD else None)
        _succeed(w, again, at + recover_after + 30_000, actor, story)
    if channel == "online":
        _deliver(w, p, order, at + w.rng.randint(2, 4) * DAY, actor, story)
    return order, a
