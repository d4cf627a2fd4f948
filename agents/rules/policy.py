"""Loading the decision policy: one TOML document (policies/default.toml by default) with a `version` and a section
per rule family ([checkout], [dunning], [refunds], ...). Each family parses its own section into a typed, frozen
policy object; thresholds live in the file, not in code, so a replay can run another policy over the same events.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

DEFAULT_POLICY_PATH = Path(__file__).resolve().parent.parent.parent / "policies" / "default.toml"


def load_policy_document(path: str | Path | None = None) -> dict[str, Any]:
    with open(path or DEFAULT_POLICY_PATH, "rb") as fh:
        return tomllib.load(fh)
