"""The risk signals checkout reads from the customer's own profile. One small function per signal, named for
the question it answers; each returns a `Signal` (code, points from [checkout.weights], a sentence) or None.

- Trust (negative points): USUAL_DEVICE, USUAL_CARD, USUAL_ADDRESS, ESTABLISHED_CUSTOMER, REVIEWED_LEGITIMATE (a
  reviewer said so: agents/rules/reviews).
- Something new: NEW_CUSTOMER, NEW_DEVICE, NEW_CARD, NEW_ADDRESS, NEW_IP_COUNTRY.
- Own history: OWN_CHARGEBACKS, FRAUD_BLOCKS, FAILED_CHALLENGES.
- Card testing: ATTEMPT_VELOCITY, MANY_CARDS, SMALL_AMOUNTS, RECENT_DECLINES.
- Account takeover: TAKEOVER_PATTERN, NEW_DEVICE_NEW_COUNTRY. Amount: UNUSUAL_AMOUNT.

Signals from other customers' identities (stolen cards, linked fraudsters) are in linked_risk.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from agents.rules.checkout.policy import CheckoutPolicy
from agents.rules.events import PaymentAttempted
from agents.rules.identity import IdentityNode
from agents.rules.profile import AttemptMark, CustomerProfile, chargeback_ages, faded_chargebacks, faded_weight
from agents.rules.profile import has_bad_history as _has_bad_history
from agents.rules.reviews.standing import NO_STANDING, Standing
from agents.rules.timeunits import DAY_MS, HOUR_MS, MINUTE_MS


@dataclass(frozen=True, slots=True)
class Signal:
    code: str
    points: int  # positive = risk, negative = trust, 0 = an explanation that changed nothing
    detail: str


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything a signal may look at: the profile and identity links as they were before this attempt."""

    profile: CustomerProfile
    attempt: PaymentAttempted
    links: Mapping[str, IdentityNode]
    policy: CheckoutPolicy
    eur_cents: int | None  # the attempt's amount in EUR cents; None without a rate for its currency
    now: int
    standing: Standing = NO_STANDING  # what reviewers and linked accounts say about the customer now

    @property
    def trusted_before(self) -> int:
        """Successes from before this time earn trust; younger ones may be a fraudster's own first payment."""
        return self.now - self.policy.trust_after_ms

    @property
    def known(self) -> bool:
        """Has the customer paid successfully (long enough ago)? Newness means something only then."""
        return self.profile.paid_by(self.trusted_before)

    def paid_with(self, kind: str, value: str | None) -> bool:
        return self.profile.paid_with(kind, value, by=self.trusted_before)

    def familiar(self, kind: str, value: str | None) -> bool:
        """Paid with, or at least part of the account for a while (logins, orders): not fresh."""
        return self.paid_with(kind, value) or self.profile.seen_by(kind, value, self.trusted_before)


SignalRule = Callable[[Facts], Signal | None]


def has_bad_history(profile: CustomerProfile, policy: CheckoutPolicy, now: int) -> bool:
    """Own chargebacks still weighing [checkout] bad_history_from at `now` (they fade with
    chargeback_half_life_days), or payments blocked as fraud."""
    return _has_bad_history(profile, now, policy.chargeback_half_life_ms, policy.bad_history_from)


def describe_age(age_ms: int) -> str:
    """'3 days', '5 weeks', '14 months': how long ago, in the unit a person would use."""
    days = age_ms // DAY_MS
    if days < 14:
        return f"{days} day{'s' * (days != 1)}"
    if days < 61:
        return f"{days // 7} weeks"
    return f"{round(days / 30.44)} months"


def signal(f: Facts, code: str, detail: str, times: int = 1) -> Signal:
    """A signal worth its weight; a code without a weight in the policy is a policy error, not zero points."""
    return Signal(code, f.policy.weights[code] * times, detail)


# ---- trust ---------------------------------------------------------------------------------------------

def paid_from_this_device_before(f: Facts) -> Signal | None:
    if f.paid_with("devices", f.attempt.device_id):
        return signal(f, "USUAL_DEVICE", "The customer's usual device: payments from it succeeded before.")
    return None


def paid_with_this_card_before(f: Facts) -> Signal | None:
    if f.paid_with("cards", f.attempt.card_fingerprint):
        return signal(f, "USUAL_CARD", "A card this customer has paid with successfully before.")
    return None


def paid_for_this_address_before(f: Facts) -> Signal | None:
    if f.paid_with("addresses", f.attempt.shipping_address_id):
        return signal(f, "USUAL_ADDRESS", "Ships to an address the customer has paid for before.")
    return None


def is_established_in_good_standing(f: Facts) -> Signal | None:
    p, policy = f.profile, f.policy
    days = (f.now - p.first_seen_at) // DAY_MS if p.first_seen_at is not None else 0
    paid = p.payments.succeeded
    if paid >= policy.established_after_payments and days >= policy.established_after_days \
            and not has_bad_history(p, policy, f.now):
        return signal(f, "ESTABLISHED_CUSTOMER",
                      f"{paid} successful payments over {days} days, no chargebacks.")
    return None


def was_confirmed_legitimate(f: Facts) -> Signal | None:
    found = f.standing.legitimate
    if found is not None:
        return signal(f, found.code, found.detail)
    return None


# ---- something new -------------------------------------------------------------------------------------

def is_new_customer(f: Facts) -> Signal | None:
    if not f.known:
        return signal(f, "NEW_CUSTOMER", "No successful payment with us yet.")
    return None


def is_new_device(f: Facts) -> Signal | None:
    device = f.attempt.device_id
    if f.known and device and not f.paid_with("devices", device):
        return signal(f, "NEW_DEVICE", "No payment from this device has succeeded for this customer.")
    return None


def is_new_card(f: Facts) -> Signal | None:
    card = f.attempt.card_fingerprint
    if f.known and card and not f.paid_with("cards", card):
        return signal(f, "NEW_CARD", "A card this customer has not paid with before.")
    return None


def is_new_address(f: Facts) -> Signal | None:
    address = f.attempt.shipping_address_id
    if f.known and address and not f.paid_with("addresses", address):
        return signal(f, "NEW_ADDRESS", "Ships to an address the customer has not paid for before.")
    return None


def is_new_ip_country(f: Facts) -> Signal | None:
    country = f.attempt.ip_country
    if f.known and country and not f.familiar("ip_countries", country):
        return signal(f, "NEW_IP_COUNTRY", f"First time seen from an IP in {country}.")
    return None


def ip_differs_from_card_on_an_unproven_device(f: Facts) -> Signal | None:
    """The per-transaction rule, kept only where identity cannot vouch: an IP abroad means nothing on the device a
    customer always pays from (a traveller), but on a device that never paid it is how stolen cards are used."""
    a = f.attempt
    if a.card_country and a.ip_country and a.ip_country != a.card_country and not f.familiar("devices", a.device_id):
        return signal(f, "IP_CARD_COUNTRY_MISMATCH",
                      f"IP in {a.ip_country}, card from {a.card_country}, on a device new to this account.")
    return None


# ---- own history ---------------------------------------------------------------------------------------

def has_charged_back_before(f: Facts) -> Signal | None:
    """Each own chargeback weighs 0.5 ** (age / half-life): the signal scores the faded sum (up to
    max_counted_chargebacks) while it is still bad history, and says how old each one is."""
    policy = f.policy
    half_life = policy.chargeback_half_life_ms
    ages = chargeback_ages(f.profile, f.now)
    faded = faded_chargebacks(f.profile, f.now, half_life)
    if not ages or faded < policy.bad_history_from:
        return None
    each = ", ".join(f"a chargeback {describe_age(age)} ago, faded to {faded_weight(age, half_life):.1f}"
                     for age in ages)
    points = round(policy.weights["OWN_CHARGEBACKS"] * min(faded, policy.max_counted_chargebacks))
    days = half_life // DAY_MS
    return Signal("OWN_CHARGEBACKS", points, f"{each[0].upper()}{each[1:]} (half-life {days} days): {points} "
                                            "points.")


def was_blocked_for_fraud(f: Facts) -> Signal | None:
    n = f.profile.payments.fraud_blocks
    if n:
        return signal(f, "FRAUD_BLOCKS", f"{n} earlier payment(s) declined as suspected fraud.")
    return None


def fails_challenges(profile: CustomerProfile, policy: CheckoutPolicy) -> bool:
    """Several failed 3-D Secure challenges, more than passed: maybe not the cardholder at all."""
    c = profile.challenges
    return c.failed >= policy.failed_challenges and c.failed > c.passed


def keeps_failing_challenges(f: Facts) -> Signal | None:
    c = f.profile.challenges
    if fails_challenges(f.profile, f.policy):
        return signal(f, "FAILED_CHALLENGES", f"{c.failed} failed 3-D Secure challenges, {c.passed} passed.")
    return None


# ---- card testing ----------------------------------------------------------------------------------------

def _earlier_within(f: Facts, window_ms: int) -> list[AttemptMark]:
    """The customer's earlier attempts within the window (this attempt is not among them)."""
    now = f.now
    return [m for m in f.profile.recent_attempts if 0 <= now - m.at <= window_ms]


def is_attempting_too_fast(f: Facts) -> Signal | None:
    window = f.policy.velocity_window_ms
    n = 1 + len(_earlier_within(f, window))
    if n >= f.policy.velocity_attempts:
        minutes = window // MINUTE_MS
        return signal(f, "ATTEMPT_VELOCITY", f"{n} attempts on this account within {minutes} minutes.")
    return None


def is_cycling_cards(f: Facts) -> Signal | None:
    window = f.policy.card_window_ms
    cards = {m.card for m in _earlier_within(f, window) if m.card}
    if f.attempt.card_fingerprint:
        cards.add(f.attempt.card_fingerprint)
    if len(cards) >= f.policy.cards_in_window:
        return signal(f, "MANY_CARDS", f"{len(cards)} different cards on this account within "
                                       f"{window // HOUR_MS} hours.")
    return None


def is_probing_with_small_amounts(f: Facts) -> Signal | None:
    limit = f.policy.small_amount_eur_cents
    if f.eur_cents is None or f.eur_cents >= limit:
        return None
    earlier = (f.policy.eur_cents(m.amount_minor, m.currency) for m in _earlier_within(f, f.policy.velocity_window_ms))
    small = [eur for eur in (f.eur_cents, *earlier) if eur is not None and eur < limit]
    if len(small) >= f.policy.small_attempts:
        return signal(f, "SMALL_AMOUNTS",
                      f"{len(small)} attempts under EUR {limit / 100:.2f} in a short time: card testing?")
    return None


def was_declined_repeatedly(f: Facts) -> Signal | None:
    window = f.policy.declines_window_ms
    n = sum(1 for t in f.profile.recent_declines if 0 <= f.now - t <= window)
    if n >= f.policy.declines_in_window:
        return signal(f, "RECENT_DECLINES", f"{n} declined payments within {window // MINUTE_MS} minutes.")
    return None


# ---- account takeover, amount ----------------------------------------------------------------------------

def looks_like_account_takeover(f: Facts) -> Signal | None:
    """A fresh device and address (not merely unpaid-with: a phone used for logins for weeks is the
    customer's) and a new card, all at once, on an old account."""
    a, p = f.attempt, f.profile
    old = p.first_seen_at is not None and f.now - p.first_seen_at >= f.policy.established_after_days * DAY_MS
    fresh = all(value and not f.familiar(kind, value)
                for kind, value in (("devices", a.device_id), ("addresses", a.shipping_address_id)))
    new_card = bool(a.card_fingerprint) and not f.paid_with("cards", a.card_fingerprint)
    if f.known and old and fresh and new_card:
        return signal(f, "TAKEOVER_PATTERN", "A fresh device and shipping address and a new card at once on "
                                             "an established account.")
    return None


def follows_new_device_from_new_country(f: Facts) -> Signal | None:
    alert, device = f.profile.device_alert, f.attempt.device_id
    if alert is None or alert.device_id != device or f.paid_with("devices", device):
        return None
    if 0 <= f.now - alert.at <= f.policy.takeover_window_ms:
        hours = (f.now - alert.at) // HOUR_MS
        return signal(f, "NEW_DEVICE_NEW_COUNTRY",
                      f"This device first appeared {hours} h ago from {alert.country}, a new country.")
    return None


def is_unusually_large(f: Facts) -> Signal | None:
    p, policy, eur = f.profile, f.policy, f.eur_cents
    if not f.known or eur is None or eur < policy.unusual_amount_min_eur_cents:
        return None
    average = sum(policy.eur_cents(m.minor, m.currency) or 0 for m in p.payments.paid) / p.payments.succeeded
    factor = policy.unusual_amount_factor
    if eur > average * factor:
        return signal(f, "UNUSUAL_AMOUNT", f"EUR {eur / 100:.2f} is over {factor:g} times this customer's "
                                           f"average payment of EUR {average / 100:.2f}.")
    return None


PROFILE_SIGNALS: tuple[SignalRule, ...] = (
    has_charged_back_before, was_blocked_for_fraud, keeps_failing_challenges,
    is_attempting_too_fast, is_cycling_cards, is_probing_with_small_amounts, was_declined_repeatedly,
    looks_like_account_takeover, follows_new_device_from_new_country, is_unusually_large,
    is_new_customer, is_new_device, is_new_card, is_new_address, is_new_ip_country,
    ip_differs_from_card_on_an_unproven_device,
    paid_from_this_device_before, paid_with_this_card_before, paid_for_this_address_before,
    is_established_in_good_standing, was_confirmed_legitimate,
)
