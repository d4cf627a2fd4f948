"""The worker's local tables (RocksDB under <data dir>/worker) checked against their changelogs before Faust starts.

Faust keeps, in each table partition's RocksDB, the offset of the last changelog record it applied. When the broker
has lost its topics (the embedded Tansu is memory-only: restarted, it is empty), the changelogs end below those
offsets and Faust's recovery dies with `ConsistencyError: persisted offset > -1`, a traceback that names no cure.
This module finds that case first and says it in one sentence. On Tansu, whose topics never outlive it, the stale
folder is moved aside to `<data dir>/worker.stale-<UTC timestamp>` and the worker rebuilds its state from the (empty)
changelogs; against any other broker nothing is moved and StaleStateError names the command that does it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import StaleStateError
from pipeline.kafka.admin import end_offsets
from pipeline.kafka.connect import Connection
from pipeline.settings import Settings

OFFSET_KEY = b"__faust\0offset__"  # faust/stores/rocksdb.py Store.offset_key


@dataclass(frozen=True)
class Stale:
    """A table partition whose persisted offset the changelog never reached (`end`: the changelog's end offset)."""

    table: str
    partition: int
    persisted: int
    end: int

    def __str__(self) -> str:
        return f"{self.table}[{self.partition}] at offset {self.persisted}, changelog ends at {self.end}"


def worker_dir(settings: Settings) -> Path:
    """Faust's datadir (pipeline/worker/app.py): its tables live in v<version>/tables/<table>-<partition>.db."""
    return settings.data_dir / "worker"


def persisted_offsets(folder: Path) -> dict[tuple[str, int], int]:
    """(table, partition) -> the changelog offset Faust last applied to that RocksDB partition.

    A folder without RocksDB's CURRENT file holds no database: a worker killed while it created one (rocksdict
    writes its rocksdict-config.json first) leaves only that. Nothing was ever applied there, and Faust opens the
    folder as a new database, so it is skipped (opening it read-only would fail and stop the worker's restart)."""
    from rocksdict import AccessType, Options, Rdict

    found: dict[tuple[str, int], int] = {}
    for db in sorted(folder.glob("v*/tables/*.db")):
        table, _, partition = db.name.removesuffix(".db").rpartition("-")
        if not (table and partition.isdigit()) or not (db / "CURRENT").is_file():
            continue
        store = Rdict(str(db), options=Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            raw = store.get(OFFSET_KEY)
        finally:
            store.close()
        if raw is not None:
            found[(table, int(partition))] = int(raw)
    return found


def stale_partitions(persisted: Mapping[tuple[str, int], int], ends: Mapping[tuple[str, int], int],
                     app_id: str) -> list[Stale]:
    """Partitions whose persisted offset is at or past their changelog's end (a missing changelog ends at 0)."""
    stale = []
    for (table, partition), offset in sorted(persisted.items()):
        end = ends.get((f"{app_id}-{table}-changelog", partition), 0)
        if offset >= end:
            stale.append(Stale(table, partition, offset, end))
    return stale


def aside_name(folder: Path, now: dt.datetime) -> Path:
    return folder.with_name(f"{folder.name}.stale-{now.strftime('%Y%m%dT%H%M%SZ')}")


def check_local_state(settings: Settings, conn: Connection, now: dt.datetime | None = None) -> Path | None:
    """Move a stale local state aside on Tansu (returns where to), raise StaleStateError elsewhere; None if fresh."""
    folder = worker_dir(settings)
    if not folder.is_dir() or not settings.store.startswith("rocksdb"):
        return None
    persisted = persisted_offsets(folder)
    if not persisted:
        return None
    ends = asyncio.run(end_offsets(conn.bootstrap, f"{settings.app_id}-", conn.tansu, conn.security))
    stale = stale_partitions(persisted, ends, settings.app_id)
    if not stale:
        return None
    target = aside_name(folder, now or dt.datetime.now(dt.UTC))
    why = (f"the local tables in {folder} are ahead of their changelogs on {conn.bootstrap} ({stale[0]}"
           f"{f' and {len(stale) - 1} more' if len(stale) > 1 else ''}): the broker has lost its topics")
    if not conn.tansu:
        raise StaleStateError(f"{why}; if that is expected, move the old state aside and start again: "
                              f"mv {shlex.quote(str(folder))} {shlex.quote(str(target))}")
    folder.rename(target)
    print(f"{why} (the embedded broker keeps nothing over a restart), so the worker rebuilds its state; the old "
          f"one is in {target}", file=sys.stderr, flush=True)
    return target
