"""The worker's RocksDB tables without the write-ahead log: a kill loses the unflushed writes (so the option really is
in force), a closed database keeps them, and JOURNEY_STATE_WAL=1 keeps the log."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from faust.stores.rocksdb import RocksDBOptions

from pipeline.settings import Settings
from pipeline.worker import unlogged_tables


@pytest.fixture(autouse=True)
def restored() -> Iterator[None]:
    yield
    unlogged_tables.uninstall()


def _killed_after_put(path: Path, *installs: bool) -> None:
    """A process that installs the option as given (the last call wins), opens a table partition as the worker
    does, writes one value and is SIGKILLed."""
    code = textwrap.dedent(f"""
        import os, signal
        from faust.stores.rocksdb import RocksDBOptions
        from pipeline.worker import unlogged_tables
        for wal in {installs!r}:
            unlogged_tables.install(wal)
        db = RocksDBOptions().open({str(path)!r})
        db.put(b"customer", b"state")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", code], timeout=60, check=False)
    assert done.returncode == -9


def _read(path: Path) -> bytes | None:
    db = RocksDBOptions().open(path)
    try:
        value: bytes | None = db.get(b"customer")
        return value
    finally:
        db.close()


def test_a_killed_worker_loses_its_unflushed_writes_without_the_log(tmp_path: Path) -> None:
    _killed_after_put(tmp_path / "t-0.db", False)
    assert _read(tmp_path / "t-0.db") is None  # recovery reads it back from the changelog


def test_with_the_log_a_killed_worker_keeps_them(tmp_path: Path) -> None:
    _killed_after_put(tmp_path / "t-0.db", True)
    assert _read(tmp_path / "t-0.db") == b"state"


def test_a_stopped_worker_keeps_its_writes(tmp_path: Path) -> None:
    """Faust's store stops by dropping its databases (faust/stores/rocksdb.py `stop`): RocksDB flushes unlogged
    writes when a database closes."""
    unlogged_tables.install(False)
    dbs = {0: RocksDBOptions().open(tmp_path / "t-0.db")}
    dbs[0].put(b"customer", b"state")
    dbs.clear()
    gc.collect()
    assert _read(tmp_path / "t-0.db") == b"state"


def test_off_by_default_and_on_with_the_setting() -> None:
    assert Settings().state_wal is False
    assert Settings.from_env({"JOURNEY_STATE_WAL": "1"}).state_wal is True


def test_install_is_idempotent_and_the_last_call_wins(tmp_path: Path) -> None:
    _killed_after_put(tmp_path / "a-0.db", False, True)
    assert _read(tmp_path / "a-0.db") == b"state"  # the log is on again
    _killed_after_put(tmp_path / "b-0.db", True, False)
    assert _read(tmp_path / "b-0.db") is None


def test_uninstall_restores_fausts_own_method() -> None:
    original = RocksDBOptions.open
    unlogged_tables.install(False)
    assert RocksDBOptions.open is not original
    unlogged_tables.uninstall()
    assert RocksDBOptions.open is original
