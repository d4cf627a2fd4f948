"""Strong Customer Authentication: which exemption to ask the issuer for, or whether to go straight to 3-D Secure.

Order of questions: out of scope (merchant-initiated, or outside the EEA) -> wallets and bank redirects authenticate
themselves -> an issuer that rarely accepts exemptions, for a customer who reliably completes challenges, goes
straight to a challenge -> low-value exemption (RTS Art. 16) -> TRA exemption (RTS Art. 18 bands) -> challenge.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.rules.checkout_policy import CheckoutPolicy, ScaPolicy
from agents.rules.events import PaymentAttempted, Reason
from agents.rules.profile import CustomerProfile

REDIRECT_METHODS = frozenset({"ideal", "sofort", "klarna", "paypal", "bancontact", "apple_pay", "google_pay",
                              "swish", "bizum", "satispay", "bank_transfer"})


@dataclass(frozen=True, slots=True)
class ScaChoice:
    strategy: str  # out_of_scope, not_applicable, low_value_exemption, tra_exemption, challenge
    exemption: str | None
    reason: Reason


def issuer_rarely_accepts(profile: CustomerProfile, issuer: str | None, sca: ScaPolicy) -> bool:
    rec = profile.issuer(issuer)
    if rec is None or rec.requested < sca.issuer_min_requests:
        return False
    return rec.accepted / rec.requested <= sca.issuer_max_acceptance


def completes_challenges(profile: CustomerProfile, sca: ScaPolicy) -> bool:
    tried = profile.challenges_passed + profile.challenges_failed + profile.challenges_abandoned
    return profile.challenges_passed >= sca.min_challenges_passed and \
        profile.challenges_passed / tried >= sca.min_challenge_pass_rate


def low_value_allowed(profile: CustomerProfile, attempt: PaymentAttempted, eur_cents: int,
                      sca: ScaPolicy) -> str | None:
    """None when the exemption applies, else why not."""
    if eur_cents >= sca.low_value_limit_eur_cents:
        return "amount"
    counter = profile.low_value_on(attempt.card_fingerprint)
    if counter.count >= sca.low_value_max_consecutive:
        return "count"
    if counter.cumulative_eur_cents + eur_cents > sca.low_value_max_cumulative_eur_cents:
        return "cumulative"
    return None


def tra_allowed(eur_cents: int, risk_score: int, sca: ScaPolicy) -> bool:
    if risk_score > sca.tra_max_risk_score:
        return False
    band = next((rate for ceiling, rate in sca.tra_bands if eur_cents <= ceiling), None)
    return band is not None and sca.merchant_fraud_rate <= band


def choose_sca(profile: CustomerProfile, attempt: PaymentAttempted, risk_score: int,
               policy: CheckoutPolicy) -> ScaChoice:
    sca = policy.sca
    if attempt.initiator == "merchant":
        return ScaChoice("out_of_scope", None, Reason(
            code="SCA_OUT_OF_SCOPE_MIT", detail="Merchant-initiated payments are out of SCA scope."))
    if not attempt.sca_applies:
        return ScaChoice("out_of_scope", None, Reason(
            code="SCA_OUT_OF_SCOPE_REGION", detail="Issuer or acquirer outside the EEA: SCA does not apply."))
    if attempt.method in REDIRECT_METHODS:
        return ScaChoice("not_applicable", None, Reason(
            code="SCA_BY_METHOD", detail=f"{attempt.method} authenticates the customer in its own flow."))
    if issuer_rarely_accepts(profile, attempt.card_issuer, sca) and completes_challenges(profile, sca):
        return ScaChoice("challenge", None, Reason(
            code="ISSUER_REFUSES_EXEMPTIONS",
            detail="This card's issuer rarely accepts exemptions and the customer reliably completes 3-D Secure, "
                   "so we go straight to a challenge instead of risking a soft decline."))
    eur = policy.eur_cents(attempt.amount_minor, attempt.currency)
    blocked = low_value_allowed(profile, attempt, eur, sca)
    if blocked is None:
        return ScaChoice("low_value_exemption", "low_value", Reason(
            code="LOW_VALUE_EXEMPTION", detail="Under EUR 30 and within 5 payments / EUR 100 since the last "
                                               "authentication on this card."))
    if tra_allowed(eur, risk_score, sca):
        return ScaChoice("tra_exemption", "tra", Reason(
            code="TRA_EXEMPTION", detail="Low risk, and the merchant's fraud rate is within the band for this "
                                         "amount (RTS Art. 18)."))
    why = {"count": "5 low-value exemptions were used since the last authentication",
           "cumulative": "low-value exemptions reached EUR 100 since the last authentication",
           "amount": "no exemption fits this amount and risk"}[blocked]
    return ScaChoice("challenge", None, Reason(code="SCA_CHALLENGE_REQUIRED", detail=f"Authentication needed: {why}."))
