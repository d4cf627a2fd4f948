"""The worker's RocksDB tables are written without RocksDB's write-ahead log, as Kafka Streams writes its stores.

Why: every table write (a customer's state, their history segment, an index entry, and the offset of the last
changelog record Faust stores beside them) is a RocksDB put, and with the log each put is also a write(2) to it:
9.3 µs against 2.7 µs for a 1.5 KB value, 3.6 µs against 0.9 µs for the offset, on the 2-core machine of
docs/benchmarks.md. A payment attempt makes about eight of them.

What a crash does then. The tables are durable through their changelogs, not their local files: RocksDB keeps what it
has flushed to its files (whole memtables, in write order, so a prefix of the writes) and loses the rest, and the
persisted changelog offset is one of those writes, made after the values it covers. At start Faust's recovery reads
each changelog on from that offset, so a table comes back as its changelog holds it. It is also the consistent
choice: with the log, a worker killed after writing a state but before that state's changelog record was delivered
came back with a local state ahead of its changelog (the redelivered event then found in it and skipped), which no
other worker taking the partition over would ever see. Without it the event is decided again, with the same record
ids (agents/customer_events.py), and its state reaches the changelog (unless a memtable flush, once per 64 MB of
writes, falls in between). The cost: a killed worker reads back the
changelog records written since the last flush (at most a memtable, 64 MB, per table partition); a worker that stops
flushes its tables as it closes them (RocksDB flushes unlogged writes when a database closes).

JOURNEY_STATE_WAL=1 keeps the log. How: one wrapper around the method Faust opens every table partition with
(`RocksDBOptions.open`), installed before the app starts (pipeline/worker/run.py), like the fetch wait.
"""

from __future__ import annotations

from typing import Any

_original: Any = None
_logged = True


def install(wal: bool) -> None:
    """Open every RocksDB table partition from now on with the write-ahead log on (`wal`) or off. Idempotent; the
    last call wins."""
    global _original, _logged
    from faust.stores.rocksdb import RocksDBOptions

    _logged = wal
    if _original is not None:
        return
    original = RocksDBOptions.open

    def open_table(self: Any, path: Any, *, read_only: bool = False) -> Any:
        db = original(self, path, read_only=read_only)
        if not _logged and not read_only and hasattr(db, "set_write_options"):  # rocksdict (Faust's default)
            unlogged(db)
        return db

    RocksDBOptions.open = open_table  # type: ignore[method-assign]
    _original = original


def unlogged(db: Any) -> Any:
    """Make a rocksdict database write without its write-ahead log."""
    import rocksdict

    options = rocksdict.WriteOptions()
    options.disable_wal = True  # type: ignore[method-assign,assignment]  # a property; its stub says a method
    db.set_write_options(options)
    return db


def uninstall() -> None:
    """Restore Faust's own method (for tests). Idempotent."""
    global _original, _logged
    from faust.stores.rocksdb import RocksDBOptions

    if _original is not None:
        RocksDBOptions.open = _original  # type: ignore[method-assign]
        _original, _logged = None, True
