"""The simulator's world: countries, people, cards, money, and the numbering and labelling of every event.

A `World` owns the seeded random generator, hands out deterministic ids (events, payments, orders, refunds) and
collects each event with its ground-truth label. People are made here with their country's habits: locale, time
zone, currency, payment methods with a personal favourite, one or two usual devices, a card. No real personal data:
names like "Customer 17", e-mails at example.test, IPs from the documentation ranges (RFC 5737).
Pure and deterministic for a seed: the same calls in the same order give the same world.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import NamedTuple

from agents.rules.events import Channel, InputEvent

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR

EEA = frozenset({"AT", "BE", "DE", "DK", "ES", "FI", "FR", "IE", "IT", "NL", "PL", "PT", "SE"})
EUR_CENTS_PER_MINOR = {"EUR": 1.0, "SEK": 0.087, "GBP": 1.17}  # as in policies/default.toml
DOC_IP_PREFIXES = ("192.0.2", "198.51.100", "203.0.113")  # RFC 5737: never a real host


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    locale: str
    timezone: str
    currency: str
    utc_offset_h: int  # winter time is close enough to place purchases in the local day
    methods: tuple[tuple[str, float], ...]  # payment methods and how popular each is there
    share: float  # share of the shop's customers


COUNTRIES = (
    Country("NL", "nl-NL", "Europe/Amsterdam", "EUR", 1,
            (("ideal", 0.6), ("klarna", 0.15), ("card", 0.15), ("paypal", 0.1)), 0.22),
    Country("DE", "de-DE", "Europe/Berlin", "EUR", 1,
            (("paypal", 0.3), ("klarna", 0.2), ("sofort", 0.15), ("card", 0.35)), 0.24),
    Country("SE", "sv-SE", "Europe/Stockholm", "SEK", 1, (("card", 0.45), ("klarna", 0.4), ("swish", 0.15)), 0.1),
    Country("FR", "fr-FR", "Europe/Paris", "EUR", 1, (("card", 0.8), ("paypal", 0.2)), 0.16),
    Country("GB", "en-GB", "Europe/London", "GBP", 0, (("card", 0.6), ("paypal", 0.2), ("apple_pay", 0.2)), 0.12),
    Country("ES", "es-ES", "Europe/Madrid", "EUR", 1, (("card", 0.6), ("paypal", 0.25), ("bizum", 0.15)), 0.09),
    Country("IT", "it-IT", "Europe/Rome", "EUR", 1, (("card", 0.6), ("paypal", 0.3), ("satispay", 0.1)), 0.07),
)
BY_CODE = {c.code: c for c in COUNTRIES}
CHANNELS: tuple[tuple[Channel, ...], ...] = (
    ("email",), ("email", "sms"), ("sms", "email"), ("push", "email"), ("in_app", "push", "email"))
ITEMS = ("running shoes", "rain jacket", "coffee grinder", "desk lamp", "headphones", "yoga mat", "backpack",
         "wool scarf", "cookbook", "phone case", "board game", "water bottle", "bed linen", "sunglasses")
BIG_ITEMS = ("e-bike battery", "espresso machine", "laptop", "road bike", "sofa", "camera")


class Decline(NamedTuple):
    """A decline as the processor and the card network report it."""

    code: str
    response: str
    advice: str | None  # Mastercard merchant advice code


SOFT_DECLINES = {
    "visa": (Decline("insufficient_funds", "51", None), Decline("do_not_honor", "05", None)),
    "mastercard": (Decline("insufficient_funds", "51", "24"), Decline("do_not_honor", "05", "25")),
}
HARD_DECLINES = {
    "visa": (Decline("expired_card", "54", None), Decline("stolen_card", "43", None)),
    "mastercard": (Decline("expired_card", "54", "01"), Decline("stolen_card", "43", "03"),
                   Decline("lost_card", "41", "03")),
}
TESTING_DECLINES = {  # what a burst of stolen card numbers mostly gets
    "visa": (Decline("incorrect_number", "14", None), Decline("incorrect_cvc", "N7", None),
             Decline("expired_card", "54", None), Decline("insufficient_funds", "51", None)),
    "mastercard": (Decline("incorrect_number", "14", "01"), Decline("expired_card", "54", "01"),
                   Decline("insufficient_funds", "51", "24")),
}
AUTHENTICATION_REQUIRED = {"visa": Decline("authentication_required", "1A", None),
                           "mastercard": Decline("authentication_required", "65", None)}


@dataclass(frozen=True, slots=True)
class Labelled:
    """One simulated event with its ground truth.

    actor: who really produced it (legit, traveller, late_payer, card_tester, account_takeover, stolen_card,
    refund_abuser). story: a short slug (the DOMAIN.md seed stories have their own). fraud: on a PaymentAttempted or
    RefundRequested, the attempt or claim is abusive and should ideally be stopped; on other events, the event
    belongs to such an act (its outcome, the fraudster's device, the chargeback that follows).
    """

    event: InputEvent
    actor: str
    story: str
    fraud: bool


@dataclass(frozen=True, slots=True)
class Card:
    fingerprint: str
    issuer: str
    country: str
    network: str  # visa or mastercard
    exemption_acceptance: float = 0.92  # how often the issuer accepts a requested SCA exemption


@dataclass(slots=True)
class Person:
    """A customer account and the habits behind it; a life changes devices and cards, so this one is mutable."""

    index: int
    cid: str
    name: str
    email: str
    country: Country
    devices: list[str]
    ip: str
    address: str
    card: Card
    favourite: str  # the method this person reaches for ...
    loyalty: float  # ... this often
    cards_issued: int = 1

    @property
    def device(self) -> str:
        return self.devices[0]


@dataclass
class World:
    seed: int
    rng: random.Random
    labelled: list[Labelled] = field(default_factory=list)
    n: int = 0
    people: int = 0
    low_value: dict[str, tuple[int, int]] = field(default_factory=dict)  # card -> (exemptions, EUR cents) since SCA

    @classmethod
    def new(cls, seed: int) -> World:
        return cls(seed=seed, rng=random.Random(seed))

    def eid(self) -> str:
        self.n += 1
        return f"sim-{self.seed}-{self.n}"

    def ref(self, prefix: str) -> str:
        """A unique id for a payment, order or refund."""
        self.n += 1
        return f"{prefix}-{self.seed}-{self.n}"

    def emit(self, event: InputEvent, actor: str, story: str, fraud: bool = False) -> None:
        self.labelled.append(Labelled(event, actor, story, fraud))

    def ip(self) -> str:
        return f"{self.rng.choice(DOC_IP_PREFIXES)}.{self.rng.randint(1, 254)}"

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def between(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, max(lo, hi))

    def country(self) -> Country:
        return self.rng.choices(COUNTRIES, weights=[c.share for c in COUNTRIES])[0]

    def new_card(self, fingerprint: str, country: str, issuer: str | None = None, acceptance: float = 0.92) -> Card:
        return Card(fingerprint=fingerprint, issuer=issuer or f"bank-{country.lower()}-{self.rng.randint(1, 6)}",
                    country=country, network="visa" if self.chance(0.6) else "mastercard",
                    exemption_acceptance=acceptance)

    def next_card(self, p: Person, country: str | None = None) -> Card:
        """The person's next card (a replacement, or one from another bank)."""
        card = self.new_card(f"card-{self.seed}-{p.index}-{p.cards_issued}", country or p.country.code)
        p.cards_issued += 1
        return card

    def strangers_card(self, country: str) -> Card:
        """Someone else's card, in a fraudster's hands."""
        return self.new_card(self.ref("card"), country)

    def person(self, country: str | None = None, favourite: str | None = None, loyalty: float | None = None,
               devices: int | None = None) -> Person:
        """The next customer account, cust-00000 onwards, with its country's habits and a personal favourite."""
        i = self.people
        self.people += 1
        c = BY_CODE[country] if country else self.country()
        methods = [m for m, _ in c.methods]
        fav = favourite or self.rng.choices(methods, weights=[w for _, w in c.methods])[0]
        kinds = ("phone", "laptop", "tablet")
        usual = [f"dev-{self.seed}-{i}-{kinds[k]}" for k in range(devices or (2 if self.chance(0.45) else 1))]
        return Person(index=i, cid=f"cust-{i:05d}", name=f"Customer {i}", email=f"c{i}@example.test", country=c,
                      devices=usual, ip=self.ip(), address=f"addr-{self.seed}-{i}",
                      card=self.new_card(f"card-{self.seed}-{i}-0", c.code), favourite=fav,
                      loyalty=loyalty if loyalty is not None else self.rng.uniform(0.6, 0.95))

    def method_for(self, p: Person) -> str:
        if self.chance(p.loyalty):
            return p.favourite
        return self.rng.choices([m for m, _ in p.country.methods], weights=[w for _, w in p.country.methods])[0]

    def daytime(self, p: Person, day_at: int) -> int:
        """A moment between 08:00 and 22:00 local time on the calendar day of `day_at`."""
        midnight = day_at - day_at % DAY - p.country.utc_offset_h * HOUR
        return midnight + self.rng.randint(8 * 60, 22 * 60 - 1) * MINUTE + self.rng.randint(0, MINUTE - 1)


def eur_cents(amount_minor: int, currency: str) -> int:
    return round(amount_minor * EUR_CENTS_PER_MINOR.get(currency, 1.0))


def price(w: World, currency: str, euros: tuple[int, int] | None = None) -> int:
    """A shop price in minor units of `currency`: mostly EUR 5-400, a few big-ticket orders above EUR 500."""
    if euros is None:
        r = w.rng.random()
        euros = (5, 29) if r < 0.3 else (30, 149) if r < 0.8 else (150, 399) if r < 0.97 else (500, 1200)
    cents = w.rng.randint(*euros) * 100 - w.rng.choice((1, 5, 100))
    if currency == "SEK":  # Swedish prices are whole kronor ending in 9
        return max(9, round(cents / EUR_CENTS_PER_MINOR["SEK"] / 1000)) * 1000 - 100
    if currency == "GBP":
        return max(1, round(cents / EUR_CENTS_PER_MINOR["GBP"] / 100)) * 100 - 1
    return cents
