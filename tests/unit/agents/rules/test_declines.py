"""The decline-code knowledge base: what processor codes, Visa codes and Mastercard advice codes mean."""

from __future__ import annotations

import pytest

from agents.rules.declines import classify, parse_knowledge_base
from agents.rules.events import PaymentFailed
from agents.rules.timeunits import HOUR_MS
from pipeline.policies import load_declines

KB = load_declines()

VISA_CATEGORY_1 = ("04", "07", "12", "14", "15", "41", "43", "46", "57", "R0", "R1", "R3")
ISSUE_PROCESSOR_CODES = ("insufficient_funds", "do_not_honor", "stolen_card", "lost_card", "expired_card",
                         "incorrect_number", "card_not_supported", "processing_error", "issuer_unavailable",
                         "fraudulent", "account_closed", "try_again_later", "authentication_required")


def failure(code: str = "do_not_honor", network: str = "visa", response: str | None = None,
            advice: str | None = None) -> PaymentFailed:
    return PaymentFailed(event_id="f1", customer_id="c1", occurred_at=0, payment_id="p1", decline_code=code,
                         network=network, network_response_code=response, merchant_advice_code=advice,
                         initiator="merchant", order_id="o1")


def test_every_processor_code_named_in_the_issue_is_in_the_knowledge_base() -> None:
    assert [c for c in ISSUE_PROCESSOR_CODES if c not in KB.processor] == []


def test_insufficient_funds_is_soft_retried_after_a_day_and_the_customer_can_fix_it() -> None:
    info = classify(failure("insufficient_funds"), KB)
    assert (info.decline_class, info.retryable, info.fixable_by) == ("soft", True, "customer")
    assert info.retry_after_ms == 24 * HOUR_MS and info.wording == "insufficient_funds"


DEAD_CARDS = ["stolen_card", "lost_card", "account_closed", "incorrect_number", "expired_card"]


@pytest.mark.parametrize("code", DEAD_CARDS)
def test_dead_cards_are_hard_never_retried_and_ask_for_a_new_payment_method(code: str) -> None:
    info = classify(failure(code), KB)
    assert (info.decline_class, info.retryable, info.wording) == ("hard", False, "new_payment_method")
    assert info.customer_fixable


@pytest.mark.parametrize("code", VISA_CATEGORY_1)
def test_visa_category_1_is_never_retried_even_when_the_processor_calls_it_soft(code: str) -> None:
    info = classify(failure("do_not_honor", response=code), KB)
    assert not info.retryable and info.reason_code == "VISA_CATEGORY_1" and info.code == f"visa:{code}"


def test_visa_51_overrides_a_generic_processor_code() -> None:
    info = classify(failure("generic_decline", response="51"), KB)
    assert (info.code, info.reason_code, info.wording) == ("visa:51", "VISA_CATEGORY_2", "insufficient_funds")


def test_a_processor_code_stricter_than_the_network_code_wins() -> None:
    info = classify(failure("stolen_card", response="05"), KB)
    assert info.code == "stolen_card" and not info.retryable


def test_short_numeric_network_codes_are_padded() -> None:
    assert classify(failure(response="5"), KB).code == "visa:05"
    assert classify(failure(network="MasterCard", advice="3"), KB).code == "mastercard_advice:03"


@pytest.mark.parametrize("advice", ["03", "21"])
def test_mastercard_advice_03_and_21_are_never_retried(advice: str) -> None:
    info = classify(failure("do_not_honor", network="mastercard", advice=advice), KB)
    assert not info.retryable and info.reason_code == f"MC_ADVICE_{advice}" and info.decline_class == "hard"


@pytest.mark.parametrize(("advice", "hours"), [("24", 1), ("25", 24), ("26", 48), ("27", 96), ("28", 144),
                                               ("29", 192), ("30", 240)])
def test_mastercard_advice_24_to_30_give_the_issuers_retry_delay(advice: str, hours: int) -> None:
    info = classify(failure("insufficient_funds", network="mastercard", advice=advice), KB)
    assert info.retryable and info.issuer_advised and info.retry_after_ms == hours * HOUR_MS


def test_a_mastercard_advice_code_on_a_visa_payment_is_ignored() -> None:
    assert classify(failure("insufficient_funds", network="visa", advice="03"), KB).retryable


def test_unknown_codes_are_soft_with_conservative_spacing_and_class_unknown() -> None:
    info = classify(failure("martian_decline", response="ZZ"), KB)
    assert (info.decline_class, info.retryable, info.reason_code) == ("unknown", True, "UNKNOWN_DECLINE")
    assert info.retry_after_ms >= 48 * HOUR_MS and info.code == "unknown:martian_decline"


def test_fraudulent_is_a_fraud_block_whatever_the_network_says() -> None:
    assert classify(failure("fraudulent"), KB).fraud
    assert classify(failure("fraudulent", response="05"), KB).fraud


def test_issuer_side_soft_declines_are_not_for_the_customer_to_fix() -> None:
    info = classify(failure("issuer_unavailable"), KB)
    assert info.retryable and not info.customer_fixable and info.retry_after_ms == HOUR_MS


def test_a_malformed_knowledge_base_fails_at_load() -> None:
    doc = {"unknown": {"class": "unknown", "retry": True, "retry_after_h": 48, "fixable_by": "issuer",
                       "wording": "w", "detail": "d"},
           "processor": {"x": {"class": "squishy", "retry": True, "retry_after_h": 1, "fixable_by": "issuer",
                               "wording": "w", "detail": "d"}}}
    with pytest.raises(ValueError, match="squishy"):
        parse_knowledge_base(doc)
