"""The customer profile: what checkout knows about a customer, folded from every input event.

Bounded per customer: each list keeps the most recently used entries (MAX_ENTRIES) and counters aggregate the rest.
`update_profile` returns a new value; it never mutates its input (Faust only persists what is assigned).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from agents.rules.events import (
    AuthenticationResult,
    Chargeback,
    DeviceSeen,
    InputEvent,
    OrderPlaced,
    PaymentAttempted,
    PaymentFailed,
    PaymentSucceeded,
    RefundRequested,
)
from agents.rules.ledger import PaymentRef

MAX_ENTRIES = 20
MAX_TIMES = 30


@dataclass(frozen=True, slots=True)
class Seen:
    """One identifier (device, IP, country, address, card) with when and how often the customer used it."""

    value: str
    first: int
    last: int
    count: int = 1
    succeeded: int = 0  # payments that succeeded with it


@dataclass(frozen=True, slots=True)
class IssuerRecord:
    """How one card issuer has treated this customer's exemption requests."""

    issuer: str
    requested: int = 0
    accepted: int = 0
    rejected: int = 0


@dataclass(frozen=True, slots=True)
class LowValueCounter:
    """Low-value exemptions on one card since its last strong authentication (RTS Art. 16)."""

    card: str
    count: int = 0
    cumulative_eur_cents: int = 0


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    customer_id: str
    home_country: str | None = None
    first_seen: int = 0
    devices: tuple[Seen, ...] = ()
    ips: tuple[Seen, ...] = ()
    countries: tuple[Seen, ...] = ()
    addresses: tuple[Seen, ...] = ()
    cards: tuple[Seen, ...] = ()
    methods: tuple[Seen, ...] = ()
    issuers: tuple[IssuerRecord, ...] = ()
    low_value: tuple[LowValueCounter, ...] = ()
    challenges_passed: int = 0
    challenges_failed: int = 0
    challenges_abandoned: int = 0
    payments_succeeded: int = 0
    payments_failed: int = 0
    store_orders: int = 0
    online_orders: int = 0
    order_value_eur_cents: int = 0
    first_online_order: str | None = None
    chargebacks: int = 0
    refunds_requested: int = 0
    attempt_times: tuple[int, ...] = ()  # newest first, for velocity
    decline_times: tuple[int, ...] = ()
    new_device_country_at: int | None = None  # a device first seen from a new country (takeover warning)

    @classmethod
    def empty(cls, customer_id: str) -> CustomerProfile:
        return cls(customer_id=customer_id)

    def find(self, kind: str, value: str | None) -> Seen | None:
        if value is None:
            return None
        entries: tuple[Seen, ...] = getattr(self, kind)
        return next((s for s in entries if s.value == value), None)

    def issuer(self, issuer: str | None) -> IssuerRecord | None:
        return next((i for i in self.issuers if i.issuer == issuer), None) if issuer else None

    def low_value_on(self, card: str | None) -> LowValueCounter:
        found = next((c for c in self.low_value if c.card == card), None) if card else None
        return found or LowValueCounter(card=card or "")


def has_bad_history(profile: CustomerProfile) -> bool:
    """Own chargebacks: no offers, no instant refunds, and risk in checkout."""
    return profile.chargebacks > 0


def _touch(entries: tuple[Seen, ...], value: str | None, at: int, succeeded: int = 0) -> tuple[Seen, ...]:
    if not value:
        return entries
    old = next((s for s in entries if s.value == value), None)
    new = (Seen(value, at, at, 1, succeeded) if old is None
           else Seen(value, old.first, max(old.last, at), old.count + 1, old.succeeded + succeeded))
    rest = tuple(s for s in entries if s.value != value)
    return tuple(sorted((new, *rest), key=lambda s: -s.last))[:MAX_ENTRIES]


def _succeeded(entries: tuple[Seen, ...], value: str | None) -> tuple[Seen, ...]:
    return tuple(replace(s, succeeded=s.succeeded + 1) if s.value == value else s for s in entries)


def _times(times: tuple[int, ...], at: int) -> tuple[int, ...]:
    return tuple(sorted((at, *times), reverse=True))[:MAX_TIMES]


def update_profile(profile: CustomerProfile, event: InputEvent, now: int,
                   payment: PaymentRef | None = None, eur_rates: dict[str, float] | None = None) -> CustomerProfile:
    p = profile if profile.first_seen else replace(profile, first_seen=event.occurred_at)
    at = event.occurred_at
    if isinstance(event, PaymentAttempted):
        return replace(
            p, home_country=p.home_country or event.customer_country,
            devices=_touch(p.devices, event.device_id, at), ips=_touch(p.ips, event.ip, at),
            countries=_touch(p.countries, event.ip_country, at), addresses=_touch(p.addresses,
                                                                                  event.shipping_address_id, at),
            cards=_touch(p.cards, event.card_fingerprint, at), methods=_touch(p.methods, event.method, at),
            attempt_times=_times(p.attempt_times, at),
        )
    if isinstance(event, PaymentSucceeded):
        return _on_success(p, event, payment, eur_rates or {})
    if isinstance(event, PaymentFailed):
        return replace(p, payments_failed=p.payments_failed + 1, decline_times=_times(p.decline_times, at))
    if isinstance(event, AuthenticationResult):
        return _on_authentication(p, event, payment)
    if isinstance(event, Chargeback):
        return replace(p, chargebacks=p.chargebacks + 1)
    if isinstance(event, DeviceSeen):
        new_country = p.find("countries", event.ip_country) is None and p.find("devices", event.device_id) is None
        return replace(p, devices=_touch(p.devices, event.device_id, at), ips=_touch(p.ips, event.ip, at),
                       countries=_touch(p.countries, event.ip_country, at),
                       new_device_country_at=at if new_country and p.devices else p.new_device_country_at)
    if isinstance(event, OrderPlaced):
        value = p.order_value_eur_cents + _eur(event.amount_minor, event.currency, eur_rates or {})
        if event.channel == "store":
            return replace(p, store_orders=p.store_orders + 1, order_value_eur_cents=value)
        return replace(p, online_orders=p.online_orders + 1, order_value_eur_cents=value,
                       first_online_order=p.first_online_order or event.order_id,
                       addresses=_touch(p.addresses, event.shipping_address_id, at))
    if isinstance(event, RefundRequested):
        return replace(p, refunds_requested=p.refunds_requested + 1)
    return p


def _eur(amount_minor: int, currency: str, rates: dict[str, float]) -> int:
    return round(amount_minor * rates.get(currency, 1.0))


def _on_success(p: CustomerProfile, ok: PaymentSucceeded, payment: PaymentRef | None,
                rates: dict[str, float]) -> CustomerProfile:
    card = ok.card_fingerprint or (payment.card_fingerprint if payment else None)
    method = ok.method or (payment.method if payment else None)
    p = replace(p, payments_succeeded=p.payments_succeeded + 1, cards=_succeeded(p.cards, card),
                methods=_succeeded(p.methods, method))
    if payment is not None:
        p = replace(p, devices=_succeeded(p.devices, _ident(payment, "device")),
                    addresses=_succeeded(p.addresses, _ident(payment, "addr")))
    if ok.authentication == "challenge":
        return _reset_low_value(p, card)
    if ok.exemption == "low_value" and card:
        amount = ok.amount_minor if ok.amount_minor is not None else (payment.amount_minor if payment else 0)
        currency = ok.currency or (payment.currency if payment else "EUR")
        c = p.low_value_on(card)
        counter = LowValueCounter(card, c.count + 1, c.cumulative_eur_cents + _eur(amount, currency, rates))
        rest = tuple(x for x in p.low_value if x.card != card)
        return replace(p, low_value=(counter, *rest)[:MAX_ENTRIES])
    return p


def _ident(payment: PaymentRef, kind: str) -> str | None:
    prefix = f"{kind}:"
    return next((i[len(prefix):] for i in payment.identifiers if i.startswith(prefix)), None)


def _reset_low_value(p: CustomerProfile, card: str | None) -> CustomerProfile:
    return replace(p, low_value=tuple(c for c in p.low_value if c.card != card))


def _on_authentication(p: CustomerProfile, a: AuthenticationResult, payment: PaymentRef | None) -> CustomerProfile:
    issuer = a.card_issuer or (payment.card_issuer if payment else None)
    if a.exemption_requested and issuer:
        old = p.issuer(issuer) or IssuerRecord(issuer)
        rec = IssuerRecord(issuer, old.requested + 1, old.accepted + (a.exemption_accepted is True),
                           old.rejected + (a.exemption_accepted is False))
        p = replace(p, issuers=(rec, *(i for i in p.issuers if i.issuer != issuer))[:MAX_ENTRIES])
    outcome = a.challenge_outcome
    if outcome == "passed":
        card = a.card_fingerprint or (payment.card_fingerprint if payment else None)
        p = _reset_low_value(replace(p, challenges_passed=p.challenges_passed + 1), card)
    elif outcome == "failed":
        p = replace(p, challenges_failed=p.challenges_failed + 1)
    elif outcome == "abandoned":
        p = replace(p, challenges_abandoned=p.challenges_abandoned + 1)
    return p
