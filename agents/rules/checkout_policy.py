"""The [checkout] section of the policy: risk weights and bands, SCA limits, exchange rates, method priors, perks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self


@dataclass(frozen=True, slots=True)
class ScaPolicy:
    low_value_limit_eur_cents: int  # exemption only strictly below this (RTS Art. 16: EUR 30)
    low_value_max_consecutive: int  # 5 exempted payments since the last authentication
    low_value_max_cumulative_eur_cents: int  # EUR 100 since the last authentication
    tra_bands: tuple[tuple[int, float], ...]  # (ceiling in EUR cents, max merchant fraud rate), ascending
    merchant_fraud_rate: float  # this quarter's fraud rate, as a fraction (0.0005 = 0.05 %)
    tra_max_risk_score: int  # TRA only for payments our own analysis finds low-risk
    issuer_min_requests: int  # evidence needed before judging an issuer
    issuer_max_acceptance: float  # below this acceptance rate, skip the exemption
    min_challenges_passed: int  # the customer reliably completes 3DS when ...
    min_challenge_pass_rate: float  # ... at least this share of their challenges pass

    @classmethod
    def from_mapping(cls, s: Mapping[str, Any]) -> Self:
        return cls(
            low_value_limit_eur_cents=int(s["low_value_limit_eur_cents"]),
            low_value_max_consecutive=int(s["low_value_max_consecutive"]),
            low_value_max_cumulative_eur_cents=int(s["low_value_max_cumulative_eur_cents"]),
            tra_bands=tuple((int(b["up_to_eur_cents"]), float(b["max_fraud_rate"])) for b in s["tra_bands"]),
            merchant_fraud_rate=float(s["merchant_fraud_rate"]),
            tra_max_risk_score=int(s["tra_max_risk_score"]),
            issuer_min_requests=int(s["issuer_min_requests"]),
            issuer_max_acceptance=float(s["issuer_max_acceptance"]),
            min_challenges_passed=int(s["min_challenges_passed"]),
            min_challenge_pass_rate=float(s["min_challenge_pass_rate"]),
        )


@dataclass(frozen=True, slots=True)
class CheckoutPolicy:
    base_score: int
    challenge_from: int  # Radar-like bands: challenge (3DS) from here ...
    decline_from: int  # ... decline from here
    weights: Mapping[str, int]  # signal code -> points (negative = trust)
    velocity_window_ms: int
    velocity_attempts: int
    declines_window_ms: int
    declines_count: int
    distinct_cards_per_day: int
    small_amount_eur_cents: int
    unusual_amount_factor: float
    unusual_amount_min_eur_cents: int
    established_after_payments: int
    takeover_window_ms: int
    eur_rates: Mapping[str, float]  # minor units of currency -> EUR cents
    country_methods: Mapping[str, tuple[str, ...]]
    default_methods: tuple[str, ...]
    first_online_order_perk: str
    sca: ScaPolicy

    @classmethod
    def from_mapping(cls, s: Mapping[str, Any]) -> Self:
        return cls(
            base_score=int(s["base_score"]), challenge_from=int(s["challenge_from"]),
            decline_from=int(s["decline_from"]), weights={k: int(v) for k, v in s["weights"].items()},
            velocity_window_ms=int(s["velocity_window_minutes"]) * 60_000,
            velocity_attempts=int(s["velocity_attempts"]),
            declines_window_ms=int(s["declines_window_minutes"]) * 60_000, declines_count=int(s["declines_count"]),
            distinct_cards_per_day=int(s["distinct_cards_per_day"]),
            small_amount_eur_cents=int(s["small_amount_eur_cents"]),
            unusual_amount_factor=float(s["unusual_amount_factor"]),
            unusual_amount_min_eur_cents=int(s["unusual_amount_min_eur_cents"]),
            established_after_payments=int(s["established_after_payments"]),
            takeover_window_ms=int(s["takeover_window_hours"]) * 3_600_000,
            eur_rates={k: float(v) for k, v in s["eur_rates"].items()},
            country_methods={k: tuple(v) for k, v in s["country_methods"].items()},
            default_methods=tuple(s["default_methods"]), first_online_order_perk=str(s["first_online_order_perk"]),
            sca=ScaPolicy.from_mapping(s["sca"]),
        )

    def eur_cents(self, amount_minor: int, currency: str) -> int:
        return round(amount_minor * self.eur_rates.get(currency, 1.0))
