"""The [checkout] section of the policy, typed: risk weights and bands, the windows the signals look back
over, SCA limits ([checkout.sca]), exchange rates ([checkout.eur_rates]), payment-method priors
([checkout.methods]) and perks ([checkout.perks]). Parsed by `CheckoutPolicy.from_mapping`; decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


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

    @classmethod
    def from_mapping(cls, s: Mapping[str, Any]) -> Self:
        bands = tuple(TraBand(int(b["up_to_eur_cents"]), float(b["max_fraud_rate"])) for b in s["tra_bands"])
        if [b.up_to_eur_cents for b in bands] != sorted(b.up_to_eur_cents for b in bands):
            raise ValueError("[checkout.sca] tra_bands must be in ascending order of amount")
        return cls(
            low_value_below_eur_cents=int(s["low_value_below_eur_cents"]),
            low_value_max_payments=int(s["low_value_max_payments"]),
            low_value_max_cumulative_eur_cents=int(s["low_value_max_cumulative_eur_cents"]),
            tra_bands=bands,
            merchant_fraud_rate=float(s["merchant_fraud_rate"]),
            tra_max_risk_score=int(s["tra_max_risk_score"]),
            issuer_min_requests=int(s["issuer_min_requests"]),
            issuer_max_acceptance=float(s["issuer_max_acceptance"]),
            min_challenges_passed=int(s["min_challenges_passed"]),
            min_challenge_pass_rate=float(s["min_challenge_pass_rate"]),
            self_authenticating_methods=tuple(str(m) for m in s["self_authenticating_methods"]),
        )


@dataclass(frozen=True, slots=True)
class MethodPolicy:
    country_priors: Mapping[str, tuple[str, ...]]  # by popularity, for when the customer's history is silent
    default: tuple[str, ...]  # for countries without a prior, and to complete every ranking
    demote_after_failures: int  # a method that failed this often and never succeeded goes to the back

    @classmethod
    def from_mapping(cls, s: Mapping[str, Any]) -> Self:
        if not s["default"]:
            raise ValueError("[checkout.methods] default must name at least one method")
        return cls(
            country_priors={str(k): tuple(str(m) for m in v) for k, v in s["country_priors"].items()},
            default=tuple(str(m) for m in s["default"]),
            demote_after_failures=int(s["demote_after_failures"]),
        )


@dataclass(frozen=True, slots=True)
class CheckoutPolicy:
    base_score: int  # every attempt starts here; signals add (risk) or subtract (trust) their weight
    challenge_from: int  # Radar-like bands: a 3-D Secure challenge from here ...
    decline_from: int  # ... and a decline from here (from challenge_from if the customer cannot authenticate)
    weights: Mapping[str, int]  # signal code -> points
    step_up_signals: frozenset[str]  # signals that ask for 3-D Secure at any score (Radar's "request 3DS")
    trust_after_ms: int  # a success earns trust (usual device, card, ...) only once it is this old
    established_after_payments: int  # successful payments and ...
    established_after_days: int  # ... account age before a customer counts as established
    velocity_window_ms: int
    velocity_attempts: int  # attempts on one account within the window that look like card testing
    card_window_ms: int
    cards_in_window: int  # distinct cards on one account within the window
    small_amount_eur_cents: int  # below this an attempt is a probe-sized amount ...
    small_attempts: int  # ... and this many of them within the velocity window is probing
    declines_window_ms: int
    declines_in_window: int
    accounts_per_device: int  # other accounts on the attempt's device that suggest a card-testing farm
    accounts_per_card: int  # other accounts on the attempt's card that suggest a stolen card
    max_counted_chargebacks: int  # own chargebacks beyond this add nothing more
    failed_challenges: int  # failed 3-D Secure challenges (more failed than passed): maybe the wrong person
    takeover_window_ms: int  # a payment this soon after a new device appeared from a new country
    unusual_amount_factor: float  # an amount this many times the customer's average payment ...
    unusual_amount_min_eur_cents: int  # ... and at least this much is unusual
    eur_rates: Mapping[str, float]  # EUR cents per minor unit of each currency
    methods: MethodPolicy
    first_online_order_perk: str
    sca: ScaPolicy

    @classmethod
    def from_mapping(cls, s: Mapping[str, Any]) -> Self:
        policy = cls(
            base_score=int(s["base_score"]),
            challenge_from=int(s["challenge_from"]),
            decline_from=int(s["decline_from"]),
            weights={str(k): int(v) for k, v in s["weights"].items()},
            step_up_signals=frozenset(str(c) for c in s["step_up_signals"]),
            trust_after_ms=int(s["trust_after_hours"]) * HOUR_MS,
            established_after_payments=int(s["established_after_payments"]),
            established_after_days=int(s["established_after_days"]),
            velocity_window_ms=int(s["velocity_window_minutes"]) * MINUTE_MS,
            velocity_attempts=int(s["velocity_attempts"]),
            card_window_ms=int(s["card_window_hours"]) * HOUR_MS,
            cards_in_window=int(s["cards_in_window"]),
            small_amount_eur_cents=int(s["small_amount_eur_cents"]),
            small_attempts=int(s["small_attempts"]),
            declines_window_ms=int(s["declines_window_minutes"]) * MINUTE_MS,
            declines_in_window=int(s["declines_in_window"]),
            accounts_per_device=int(s["accounts_per_device"]),
            accounts_per_card=int(s["accounts_per_card"]),
            max_counted_chargebacks=int(s["max_counted_chargebacks"]),
            failed_challenges=int(s["failed_challenges"]),
            takeover_window_ms=int(s["takeover_window_hours"]) * HOUR_MS,
            unusual_amount_factor=float(s["unusual_amount_factor"]),
            unusual_amount_min_eur_cents=int(s["unusual_amount_min_eur_cents"]),
            eur_rates={str(k): float(v) for k, v in s["eur_rates"].items()},
            methods=MethodPolicy.from_mapping(s["methods"]),
            first_online_order_perk=str(s["perks"]["first_online_order"]),
            sca=ScaPolicy.from_mapping(s["sca"]),
        )
        if not 0 <= policy.challenge_from <= policy.decline_from <= 100:
            raise ValueError("[checkout] needs 0 <= challenge_from <= decline_from <= 100")
        return policy

    def eur_cents(self, amount_minor: int, currency: str) -> int | None:
        """The amount in EUR cents, or None for a currency without a rate (no amount rule may then assume)."""
        rate = self.eur_rates.get(currency.upper())
        return None if rate is None else round(amount_minor * rate)
