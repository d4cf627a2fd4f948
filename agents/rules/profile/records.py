"""The small records a customer profile is made of, and the pure helpers that fold one observation into them.

Every helper returns a new tuple and keeps it bounded: lists of identifiers keep the most recently used
entries (aggregates such as counts stay exact), recent-activity lists keep the newest marks. Money is kept per
currency (`Money`) and converted to EUR only at decision time, with the policy's rates.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.rules.dataclass_replace import replace
from agents.rules.timeunits import DAY_MS

MAX_SEEN = 20  # devices, IPs, countries, addresses, cards, methods: the most recently used ones
MAX_ISSUERS = 10
MAX_CARDS_PER_ISSUER = 5
MAX_LOW_VALUE_CARDS = 10
MAX_CHARGEBACK_TIMES = 10  # own chargebacks whose times are kept: older ones have faded to nothing by then
MAX_RECENT = 40  # recent attempts and declines, for velocity rules measured in minutes and hours
RECENT_HORIZON_MS = 7 * DAY_MS  # recent marks older than this are dropped; policy windows must fit inside


@dataclass(frozen=True, slots=True)
class Seen:
    """One identifier (device, IP, country, address, card, method) and how it has served the customer."""

    value: str
    first_at: int
    last_at: int
    count: int = 1  # times seen: attempts, device sightings, orders
    succeeded: int = 0  # payments that succeeded with it: only these earn trust ...
    first_succeeded_at: int | None = None  # ... once they have aged a little (a thief's own success does not)
    failed: int = 0  # payments that failed with it


@dataclass(frozen=True, slots=True)
class Money:
    currency: str
    minor: int


@dataclass(frozen=True, slots=True)
class IssuerRecord:
    """How one card issuer has treated this customer: exemption requests and 3-D Secure challenges."""

    issuer: str
    cards: tuple[str, ...] = ()  # card fingerprints from this issuer, most recent first
    exemptions_requested: int = 0
    exemptions_accepted: int = 0
    exemptions_rejected: int = 0
    challenges_passed: int = 0
    challenges_failed: int = 0
    challenges_abandoned: int = 0


@dataclass(frozen=True, slots=True)
class LowValueCounter:
    """Low-value exemptions used on one card since its last strong authentication (RTS Art. 16)."""

    card: str
    payments: int = 0
    amounts: tuple[Money, ...] = ()  # cumulative, per currency


@dataclass(frozen=True, slots=True)
class Challenges:
    passed: int = 0
    failed: int = 0
    abandoned: int = 0

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.abandoned


@dataclass(frozen=True, slots=True)
class Payments:
    attempted: int = 0
    succeeded: int = 0
    failed: int = 0
    fraud_blocks: int = 0  # declines the issuer or processor flagged as fraud
    first_succeeded_at: int | None = None
    paid: tuple[Money, ...] = ()  # total of successful payments, per currency


@dataclass(frozen=True, slots=True)
class Orders:
    """Orders in one channel (store or online)."""

    count: int = 0
    value: tuple[Money, ...] = ()
    last_at: int | None = None


@dataclass(frozen=True, slots=True)
class AttemptMark:
    """One recent payment attempt, kept for velocity and card-testing rules."""

    payment_id: str
    at: int
    amount_minor: int
    currency: str
    card: str | None
    ip_country: str | None


@dataclass(frozen=True, slots=True)
class DeviceAlert:
    """A never-seen device appeared from a never-seen country: a takeover warning, for a while."""

    device_id: str
    country: str
    at: int


def find(entries: tuple[Seen, ...], value: str | None) -> Seen | None:
    if value:
        for s in entries:
            if s.value == value:
                return s
    return None


def seen(entries: tuple[Seen, ...], value: str | None, at: int) -> tuple[Seen, ...]:
    """Record one sighting; the least recently used entry falls off when the list is full. Entries are kept most
    recently used first (ties by value)."""
    if not value:
        return entries
    rest = entries
    for i, s in enumerate(entries):
        if s.value == value:
            rest = entries[:i] + entries[i + 1:]
            new = replace(s, first_at=min(s.first_at, at), last_at=max(s.last_at, at), count=s.count + 1)
            break
    else:
        new = Seen(value, at, at)
    if not rest or rest[0].last_at < new.last_at:  # the usual case: the newest sighting goes first
        return (new, *rest)[:MAX_SEEN]
    return tuple(sorted((new, *rest), key=_recency))[:MAX_SEEN]


def _recency(s: Seen) -> tuple[int, str]:
    return -s.last_at, s.value


def earliest(a: int | None, b: int) -> int:
    return b if a is None else min(a, b)


def succeeded(entries: tuple[Seen, ...], value: str | None, at: int) -> tuple[Seen, ...]:
    return tuple(replace(s, succeeded=s.succeeded + 1, first_succeeded_at=earliest(s.first_succeeded_at, at))
                 if s.value == value else s for s in entries)


def failed(entries: tuple[Seen, ...], value: str | None) -> tuple[Seen, ...]:
    return tuple(replace(s, failed=s.failed + 1) if s.value == value else s for s in entries)


def add_money(bag: tuple[Money, ...], currency: str | None, minor: int | None) -> tuple[Money, ...]:
    if not currency or minor is None:
        return bag
    code = currency.upper()
    total = minor + sum(m.minor for m in bag if m.currency == code)
    others = (m for m in bag if m.currency != code)
    return tuple(sorted((Money(code, total), *others), key=lambda m: m.currency))


def add_order(orders: Orders, currency: str, minor: int, at: int) -> Orders:
    last = at if orders.last_at is None else max(orders.last_at, at)
    return Orders(count=orders.count + 1, value=add_money(orders.value, currency, minor), last_at=last)


def recent(marks: tuple[AttemptMark, ...], mark: AttemptMark, now: int) -> tuple[AttemptMark, ...]:
    """Newest first, within the horizon, bounded."""
    kept = (m for m in (mark, *marks) if now - m.at <= RECENT_HORIZON_MS)
    return tuple(sorted(kept, key=lambda m: (-m.at, m.payment_id)))[:MAX_RECENT]


def recent_times(times: tuple[int, ...], at: int, now: int) -> tuple[int, ...]:
    return tuple(sorted((t for t in (at, *times) if now - t <= RECENT_HORIZON_MS), reverse=True))[:MAX_RECENT]


def issuer_with_card(record: IssuerRecord, card: str | None) -> IssuerRecord:
    if not card:
        return record
    cards = (card, *(c for c in record.cards if c != card))[:MAX_CARDS_PER_ISSUER]
    return replace(record, cards=cards)


def upsert_issuer(issuers: tuple[IssuerRecord, ...], record: IssuerRecord) -> tuple[IssuerRecord, ...]:
    """The updated issuer goes first; the issuer untouched longest falls off when the list is full."""
    return (record, *(i for i in issuers if i.issuer != record.issuer))[:MAX_ISSUERS]


def upsert_low_value(counters: tuple[LowValueCounter, ...],
                     counter: LowValueCounter) -> tuple[LowValueCounter, ...]:
    return (counter, *(c for c in counters if c.card != counter.card))[:MAX_LOW_VALUE_CARDS]
