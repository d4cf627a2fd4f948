"""Reading the decision policy from its files: the one place policies/*.toml are opened.

The rules never read files: this module reads the policy document and the decline table, and hands them to the
pure parsers in agents.rules (`parse_knowledge_base`, `parse_policy`). Every failure is a PolicyError naming the file
and, for a bad value, its dotted path in the file. A leaf of the `pipeline` layer: agents.rules and the stdlib only.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from agents.rules.declines import KnowledgeBase, parse_knowledge_base
from agents.rules.policy import Policy, PolicyError, parse_policy
from pipeline.resources import POLICIES_DIR

DEFAULT_POLICY_PATH = POLICIES_DIR / "default.toml"
DEFAULT_DECLINES_PATH = POLICIES_DIR / "declines.toml"


def load_policy(path: str | Path | None = None, declines_path: str | Path | None = None) -> Policy:
    """The policy at `path` (default policies/default.toml) with the decline table at `declines_path` (default
    policies/declines.toml)."""
    declines = load_declines(declines_path)
    file = Path(path or DEFAULT_POLICY_PATH)
    doc = read_toml(file, "policy")
    try:
        return parse_policy(doc, declines)
    except PolicyError as err:
        raise PolicyError(f"policy {file}: {err}") from None


def load_declines(path: str | Path | None = None) -> KnowledgeBase:
    """The decline-code knowledge base at `path` (default policies/declines.toml)."""
    file = Path(path or DEFAULT_DECLINES_PATH)
    doc = read_toml(file, "decline table")
    try:
        return parse_knowledge_base(doc)
    except KeyError as err:
        raise PolicyError(f"decline table {file}: missing key {err}") from None
    except (TypeError, ValueError) as err:
        raise PolicyError(f"decline table {file}: {err}") from None


def read_toml(file: Path, what: str = "policy") -> dict[str, Any]:
    """The parsed TOML document in `file`; PolicyError if it cannot be read or is not TOML."""
    try:
        with open(file, "rb") as fh:
            return tomllib.load(fh)
    except OSError as err:
        raise PolicyError(f"{what} {file}: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise PolicyError(f"{what} {file}: {err}") from None
