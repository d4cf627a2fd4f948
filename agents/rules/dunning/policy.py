"""The typed [dunning] policy: retry spacing, network retry limits, reminders, offers and the experiment.

Built by agents.rules.policy's loader from the [dunning] section of policies/default.toml (and its [dunning.*]
sub-tables). Every value has the default that file ships with, so a test or a replay can override one key and keep
the rest. Unknown keys are refused: a typo in a policy must not silently fall back to a default.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.rules.timeunits import DAY_MS, HOUR_MS


@dataclass(frozen=True, slots=True)
class NetworkLimits:
    """Card-network retry limits, per card. Visa counts customer- and merchant-initiated reattempts separately
    (15 in 30 days; Visa allows 20 from 19 May 2025, 15 keeps a margin); Mastercard 10 in 24 h and 35 in 30
    days."""

    visa_max_reattempts_30d: int = 15
    mastercard_max_retries_24h: int = 10
    mastercard_max_retries_30d: int = 35
    mastercard_no_retry_days: int = 30  # after merchant advice 03 or 21 the card is not retried, whatever the order


@dataclass(frozen=True, slots=True)
class OfferPolicy:
    """Time-limited offers to finish a failed payment, for customers in good standing, within a budget."""

    enabled: bool = True
    ttl_hours: int = 24
    instalments_min_amount_minor: int = 10_000
    instalments: int = 3
    instalment_wordings: tuple[str, ...] = ("insufficient_funds", "card_limit_reached")
    discount_percent: int = 5
    discount_from_reminder: int = 2
    max_discount_minor: int = 1_500
    budget_window_days: int = 30
    max_offers_per_window: int = 1
    max_discount_minor_per_window: int = 1_500


@dataclass(frozen=True, slots=True)
class Variant:
    """One arm of the dunning experiment: how it departs from the base policy."""

    name: str
    weight: int = 1
    reminders: bool = True
    offers: bool = True
    first_reminder_delay_hours: int = 0
    reminder_gap_hours: tuple[int, ...] | None = None  # None: the base policy's gaps


HOLDOUT = Variant(name="holdout", weight=0, reminders=False, offers=False)


@dataclass(frozen=True, slots=True)
class ExperimentPolicy:
    """Hash-based assignment: `holdout_percent` of customers get silent retries only; the rest split by
    weight."""

    salt: str = "dunning-2026-11"
    holdout_percent: float = 5.0
    variants: tuple[Variant, ...] = (Variant(name="control"),)

    def validate(self) -> None:
        if any(v.weight < 0 for v in self.variants) or sum(v.weight for v in self.variants) <= 0:
            raise ValueError("variant weights must be non-negative and not all zero")
        if len({v.name for v in self.variants} | {HOLDOUT.name}) != len(self.variants) + 1:
            raise ValueError("variant names must be unique and not 'holdout'")
        if not 0 <= self.holdout_percent < 100:
            raise ValueError("holdout_percent must be in [0, 100)")

    def params_for(self, variant: str) -> Variant:
        """A variant no longer in the policy (renamed mid-experiment) runs as the first, the control."""
        if variant == HOLDOUT.name:
            return HOLDOUT
        return next((v for v in self.variants if v.name == variant), self.variants[0])


@dataclass(frozen=True, slots=True)
class DunningPolicy:
    """Every threshold dunning uses. Times in the file are hours or days; properties give milliseconds."""

    window_days: int = 14
    max_retries: int = 8
    retry_backoff_hours: tuple[int, ...] = (24, 24, 48, 48, 48, 72, 72, 72)
    silent_failures_before_reminder: int = 2
    reminder_gap_hours: tuple[int, ...] = (72, 96, 120)
    max_reminders_per_window: int = 4
    reminder_window_days: int = 14
    link_base_url: str = "https://pay.example.com/r"
    link_ttl_hours: int = 72
    block_days: int = 90
    networks: NetworkLimits = NetworkLimits()
    offers: OfferPolicy = OfferPolicy()
    experiment: ExperimentPolicy = ExperimentPolicy()

    def validate(self) -> None:
        if not self.retry_backoff_hours:
            raise ValueError("retry_backoff_hours must not be empty")

    @property
    def window_ms(self) -> int:
        return self.window_days * DAY_MS

    def backoff_ms(self, retry_no: int) -> int:
        """Spacing before retry number `retry_no` (1-based); the last gap repeats."""
        gaps = self.retry_backoff_hours
        return gaps[min(retry_no, len(gaps)) - 1] * HOUR_MS
