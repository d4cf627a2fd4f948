"""The customer profile: what checkout knows about one customer, folded from every input event.

One value per customer_id (the `customer_profiles` table). `update_profile` returns a new profile and never
mutates its input (Faust persists only what is assigned). Bounded: identifier lists keep the most recently
used entries, recent activity keeps a few days, the rest are aggregates (limits in records.py).

Trust comes from success, not from sightings: a device, card or address counts as the customer's own once a
payment made with it succeeded. A DeviceSeen or a failed attempt only records that it was seen.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.rules.dataclass_replace import replace
from agents.rules.declines import DeclineInfo
from agents.rules.events import (
    AuthenticationResult,
    Chargeback,
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
from agents.rules.ledger import PaymentRef
from agents.rules.profile.records import (
    MAX_CHARGEBACK_TIMES,
    AttemptMark,
    Challenges,
    DeviceAlert,
    IssuerRecord,
    LowValueCounter,
    Orders,
    Payments,
    Seen,
    add_money,
    add_order,
    earliest,
    failed,
    find,
    issuer_with_card,
    recent,
    recent_times,
    seen,
    succeeded,
    upsert_issuer,
    upsert_low_value,
)

__all__ = ["CustomerProfile", "chargeback_ages", "faded_chargebacks", "faded_weight", "has_bad_history",
           "update_profile"]


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    customer_id: str
    home_country: str | None = None  # the customer_country of their first attempt
    first_seen_at: int | None = None
    devices: tuple[Seen, ...] = ()
    ips: tuple[Seen, ...] = ()
    ip_countries: tuple[Seen, ...] = ()
    addresses: tuple[Seen, ...] = ()
    cards: tuple[Seen, ...] = ()  # card fingerprints; their issuers are in `issuers`
    methods: tuple[Seen, ...] = ()
    issuers: tuple[IssuerRecord, ...] = ()
    low_value: tuple[LowValueCounter, ...] = ()
    challenges: Challenges = Challenges()
    payments: Payments = Payments()
    store_orders: Orders = Orders()
    online_orders: Orders = Orders()
    first_online_order_id: str | None = None  # the order of the first online order or checkout attempt
    orders_delivered: int = 0
    chargebacks: int = 0  # every chargeback ever, for the record; risk reads their times (they fade)
    last_chargeback_at: int | None = None
    chargeback_times: tuple[int, ...] = ()  # newest first, at most MAX_CHARGEBACK_TIMES
    refunds_requested: int = 0
    refunds_issued: int = 0
    recent_attempts: tuple[AttemptMark, ...] = ()  # newest first
    recent_declines: tuple[int, ...] = ()  # newest first
    device_alert: DeviceAlert | None = None

    @classmethod
    def empty(cls, customer_id: str) -> CustomerProfile:
        return cls(customer_id=customer_id)

    def paid_with(self, kind: str, value: str | None, by: int | None = None) -> bool:
        """Had a payment with this device / ip / ip_country / address / card / method succeeded (by then)?"""
        entries: tuple[Seen, ...] = getattr(self, kind)
        entry = find(entries, value)
        if entry is None or entry.first_succeeded_at is None:
            return False
        return by is None or entry.first_succeeded_at <= by

    def seen_by(self, kind: str, value: str | None, at: int) -> bool:
        """Had this device / ip_country / address / ... been seen on the account by then?"""
        entries: tuple[Seen, ...] = getattr(self, kind)
        entry = find(entries, value)
        return entry is not None and entry.first_at <= at

    def paid_by(self, at: int) -> bool:
        """Had any payment of this customer succeeded by then?"""
        first = self.payments.first_succeeded_at
        return first is not None and first <= at

    def issuer(self, issuer: str | None) -> IssuerRecord | None:
        return next((i for i in self.issuers if i.issuer == issuer), None) if issuer else None

    def issuer_of_card(self, card: str | None) -> str | None:
        return next((i.issuer for i in self.issuers if card in i.cards), None) if card else None

    def low_value_on(self, card: str | None) -> LowValueCounter:
        found = next((c for c in self.low_value if c.card == card), None) if card else None
        return found or LowValueCounter(card=card or "")


def chargeback_ages(profile: CustomerProfile, now: int) -> tuple[int, ...]:
    """The ages (ms at `now`, newest first) of the customer's remembered chargebacks. A profile stored before
    their times were kept knows only the count and the last one: those count as if all were the last."""
    return tuple(max(0, now - t) for t in _chargeback_times(profile))


def _chargeback_times(p: CustomerProfile) -> tuple[int, ...]:
    if not p.chargeback_times and p.chargebacks and p.last_chargeback_at is not None:
        return (p.last_chargeback_at,) * min(p.chargebacks, MAX_CHARGEBACK_TIMES)
    return p.chargeback_times


def faded_weight(age_ms: int, half_life_ms: int) -> float:
    """What an event this old still weighs: 1 when new, 0.5 after one half-life, 0.25 after two."""
    return float(0.5 ** (max(0, age_ms) / half_life_ms))


def faded_chargebacks(profile: CustomerProfile, now: int, half_life_ms: int) -> float:
    """The customer's own chargebacks, each weighed by its age at `now`."""
    return sum(faded_weight(age, half_life_ms) for age in chargeback_ages(profile, now))


def has_bad_history(profile: CustomerProfile, now: int, half_life_ms: int, bad_from: float) -> bool:
    """Own chargebacks that still weigh `bad_from` at `now`, or payments blocked as fraud: no offers, no
    instant refunds, and risk in checkout."""
    return faded_chargebacks(profile, now, half_life_ms) >= bad_from or profile.payments.fraud_blocks > 0


def update_profile(profile: CustomerProfile, event: InputEvent, now: int,
                   payment: PaymentRef | None = None, decline: DeclineInfo | None = None) -> CustomerProfile:
    """Fold one input event into the profile. `payment` is the ledger's record of the event's payment_id, for
    events that carry only the id; `decline` is what a PaymentFailed means (`classify(event, policy.declines)`),
    required for one. Amounts are kept per currency and converted at decision time."""
    first = earliest(profile.first_seen_at, event.occurred_at)  # a late event may be the earliest one
    p = profile if first == profile.first_seen_at else replace(profile, first_seen_at=first)
    if isinstance(event, PaymentAttempted):
        return _on_attempt(p, event, now)
    if isinstance(event, PaymentSucceeded):
        return _on_success(p, event, payment)
    if isinstance(event, PaymentFailed):
        if decline is None:
            raise ValueError(f"PaymentFailed {event.event_id} needs its DeclineInfo")
        return _on_failure(p, event, payment, decline, now)
    if isinstance(event, AuthenticationResult):
        return _on_authentication(p, event, payment)
    if isinstance(event, Chargeback):
        return _on_chargeback(p, event)
    if isinstance(event, DeviceSeen):
        return _on_device(p, event)
    if isinstance(event, OrderPlaced):
        return _on_order(p, event)
    if isinstance(event, OrderDelivered):
        return replace(p, orders_delivered=p.orders_delivered + 1)
    if isinstance(event, RefundRequested):
        return replace(p, refunds_requested=p.refunds_requested + 1)
    if isinstance(event, RefundIssued):
        return replace(p, refunds_issued=p.refunds_issued + 1)
    return p  # CustomerPreferencesUpdated says nothing about risk or payment habits


def _on_attempt(p: CustomerProfile, a: PaymentAttempted, now: int) -> CustomerProfile:
    at = a.occurred_at
    issuers = p.issuers
    if a.card_issuer:
        record = p.issuer(a.card_issuer) or IssuerRecord(a.card_issuer)
        issuers = upsert_issuer(issuers, issuer_with_card(record, a.card_fingerprint))
    # Every customer-initiated online checkout is an online purchase, whether or not an OrderPlaced came first;
    # a payment at a store terminal is not.
    online = a.initiator == "customer" and a.channel == "online"
    first_online = p.first_online_order_id or (a.order_id if online else None)
    mark = AttemptMark(payment_id=a.payment_id, at=at, amount_minor=a.amount_minor, currency=a.currency,
                       card=a.card_fingerprint, ip_country=a.ip_country)
    return replace(
        p, home_country=p.home_country or a.customer_country or None,
        devices=seen(p.devices, a.device_id, at), ips=seen(p.ips, a.ip, at),
        ip_countries=seen(p.ip_countries, a.ip_country, at),
        addresses=seen(p.addresses, a.shipping_address_id, at), cards=seen(p.cards, a.card_fingerprint, at),
        methods=seen(p.methods, a.method, at), issuers=issuers, first_online_order_id=first_online,
        payments=replace(p.payments, attempted=p.payments.attempted + 1),
        recent_attempts=recent(p.recent_attempts, mark, now),
    )


def _attempt_mark(p: CustomerProfile, payment_id: str) -> AttemptMark | None:
    return next((m for m in p.recent_attempts if m.payment_id == payment_id), None)


def _identifier(payment: PaymentRef | None, kind: str) -> str | None:
    prefix = f"{kind}:"
    ids = payment.identifiers if payment else ()
    return next((i.removeprefix(prefix) for i in ids if i.startswith(prefix)), None)


def _on_success(p: CustomerProfile, ok: PaymentSucceeded, payment: PaymentRef | None) -> CustomerProfile:
    card = ok.card_fingerprint or (payment.card_fingerprint if payment else None)
    method = ok.method or (payment.method if payment else None)
    amount = ok.amount_minor if ok.amount_minor is not None else (payment.amount_minor if payment else None)
    currency = ok.currency or (payment.currency if payment else None)
    mark, at, pays = _attempt_mark(p, ok.payment_id), ok.occurred_at, p.payments
    pays = replace(pays, succeeded=pays.succeeded + 1, paid=add_money(pays.paid, currency, amount),
                   first_succeeded_at=earliest(pays.first_succeeded_at, at))
    p = replace(
        p, payments=pays, cards=succeeded(p.cards, card, at), methods=succeeded(p.methods, method, at),
        devices=succeeded(p.devices, _identifier(payment, "device"), at),
        addresses=succeeded(p.addresses, _identifier(payment, "addr"), at),
        ips=succeeded(p.ips, _identifier(payment, "ip"), at),
        ip_countries=succeeded(p.ip_countries, mark.ip_country if mark else None, at),
    )
    if ok.authentication == "challenge":  # a strong authentication starts the low-value count afresh
        return _reset_low_value(p, card)
    if ok.exemption == "low_value" and card:
        old = p.low_value_on(card)
        counter = LowValueCounter(card, old.payments + 1, add_money(old.amounts, currency, amount))
        return replace(p, low_value=upsert_low_value(p.low_value, counter))
    return p


def _on_failure(p: CustomerProfile, f: PaymentFailed, payment: PaymentRef | None, decline: DeclineInfo,
                now: int) -> CustomerProfile:
    card = f.card_fingerprint or (payment.card_fingerprint if payment else None)
    pays = p.payments
    return replace(
        p, payments=replace(pays, failed=pays.failed + 1, fraud_blocks=pays.fraud_blocks + decline.fraud),
        cards=failed(p.cards, card), methods=failed(p.methods, payment.method if payment else None),
        recent_declines=recent_times(p.recent_declines, f.occurred_at, now),
    )


def _on_authentication(p: CustomerProfile, a: AuthenticationResult,
                       payment: PaymentRef | None) -> CustomerProfile:
    card = a.card_fingerprint or (payment.card_fingerprint if payment else None)
    name = a.card_issuer or (payment.card_issuer if payment else None) or p.issuer_of_card(card)
    outcome = a.challenge_outcome
    passed, failed_, abandoned = outcome == "passed", outcome == "failed", outcome == "abandoned"
    challenges = Challenges(p.challenges.passed + passed, p.challenges.failed + failed_,
                            p.challenges.abandoned + abandoned)
    p = replace(p, challenges=challenges)
    if name:
        r = issuer_with_card(p.issuer(name) or IssuerRecord(name), card)
        asked = a.exemption_requested is not None
        r = replace(
            r, exemptions_requested=r.exemptions_requested + asked,
            exemptions_accepted=r.exemptions_accepted + (asked and a.exemption_accepted is True),
            exemptions_rejected=r.exemptions_rejected + (asked and a.exemption_accepted is False),
            challenges_passed=r.challenges_passed + passed, challenges_failed=r.challenges_failed + failed_,
            challenges_abandoned=r.challenges_abandoned + abandoned,
        )
        p = replace(p, issuers=upsert_issuer(p.issuers, r))
    return _reset_low_value(p, card) if passed else p


def _reset_low_value(p: CustomerProfile, card: str | None) -> CustomerProfile:
    if not card:
        return p
    return replace(p, low_value=tuple(c for c in p.low_value if c.card != card))


def _on_chargeback(p: CustomerProfile, c: Chargeback) -> CustomerProfile:
    last = max(c.occurred_at, p.last_chargeback_at or c.occurred_at)
    times = tuple(sorted((c.occurred_at, *_chargeback_times(p)), reverse=True))[:MAX_CHARGEBACK_TIMES]
    return replace(p, chargebacks=p.chargebacks + 1, last_chargeback_at=last, chargeback_times=times)


def _on_device(p: CustomerProfile, d: DeviceSeen) -> CustomerProfile:
    at = d.occurred_at
    # Only an account that already has devices can be taken over; a new customer's first device is no warning.
    new_device = find(p.devices, d.device_id) is None
    strange = bool(p.devices) and new_device and find(p.ip_countries, d.ip_country) is None
    alert = DeviceAlert(d.device_id, d.ip_country, at) if strange else p.device_alert
    return replace(p, devices=seen(p.devices, d.device_id, at), ips=seen(p.ips, d.ip, at),
                   ip_countries=seen(p.ip_countries, d.ip_country, at), device_alert=alert)


def _on_order(p: CustomerProfile, o: OrderPlaced) -> CustomerProfile:
    at = o.occurred_at
    if o.channel == "store":
        return replace(p, store_orders=add_order(p.store_orders, o.currency, o.amount_minor, at))
    return replace(p, online_orders=add_order(p.online_orders, o.currency, o.amount_minor, at),
                   first_online_order_id=p.first_online_order_id or o.order_id,
                   addresses=seen(p.addresses, o.shipping_address_id, at))
