"""The one strict policy loader: every section built from its dataclass, every mistake named by its dotted path."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from agents.rules.dunning.policy import DunningPolicy, OfferPolicy
from agents.rules.policy import Policy, PolicyError, parse_policy, parse_table
from agents.rules.timeunits import HOUR_MS, MINUTE_MS
from pipeline.policies import DEFAULT_POLICY_PATH, load_declines, read_toml

DEFAULT: dict[str, Any] = read_toml(DEFAULT_POLICY_PATH)
DECLINES = load_declines()


def parsed(**changes: Any) -> Policy:
    """The default document with `changes` applied: dotted path -> new value, or None to delete the key."""
    doc = copy.deepcopy(DEFAULT)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        table = doc
        for part in parents:
            table = table[int(part)] if isinstance(table, list) else table.setdefault(part, {})
        if value is None:
            del table[last]
        else:
            table[last] = value
    return parse_policy(doc, DECLINES)


def refused(message: str, **changes: Any) -> None:
    with pytest.raises(PolicyError, match=f"^{re.escape(message)}$"):
        parsed(**changes)


def test_the_default_document_parses_into_every_section() -> None:
    policy = parsed()
    assert policy.version == DEFAULT["version"]
    assert policy.checkout.base_score == DEFAULT["checkout"]["base_score"]
    assert policy.dunning.experiment.variants[2].reminder_gap_hours == (48, 72, 96)
    assert policy.refunds.strong_kinds == frozenset({"device", "card", "email"})
    assert policy.declines is DECLINES


@pytest.mark.parametrize(("key", "path"), [
    ("checkout__bogus", "checkout.bogus"),
    ("checkout__sca__tra_bandz", "checkout.sca.tra_bandz"),
    ("checkout__perks__second_order", "checkout.perks.second_order"),
    ("checkout__sca__tra_bands__1__max_fraud_ratio", "checkout.sca.tra_bands[1].max_fraud_ratio"),
    ("refunds__lookback_dayz", "refunds.lookback_dayz"),
    ("dunning__offers__ttl_hourz", "dunning.offers.ttl_hourz"),
    ("dunning__experiment__variants__0__wieght", "dunning.experiment.variants[0].wieght"),
    ("fx__eur_rates", "fx.eur_rates"),
    ("refund", "refund"),
])
def test_an_unknown_key_is_refused_with_its_dotted_path(key: str, path: str) -> None:
    refused(f"{path}: unknown key", **{key: 1})


def test_a_typo_is_reported_as_unknown_even_though_the_key_it_meant_is_now_missing() -> None:
    doc = copy.deepcopy(DEFAULT)
    doc["refunds"]["lookback_dayz"] = doc["refunds"].pop("lookback_days")
    with pytest.raises(PolicyError, match=r"^refunds\.lookback_dayz: unknown key$"):
        parse_policy(doc, DECLINES)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("checkout__sca__tra_bands__1__max_fraud_rate", "x",
     'checkout.sca.tra_bands[1].max_fraud_rate: expected a number, got "x"'),
    ("checkout__base_score", True, "checkout.base_score: expected an integer, got true"),
    ("checkout__weights__USUAL_DEVICE", 1.5, "checkout.weights.USUAL_DEVICE: expected an integer, got 1.5"),
    ("checkout__trust_after_hours", "24h", 'checkout.trust_after_hours: expected an integer, got "24h"'),
    ("checkout__step_up_signals", "STOLEN_CARD", 'checkout.step_up_signals: expected an array, got "STOLEN_CARD"'),
    ("checkout__methods__country_priors__NL", ["ideal", 3],
     "checkout.methods.country_priors.NL[1]: expected a string, got 3"),
    ("checkout__perks", "free_shipping", 'checkout.perks: expected a table, got "free_shipping"'),
    ("dunning__offers__enabled", "yes", 'dunning.offers.enabled: expected true or false, got "yes"'),
    ("dunning__experiment__variants__1__weight", "25",
     'dunning.experiment.variants[1].weight: expected an integer, got "25"'),
    ("refunds__destinations", ["original_method"], "refunds.destinations: expected a table, got an array"),
    ("fx__eur_cents_per_minor_unit__SEK", "0.087", 'fx.eur_cents_per_minor_unit.SEK: expected a number, got "0.087"'),
    ("version", 2026, "version: expected a string, got 2026"),
])
def test_a_mistyped_value_is_refused_with_its_dotted_path(key: str, value: Any, message: str) -> None:
    refused(message, **{key: value})


@pytest.mark.parametrize(("key", "path"), [
    ("checkout__base_score", "checkout.base_score"),
    ("checkout__trust_after_hours", "checkout.trust_after_hours"),  # the file's name, not the field's
    ("checkout__perks__first_online_order", "checkout.perks.first_online_order"),
    ("checkout__sca__tra_bands__0__up_to_eur_cents", "checkout.sca.tra_bands[0].up_to_eur_cents"),
    ("refunds__trace_days", "refunds.trace_days"),
    ("dunning__experiment__variants__0__name", "dunning.experiment.variants[0].name"),
    ("fx", "fx"),
    ("refunds", "refunds"),
])
def test_a_missing_required_key_is_named(key: str, path: str) -> None:
    refused(f"{path}: required key is missing", **{key: None})


def test_file_keys_in_other_units_and_sub_tables_land_in_their_fields() -> None:
    checkout = parsed(checkout__trust_after_hours=2, checkout__velocity_window_minutes=5,
                      checkout__perks__first_online_order="gift_wrap").checkout
    assert checkout.trust_after_ms == 2 * HOUR_MS and checkout.velocity_window_ms == 5 * MINUTE_MS
    assert checkout.first_online_order_perk == "gift_wrap"


def test_an_integer_where_a_number_is_expected_is_a_float() -> None:
    rate = parsed(checkout__sca__merchant_fraud_rate=0).checkout.sca.merchant_fraud_rate
    assert rate == 0.0 and isinstance(rate, float)


def test_a_dunning_override_keeps_the_defaults_of_every_key_it_does_not_name() -> None:
    dunning = parse_table(DunningPolicy, {"max_retries": 3, "offers": {"ttl_hours": 12}}, "dunning")
    assert dunning.max_retries == 3 and dunning.offers.ttl_hours == 12
    assert dunning.offers.discount_percent == OfferPolicy().discount_percent
    assert dunning.window_days == DunningPolicy().window_days and dunning.networks == DunningPolicy().networks
    assert dunning.experiment == DunningPolicy().experiment


def test_an_empty_dunning_section_is_the_shipped_defaults() -> None:
    assert parse_table(DunningPolicy, {}, "dunning") == DunningPolicy()


def test_the_one_fx_table_converts_for_checkout_and_refunds_alike() -> None:
    policy = parsed(fx__eur_cents_per_minor_unit__ISK=0.0066)  # a currency only the [fx] table knows
    assert policy.checkout.fx is policy.fx and policy.refunds.fx is policy.fx
    assert policy.checkout.eur_cents(100_000, "ISK") == policy.refunds.eur_cents(100_000, "ISK") == 660
    assert policy.refunds.eur_cents(100_000, "NOK") == policy.checkout.eur_cents(100_000, "NOK") == 8_500
    assert policy.checkout.eur_cents(100, "XAU") is None and policy.refunds.eur_cents(100, "XAU") is None


def test_a_rate_under_a_lower_case_code_is_refused() -> None:
    with pytest.raises(PolicyError, match=r"^fx: currencies need an upper-case ISO 4217 code"):
        parsed(fx__eur_cents_per_minor_unit__sek=0.087)


@pytest.mark.parametrize(("changes", "message"), [
    ({"checkout__challenge_from": 80}, "checkout: needs 0 <= challenge_from <= decline_from <= 100"),
    ({"checkout__sca__tra_bands__0__up_to_eur_cents": 90_000},
     "checkout.sca: tra_bands must be in ascending order of amount"),
    ({"checkout__methods__default": []}, "checkout.methods: default must name at least one method"),
    ({"refunds__deny_threshold": 1.0}, "refunds: deny_threshold must not be below review_threshold"),
    ({"refunds__destinations__loyal": ["bitcoin"]},
     "refunds: destination tiers missing [], unknown destinations ['bitcoin']"),
    ({"dunning__retry_backoff_hours": []}, "dunning: retry_backoff_hours must not be empty"),
    ({"dunning__experiment__holdout_percent": 100}, "dunning.experiment: holdout_percent must be in [0, 100)"),
    ({"dunning__experiment__variants__1__name": "control"},
     "dunning.experiment: variant names must be unique and not 'holdout'"),
])
def test_each_section_keeps_its_semantic_checks_at_its_path(changes: dict[str, Any], message: str) -> None:
    refused(message, **changes)
