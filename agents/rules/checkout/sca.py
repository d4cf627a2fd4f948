"""Strong Customer Authentication (PSD2, RTS 2018/389): which exemption to ask the issuer for, or whether to
go straight to a 3-D Secure challenge. `choose_sca` asks, in order:

1. Is the payment out of SCA scope? Merchant-initiated, card present at a store terminal (`channel` store:
   the terminal's chip and PIN, not the online checkout, authenticate it), or `sca_applies` false (issuer or
   acquirer outside the EEA).
2. Does the method authenticate the customer itself (wallets, bank redirects)? Then SCA is not ours to apply.
3. Does this card's issuer rarely accept exemptions for this customer, who reliably completes challenges?
   Then go straight to a challenge rather than ask for an exemption the issuer will soft-decline.
4. Low-value exemption (RTS Art. 16): under EUR 30, and at most 5 exempted payments / EUR 100 on the card
   since its last authentication.
5. TRA exemption (RTS Art. 18): our analysis calls it low-risk and the merchant's fraud rate fits the band of
   the amount (0.13 % up to EUR 100, 0.06 % up to EUR 250, 0.01 % up to EUR 500; never above EUR 500).
6. Otherwise: authenticate with 3-D Secure.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.rules.checkout.policy import CheckoutPolicy, ScaPolicy, TraBand
from agents.rules.events import PaymentAttempted, Reason
from agents.rules.profile import CustomerProfile


@dataclass(frozen=True, slots=True)
class ScaChoice:
    strategy: str  # out_of_scope, not_applicable, low_value_exemption, tra_exemption, challenge
    exemption: str | None  # what to ask the issuer for: low_value, tra, or None
    reason: Reason


def _euros(cents: int) -> str:
    return f"EUR {cents / 100:.2f}"


def issuer_rarely_accepts_exemptions(profile: CustomerProfile, issuer: str | None, sca: ScaPolicy) -> bool:
    record = profile.issuer(issuer)
    if record is None or record.exemptions_requested < sca.issuer_min_requests:
        return False  # not enough evidence: ask, and learn from the answer
    return record.exemptions_accepted / record.exemptions_requested <= sca.issuer_max_acceptance


def completes_challenges(profile: CustomerProfile, sca: ScaPolicy) -> bool:
    done = profile.challenges
    if done.passed < sca.min_challenges_passed:
        return False
    return done.passed / done.total >= sca.min_challenge_pass_rate


def why_no_low_value(profile: CustomerProfile, card: str | None, eur_cents: int,
                     policy: CheckoutPolicy) -> str | None:
    """None when the low-value exemption fits this payment, else the reason it does not."""
    sca = policy.sca
    if eur_cents >= sca.low_value_below_eur_cents:
        return f"{_euros(eur_cents)} is not under {_euros(sca.low_value_below_eur_cents)}"
    counter = profile.low_value_on(card)
    if counter.payments >= sca.low_value_max_payments:
        return f"{counter.payments} low-value exemptions were used on this card since its last authentication"
    if any(policy.eur_cents(m.minor, m.currency) is None for m in counter.amounts):
        return "earlier low-value payments on this card were in a currency without a EUR rate"
    so_far = sum(policy.eur_cents(m.minor, m.currency) or 0 for m in counter.amounts)
    if so_far + eur_cents > sca.low_value_max_cumulative_eur_cents:
        return (f"{_euros(so_far)} exempted on this card since its last authentication; this payment would "
                f"pass {_euros(sca.low_value_max_cumulative_eur_cents)}")
    return None


def tra_band_for(eur_cents: int, sca: ScaPolicy) -> TraBand | None:
    """The narrowest band that covers the amount; None above the last band (EUR 500)."""
    return next((b for b in sca.tra_bands if eur_cents <= b.up_to_eur_cents), None)


def why_no_tra(eur_cents: int, risk_score: int, sca: ScaPolicy) -> str | None:
    """None when the TRA exemption fits this payment, else the reason it does not."""
    band = tra_band_for(eur_cents, sca)
    if band is None:
        return f"TRA never applies above {_euros(sca.tra_bands[-1].up_to_eur_cents if sca.tra_bands else 0)}"
    if sca.merchant_fraud_rate > band.max_fraud_rate:
        return (f"our fraud rate {sca.merchant_fraud_rate:.3%} is above the {band.max_fraud_rate:.3%} "
                f"allowed up to {_euros(band.up_to_eur_cents)}")
    if risk_score > sca.tra_max_risk_score:
        return f"risk {risk_score} is above the {sca.tra_max_risk_score} our TRA accepts"
    return None


def choose_sca(profile: CustomerProfile, attempt: PaymentAttempted, eur_cents: int | None, risk_score: int,
               policy: CheckoutPolicy) -> ScaChoice:
    sca = policy.sca
    if attempt.initiator == "merchant":
        return ScaChoice("out_of_scope", None, Reason(
            code="SCA_OUT_OF_SCOPE_MIT", detail="Merchant-initiated payments are out of SCA scope."))
    if attempt.channel == "store":
        return ScaChoice("out_of_scope", None, Reason(
            code="SCA_OUT_OF_SCOPE_CARD_PRESENT",
            detail="A card-present store payment: out of the online checkout's SCA scope (the terminal "
                   "authenticates it)."))
    if not attempt.sca_applies:
        return ScaChoice("out_of_scope", None, Reason(
            code="SCA_OUT_OF_SCOPE_REGION", detail="Issuer or acquirer outside the EEA: SCA does not apply."))
    if attempt.method in sca.self_authenticating_methods:
        return ScaChoice("not_applicable", None, Reason(
            code="SCA_BY_METHOD", detail=f"{attempt.method} authenticates the customer in its own flow."))
    issuer = attempt.card_issuer or profile.issuer_of_card(attempt.card_fingerprint)
    if issuer_rarely_accepts_exemptions(profile, issuer, sca) and completes_challenges(profile, sca):
        return ScaChoice("challenge", None, Reason(
            code="ISSUER_REFUSES_EXEMPTIONS",
            detail="This card's issuer rarely accepts exemptions for this customer, who reliably completes "
                   "3-D Secure: straight to a challenge, not an exemption the issuer would soft-decline."))
    if eur_cents is None:
        return ScaChoice("challenge", None, Reason(
            code="SCA_CHALLENGE_REQUIRED",
            detail=f"No EUR rate for {attempt.currency}: no amount-based exemption can be justified."))
    no_low_value = why_no_low_value(profile, attempt.card_fingerprint, eur_cents, policy)
    if no_low_value is None:
        return ScaChoice("low_value_exemption", "low_value", Reason(
            code="LOW_VALUE_EXEMPTION",
            detail=f"{_euros(eur_cents)} is under {_euros(sca.low_value_below_eur_cents)}, within "
                   f"{sca.low_value_max_payments} payments and "
                   f"{_euros(sca.low_value_max_cumulative_eur_cents)} since the card's last authentication "
                   "(RTS Art. 16)."))
    no_tra = why_no_tra(eur_cents, risk_score, sca)
    if no_tra is None:
        return ScaChoice("tra_exemption", "tra", Reason(
            code="TRA_EXEMPTION",
            detail=f"Low risk ({risk_score}) and our fraud rate is within the band for {_euros(eur_cents)} "
                   f"(RTS Art. 18); no low-value exemption: {no_low_value}."))
    return ScaChoice("challenge", None, Reason(
        code="SCA_CHALLENGE_REQUIRED",
        detail=f"Authentication needed: no low-value exemption ({no_low_value}) and no TRA ({no_tra})."))
