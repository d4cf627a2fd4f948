"""Local tables ahead of their changelogs: found before Faust starts, moved aside on Tansu, a command elsewhere."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from rocksdict import Options, Rdict

from pipeline.errors import StaleStateError
from pipeline.kafka.connect import Connection
from pipeline.settings import Settings
from pipeline.worker import local_state
from pipeline.worker.local_state import OFFSET_KEY, Stale, check_local_state, persisted_offsets, stale_partitions

NOW = dt.datetime(2026, 12, 1, 11, 30, 5, tzinfo=dt.UTC)


def write_table(folder: Path, table: str, partition: int, offset: int | None) -> None:
    """A RocksDB partition as Faust leaves it: raw mode, the applied offset under Faust's key."""
    path = folder / "v1" / "tables" / f"{table}-{partition}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    db = Rdict(str(path), options=Options(raw_mode=True))
    db[b"customer-1"] = b"state"
    if offset is not None:
        db[OFFSET_KEY] = str(offset).encode()
    db.close()


def with_changelog_ends(monkeypatch: pytest.MonkeyPatch, ends: dict[tuple[str, int], int]) -> None:
    async def fake_end_offsets(*args: Any, **kwargs: Any) -> dict[tuple[str, int], int]:
        return ends

    monkeypatch.setattr(local_state, "end_offsets", fake_end_offsets)


def test_persisted_offsets_are_read_from_each_table_partition(tmp_path: Path) -> None:
    write_table(tmp_path, "customer-state", 0, 41)
    write_table(tmp_path, "customer-state", 3, 7)
    write_table(tmp_path, "due-index", 1, None)  # never applied a changelog record
    assert persisted_offsets(tmp_path) == {("customer-state", 0): 41, ("customer-state", 3): 7}


def test_a_partition_whose_creation_a_sigkill_cut_short_has_no_offset_and_opens_as_a_new_database(
        tmp_path: Path) -> None:
    """Seen in the kill test: the worker died after rocksdict wrote its config into the new folder and before
    RocksDB wrote CURRENT. The restart must neither fail on that folder nor lose the partitions beside it."""
    write_table(tmp_path, "customer-state", 1, 12)
    cut = tmp_path / "v1" / "tables" / "identity-index-3.db"
    cut.mkdir()
    (cut / "rocksdict-config.json").write_text('{"raw_mode":true,"prefix_extractors":{}}')
    assert persisted_offsets(tmp_path) == {("customer-state", 1): 12}
    db = Rdict(str(cut), options=Options(raw_mode=True))  # as Faust's store opens it: read-write, created if missing
    db[b"k"] = b"v"
    db.close()
    assert persisted_offsets(tmp_path) == {("customer-state", 1): 12}  # a database now, still nothing applied


def test_an_offset_at_or_past_the_changelog_end_is_stale_and_a_missing_changelog_ends_at_zero() -> None:
    persisted = {("customer-state", 0): 9, ("customer-state", 1): 10, ("due-index", 0): 0}
    ends = {("app-customer-state-changelog", 0): 10, ("app-customer-state-changelog", 1): 10}
    assert stale_partitions(persisted, ends, "app") == [Stale("customer-state", 1, 10, 10), Stale("due-index", 0, 0, 0)]


def test_a_state_behind_its_changelogs_is_left_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(data_dir=tmp_path, app_id="app")
    write_table(tmp_path / "worker", "customer-state", 0, 4)
    with_changelog_ends(monkeypatch, {("app-customer-state-changelog", 0): 5})
    assert check_local_state(settings, Connection("b:9092", tansu=True), NOW) is None
    assert (tmp_path / "worker").is_dir()


def test_on_tansu_a_stale_state_is_moved_aside_with_one_sentence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(data_dir=tmp_path, app_id="app")
    write_table(tmp_path / "worker", "customer-state", 2, 12)
    with_changelog_ends(monkeypatch, {})
    moved = check_local_state(settings, Connection("b:9092", tansu=True), NOW)
    assert moved == tmp_path / "worker.stale-20261201T113005Z" and moved.is_dir()
    assert not (tmp_path / "worker").exists()
    said = capsys.readouterr().err.strip()
    assert said.count(". ") == 0 and "\n" not in said
    assert "customer-state[2] at offset 12, changelog ends at 0" in said and "rebuilds its state" in said


def test_on_a_real_cluster_nothing_is_moved_and_the_error_names_the_command(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(data_dir=tmp_path, app_id="app", bootstrap_servers="kafka:9092")
    write_table(tmp_path / "worker", "customer-state", 0, 12)
    write_table(tmp_path / "worker", "customer-state", 1, 3)
    with_changelog_ends(monkeypatch, {("app-customer-state-changelog", 1): 2})
    with pytest.raises(StaleStateError) as err:
        check_local_state(settings, Connection("kafka:9092", tansu=False), NOW)
    assert str(err.value).endswith(f"mv {tmp_path / 'worker'} {tmp_path / 'worker.stale-20261201T113005Z'}")
    assert "and 1 more" in str(err.value)
    assert (tmp_path / "worker").is_dir()


def test_memory_tables_are_not_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_table(tmp_path / "worker", "customer-state", 0, 12)
    with_changelog_ends(monkeypatch, {})
    settings = Settings(data_dir=tmp_path, store="memory://")
    assert check_local_state(settings, Connection("b:9092", tansu=True), NOW) is None
