"""The one build step pyproject.toml cannot declare: ship schemas/ and policies/ inside the `pipeline` package.

The top-level folders stay the source of truth (nothing is duplicated in git); building copies them into
pipeline/data/ of the wheel, where pipeline/resources.py finds them. Editable installs read the folders in place.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = {"schemas": ("*.avsc", "state/*.avsc"), "policies": ("*.toml",)}


class BuildPyWithData(build_py):
    """build_py, plus the data folders copied to <build_lib>/pipeline/data/<folder>/."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for folder, patterns in SHIPPED.items():
            for pattern in patterns:
                for src in sorted((ROOT / folder).glob(pattern)):
                    dest = Path(self.build_lib, "pipeline", "data", src.relative_to(ROOT))
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(src, dest)


setup(cmdclass={"build_py": BuildPyWithData})
