"""Loading the decision policy: one TOML document (policies/default.toml by default) with a `version` and a section
per rule family ([checkout], [dunning], [refunds], ...). Each family parses its own section into a typed, frozen
policy object; thresholds live in the file, not in code, so a replay can run another policy over the same events.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agents.rules.checkout.policy import CheckoutPolicy
    from agents.rules.dunning.policy import DunningPolicy
    from agents.rules.refunds import RefundPolicy

DEFAULT_POLICY_PATH = Path(__file__).resolve().parents[2] / "policies" / "default.toml"


def load_policy_document(path: str | Path | None = None) -> dict[str, Any]:
    with open(path or DEFAULT_POLICY_PATH, "rb") as fh:
        return tomllib.load(fh)


@dataclass(frozen=True, slots=True)
class Policy:
    """The whole decision policy: one typed section per rule family, and the version stamped on every decision."""

    version: str
    checkout: CheckoutPolicy
    dunning: DunningPolicy
    refunds: RefundPolicy


class PolicyError(ValueError):
    """A policy file that cannot be read or does not hold a valid policy."""


def load_policy(path: str | Path | None = None) -> Policy:
    """The policy at `path` (default policies/default.toml); PolicyError names the file and what is wrong."""
    try:
        return _load_policy(path)
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as err:
        what = f"missing key {err}" if isinstance(err, KeyError) else str(err)
        raise PolicyError(f"policy {path or DEFAULT_POLICY_PATH}: {what}") from None


def _load_policy(path: str | Path | None = None) -> Policy:
    from agents.rules.checkout.policy import CheckoutPolicy
    from agents.rules.dunning.policy import DunningPolicy
    from agents.rules.refunds import RefundPolicy

    doc = load_policy_document(path)
    return Policy(
        version=str(doc["version"]),
        checkout=CheckoutPolicy.from_mapping(doc["checkout"]),
        dunning=DunningPolicy.from_mapping(doc["dunning"]),
        refunds=RefundPolicy.from_mapping(doc["refunds"]),
    )
