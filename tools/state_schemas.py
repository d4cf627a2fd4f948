"""Add the current schemas of the stored state types to schemas/state/, the history state values are read with.

Run `make state-schemas` after changing a dataclass reachable from agents.rules.journey.CustomerState or
agents.rules.identity.IdentityNode, and commit the new file with the change: a worker reading a value written
under a schema that is not in the history refuses it. Files are never rewritten or removed: values written under
an old schema may still be in RocksDB or a changelog. tests/unit/pipeline/wire/test_state_codec.py fails when
the current schema of a stored type is missing.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.wire.state_schema import STORED, write_history

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    for cls in STORED:
        path = write_history(cls)
        print(f"wrote {path.relative_to(ROOT)}" if path else f"{cls.__name__}: current schema already in the history")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
