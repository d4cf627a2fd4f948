"""When a failed card payment may be retried: spacing by decline type and the card networks' retry limits.

Owns the per-card ledger of declined attempts and the question "what is the earliest time at or after t that a
retry on this card stays within Visa's and Mastercard's limits?". Visa counts reattempts per card in 30 days
separately for customer- and merchant-initiated payments; Mastercard counts retries per card in 24 hours and
in 30 days. Retries past these limits are charged per attempt, so a retry that would break one is moved later
or held back. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.rules.declines import DeclineInfo
from agents.rules.dunning.policy import DunningPolicy, NetworkLimits
from agents.rules.events import Initiator
from agents.rules.timeunits import DAY_MS

LEDGER_SPAN_MS = 30 * DAY_MS  # the longest network window; older attempts never count
MAX_ATTEMPTS = 200


@dataclass(frozen=True, slots=True)
class CardAttempt:
    """One declined attempt the network saw on a card."""

    card: str
    network: str
    initiator: Initiator
    at: int


@dataclass(frozen=True, slots=True)
class Cap:
    """A limit on reattempts: at most `limit` after the first decline within `window_ms`."""

    reason_code: str
    limit: int
    window_ms: int
    per_initiator: bool


def caps_for(network: str, limits: NetworkLimits) -> tuple[Cap, ...]:
    if network == "visa":
        return (Cap("VISA_REATTEMPT_LIMIT", limits.visa_max_reattempts_30d, 30 * DAY_MS, True),)
    if network == "mastercard":
        return (Cap("MC_RETRY_LIMIT_24H", limits.mastercard_max_retries_24h, DAY_MS, False),
                Cap("MC_RETRY_LIMIT_30D", limits.mastercard_max_retries_30d, 30 * DAY_MS, False))
    return ()


def record_attempt(ledger: tuple[CardAttempt, ...], attempt: CardAttempt) -> tuple[CardAttempt, ...]:
    """Newest first, bounded: entries past the longest window are dropped."""
    keep = tuple(a for a in ledger if a.at > attempt.at - LEDGER_SPAN_MS)
    return (attempt, *keep)[:MAX_ATTEMPTS]


def _frees_at(ledger: tuple[CardAttempt, ...], card: str, network: str, initiator: str, at: int,
              cap: Cap) -> int:
    """Earliest time >= at when this cap allows one more reattempt. Declines in the window, minus the first
    one, are reattempts; the count only falls as time passes, so the answer is when enough old ones have aged
    out."""
    times = sorted(a.at for a in ledger if a.card == card and a.network == network and a.at <= at
                   and a.at > at - cap.window_ms and (not cap.per_initiator or a.initiator == initiator))
    reattempts = max(0, len(times) - 1)
    if reattempts < cap.limit:
        return at
    return max(at, times[len(times) - 1 - cap.limit] + cap.window_ms)


def earliest_within_limits(ledger: tuple[CardAttempt, ...], card: str, network: str, initiator: str, at: int,
                           limits: NetworkLimits) -> tuple[int, str | None]:
    """The earliest retry time >= `at` within every cap of the card's network, and the cap that moved it (if
    any). The caps are monotone in time, so taking the latest of their freeing times satisfies all at once."""
    best, reason = at, None
    for cap in caps_for(network, limits):
        frees = _frees_at(ledger, card, network, initiator, at, cap)
        if frees > best:
            best, reason = frees, cap.reason_code
    return best, reason


def retry_delay_ms(info: DeclineInfo, retry_no: int, policy: DunningPolicy) -> int:
    """An issuer's own "retry after" (Mastercard advice 24-30) is followed as given; otherwise the policy's
    growing spacing, never sooner than the decline's own earliest retry."""
    if info.issuer_advised:
        return info.retry_after_ms
    return max(info.retry_after_ms, policy.backoff_ms(retry_no))
