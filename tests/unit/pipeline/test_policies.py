"""Reading the policy files at the edge: the shipped files load, and every failure names the file and the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agents.rules.policy import PolicyError
from pipeline.policies import DEFAULT_DECLINES_PATH, DEFAULT_POLICY_PATH, load_declines, load_policy, read_toml
from pipeline.settings import Settings


def test_the_shipped_policy_and_decline_table_load() -> None:
    policy = load_policy()
    assert policy.version == read_toml(DEFAULT_POLICY_PATH)["version"]
    assert "insufficient_funds" in policy.declines.processor and policy.declines.visa
    assert policy.refunds.eur_cents(10_000, "HUF") == policy.checkout.eur_cents(10_000, "HUF") == 25


def test_settings_default_to_the_shipped_files() -> None:
    s = Settings.from_env({})
    assert (s.policy_path, s.declines_path) == (DEFAULT_POLICY_PATH, DEFAULT_DECLINES_PATH)
    assert Settings.from_env({"JOURNEY_DECLINES": "/x/d.toml"}).declines_path == Path("/x/d.toml")


def test_a_bad_value_names_the_file_and_the_dotted_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(DEFAULT_POLICY_PATH.read_text().replace("lookback_days = 60", 'lookback_days = "sixty"', 1))
    with pytest.raises(PolicyError, match=f'^policy {re.escape(str(bad))}: refunds.lookback_days: expected an '
                                          'integer, got "sixty"$'):
        load_policy(bad)


def test_an_unknown_key_names_the_file_and_the_dotted_path(tmp_path: Path) -> None:
    bad = tmp_path / "typo.toml"
    bad.write_text(DEFAULT_POLICY_PATH.read_text().replace("[dunning.offers]\n", "[dunning.offers]\nttl_hourz = 1\n"))
    with pytest.raises(PolicyError, match=r"typo\.toml: dunning\.offers\.ttl_hourz: unknown key$"):
        load_policy(bad)


def test_a_missing_or_unparsable_file_is_a_policy_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"^policy .*nowhere\.toml: No such file or directory$"):
        load_policy(tmp_path / "nowhere.toml")
    garbled = tmp_path / "garbled.toml"
    garbled.write_text("version = \n")
    with pytest.raises(PolicyError, match=r"^policy .*garbled\.toml: "):
        load_policy(garbled)


def test_a_malformed_decline_table_is_a_policy_error_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "declines.toml"
    broken.write_text(DEFAULT_DECLINES_PATH.read_text().replace('class = "hard"', 'class = "squishy"', 1))
    with pytest.raises(PolicyError, match=r"^decline table .*declines\.toml: .*squishy"):
        load_policy(declines_path=broken)
    headless = tmp_path / "headless.toml"
    headless.write_text("[processor]\n")
    with pytest.raises(PolicyError, match=r"^decline table .*headless\.toml: missing key 'unknown'$"):
        load_declines(headless)
