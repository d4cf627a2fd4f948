"""The [refunds] section of the policy: return windows, instant-refund eligibility, refund destinations per tier,
claim-reason weights, look-back window and thresholds for linked claims, and which identifiers link accounts.

Built once into a frozen value by agents.rules.policy's loader, so that a replay can run another policy over the
same events; amounts convert with the policy's one [fx] table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from agents.rules.fx import Fx
from agents.rules.policy import GIVEN

DESTINATIONS = frozenset({"original_method", "wallet", "store_credit", "account_balance", "exchange"})
"""Where a refund can go; the notifier and the payout service know these names."""

TIERS = ("loyal", "standard", "review")
"""Destination tiers: a trusted customer, everyone else, and a claim a person looks at first."""


@dataclass(frozen=True, slots=True)
class RefundPolicy:
    base_window_days: int
    loyal_window_days: int
    window_reasons: tuple[str, ...]  # claim reasons the return window limits (defects are covered longer by law)
    lookback_days: int  # earlier claims older than this are forgiven
    review_threshold: float  # weighted earlier claims by the same actor: manual review from here ...
    deny_threshold: float  # ... and deny from here
    reason_weights: Mapping[str, float]  # what an earlier claim says about the claimant
    default_reason_weight: float
    strong_kinds: frozenset[str]  # identifier kinds that alone tie two accounts to one actor
    weak_links_needed: int  # distinct identifiers needed to link an account reached only through weak ones
    instant_cap_eur_cents: int  # an ordinary, clean claim is refunded instantly up to this amount ...
    no_return_instant_cap_eur_cents: int  # ... or up to this when there is nothing to send back
    no_return_reasons: tuple[str, ...]  # claims where nothing comes back to the warehouse (empty box, lost parcel)
    instant_max_prior_weight: float  # an ordinary customer gets no instant refund above this earlier-claim weight
    loyal_instant_cap_eur_cents: int
    loyal_instant_max_prior_weight: float
    loyal_min_tenure_days: int
    loyal_min_delivered_orders: int
    loyal_max_refund_rate: float  # earlier claims per order placed
    trace_days: int  # a parcel not yet delivered is traced this long before it is refunded
    chargeback_half_life_days: int  # an own chargeback weighs 0.5 ** (age / half-life) ...
    chargeback_review_weight: float  # ... and sends claims to a person while the weights add up to this
    abuse_memory_days: int  # how long a customer judged an abuser stays one for offers and instant refunds
    destinations: Mapping[str, tuple[str, ...]]  # tier -> destinations offered, in the order shown
    fx: Fx = field(metadata=GIVEN)  # the policy's one [fx] table

    def validate(self) -> None:
        """Refuse a policy that would silently misbehave (a typo in a destination, thresholds in the wrong order)."""
        if self.deny_threshold < self.review_threshold:
            raise ValueError("deny_threshold must not be below review_threshold")
        if self.chargeback_half_life_days < 1 or self.chargeback_review_weight <= 0:
            raise ValueError("chargeback_half_life_days must be >= 1 and chargeback_review_weight > 0")
        if self.weak_links_needed < 1 or self.lookback_days < 0:
            raise ValueError("weak_links_needed must be >= 1 and lookback_days >= 0")
        missing = [t for t in TIERS if t not in self.destinations]
        unknown = sorted({d for ds in self.destinations.values() for d in ds} - DESTINATIONS)
        if missing or unknown:
            raise ValueError(f"destination tiers missing {missing}, unknown destinations {unknown}")

    def eur_cents(self, amount_minor: int, currency: str) -> int | None:
        """The amount in EUR cents, or None for a currency the policy has no rate for (then nothing is instant)."""
        return self.fx.eur_cents(amount_minor, currency)

    def weight_of(self, reason: str) -> float:
        return self.reason_weights.get(reason, self.default_reason_weight)
