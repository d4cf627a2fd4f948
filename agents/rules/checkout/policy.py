"""The [checkout] section of the policy, typed: risk weights and bands, the windows the signals look back
over, SCA limits ([checkout.sca]), payment-method priors ([checkout.methods]) and perks ([checkout.perks]); amounts
convert with the policy's one [fx] table. Built by agents.rules.policy's loader; decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agents.rules.fx import Fx
from agents.rules.policy import GIVEN, from_key
from agents.rules.timeunits import DAY_MS, HOUR_MS, MINUTE_MS


@dataclass(frozen=True, slots=True)
class TraBand:
    """RTS Art. 18 Annex: TRA is allowed up to this amount while the merchant's fraud rate is at most this."""

    up_to_eur_cents: int
    max_fraud_rate: float


@dataclass(frozen=True, slots=True)
class ScaPolicy:
    low_value_below_eur_cents: int  # exemption only strictly below this (EUR 30)
    low_value_max_payments: int  # RTS Art. 16: 5 consecutive exempted payments since the last SCA ...
    low_value_max_cumulative_eur_cents: int  # ... or EUR 100 cumulative, whichever the issuer hits first
    tra_bands: tuple[TraBand, ...]  # ascending by amount; above the last band TRA never applies
    merchant_fraud_rate: float  # this quarter's fraud rate as a fraction (0.0005 = 0.05 %)
    tra_max_risk_score: int  # TRA also needs our own real-time analysis to call the payment low-risk
    issuer_min_requests: int  # exemption requests seen before we judge an issuer's acceptance
    issuer_max_acceptance: float  # at or below this acceptance rate the issuer "rarely accepts"
    min_challenges_passed: int  # the customer reliably completes 3-D Secure: passed at least this many ...
    min_challenge_pass_rate: float  # ... and at least this share of their challenges
    self_authenticating_methods: tuple[str, ...]  # wallets and bank redirects run their own SCA

    def validate(self) -> None:
        amounts = [b.up_to_eur_cents for b in self.tra_bands]
        if amounts != sorted(amounts):
            raise ValueError("tra_bands must be in ascending order of amount")


@dataclass(frozen=True, slots=True)
class MethodPolicy:
    country_priors: Mapping[str, tuple[str, ...]]  # by popularity, for when the customer's history is silent
    default: tuple[str, ...]  # for countries without a prior, and to complete every ranking
    demote_after_failures: int  # a method that failed this often and never succeeded goes to the back

    def validate(self) -> None:
        if not self.default:
            raise ValueError("default must name at least one method")


@dataclass(frozen=True, slots=True)
class CheckoutPolicy:
    base_score: int  # every attempt starts here; signals add (risk) or subtract (trust) their weight
    challenge_from: int  # Radar-like bands: a 3-D Secure challenge from here ...
    decline_from: int  # ... and a decline from here (from challenge_from if the customer cannot authenticate)
    weights: Mapping[str, int]  # signal code -> points
    step_up_signals: frozenset[str]  # signals that ask for 3-D Secure at any score (Radar's "request 3DS")
    # a success earns trust (usual device, card, ...) only once it is this old
    trust_after_ms: int = field(metadata=from_key("trust_after_hours", scale=HOUR_MS))
    established_after_payments: int  # successful payments and ...
    established_after_days: int  # ... account age before a customer counts as established
    velocity_window_ms: int = field(metadata=from_key("velocity_window_minutes", scale=MINUTE_MS))
    velocity_attempts: int  # attempts on one account within the window that look like card testing
    card_window_ms: int = field(metadata=from_key("card_window_hours", scale=HOUR_MS))
    cards_in_window: int  # distinct cards on one account within the window
    small_amount_eur_cents: int  # below this an attempt is a probe-sized amount ...
    small_attempts: int  # ... and this many of them within the velocity window is probing
    declines_window_ms: int = field(metadata=from_key("declines_window_minutes", scale=MINUTE_MS))
    declines_in_window: int
    accounts_per_device: int  # other accounts on the attempt's device that suggest a card-testing farm
    accounts_per_card: int  # other accounts on the attempt's card that suggest a stolen card
    max_counted_chargebacks: int  # own (faded) chargebacks beyond this add nothing more
    # each chargeback weighs 0.5 ** (age / half-life) at decision time
    chargeback_half_life_ms: int = field(metadata=from_key("chargeback_half_life_days", scale=DAY_MS))
    bad_history_from: float  # own faded chargeback weight from which the customer has "bad history"
    linked_chargeback_half_lives: float  # other customers' chargebacks older than this many half-lives: forgotten
    failed_challenges: int  # failed 3-D Secure challenges (more failed than passed): maybe the wrong person
    # a payment this soon after a new device appeared from a new country
    takeover_window_ms: int = field(metadata=from_key("takeover_window_hours", scale=HOUR_MS))
    unusual_amount_factor: float  # an amount this many times the customer's average payment ...
    unusual_amount_min_eur_cents: int  # ... and at least this much is unusual
    methods: MethodPolicy
    first_online_order_perk: str = field(metadata=from_key("perks.first_online_order"))  # store customers going online
    sca: ScaPolicy
    fx: Fx = field(metadata=GIVEN)  # the policy's one [fx] table

    def validate(self) -> None:
        if not 0 <= self.challenge_from <= self.decline_from <= 100:
            raise ValueError("needs 0 <= challenge_from <= decline_from <= 100")
        if self.chargeback_half_life_ms <= 0:
            raise ValueError("chargeback_half_life_days must be positive")
        if not 0 < self.bad_history_from <= 1:
            raise ValueError("bad_history_from must be in (0, 1]")

    def eur_cents(self, amount_minor: int, currency: str) -> int | None:
        """The amount in EUR cents, or None for a currency without a rate (no amount rule may then assume)."""
        return self.fx.eur_cents(amount_minor, currency)
