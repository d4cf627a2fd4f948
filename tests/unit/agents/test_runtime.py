"""What a worker's agents share is built from the settings, all of them."""

from __future__ import annotations

from pathlib import Path

from agents.runtime import Runtime
from pipeline.settings import SCHEMAS_DIR, Settings
from tests.unit.pipeline.wire.test_codec import schemas_elsewhere


def test_the_runtime_codec_reads_the_schemas_dir_of_the_settings(tmp_path: Path) -> None:
    other = schemas_elsewhere(tmp_path)
    settings = Settings.from_env({"JOURNEY_DATA_DIR": str(tmp_path / "data"), "JOURNEY_SCHEMAS": str(other)})
    assert list(Runtime.from_settings(settings).codec.schemas) == ["DeviceSeen"]


def test_without_journey_schemas_the_runtime_reads_the_repositorys_schemas(tmp_path: Path) -> None:
    settings = Settings.from_env({"JOURNEY_DATA_DIR": str(tmp_path)})
    codec = Runtime.from_settings(settings).codec
    assert codec.schemas_dir == SCHEMAS_DIR
    assert len(codec.schemas) == len(list(SCHEMAS_DIR.glob("*.avsc")))
