"""Where the shipped data lives: the Avro schemas (schemas/, schemas/state/) and the policies (policies/*.toml).

In a built wheel they are package data under pipeline/data/, copied there from the repository's top-level folders by
the build step in setup.py (those folders stay the one source of truth). In a source checkout or an editable install
there is no pipeline/data/, and the top-level folders are read in place. Settings can point elsewhere
(JOURNEY_SCHEMAS, JOURNEY_POLICY, JOURNEY_DECLINES). A leaf of the `pipeline` layer: the stdlib only.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PACKAGE_DATA = Path(str(files("pipeline"))) / "data"  # installed from a wheel: always on a file system
SOURCE_ROOT = Path(__file__).resolve().parents[1]


def shipped(folder: str) -> Path:
    """The packaged copy of a top-level data folder when installed, else the folder itself."""
    packaged = PACKAGE_DATA / folder
    return packaged if packaged.is_dir() else SOURCE_ROOT / folder


SCHEMAS_DIR = shipped("schemas")
POLICIES_DIR = shipped("policies")
