"""Helpers for integration tests: run the real `journey` CLI as a process, publish, and collect outputs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import DecodeError
from pipeline.kafka.clients import consume
from pipeline.kafka.embedded import free_port
from pipeline.wire.codec import Codec
from pipeline.wire.registry import LocalRegistry


def journey_env(bootstrap: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "JOURNEY_", "SCHEMA_REGISTRY"))}
    return {**env, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "JOURNEY_TANSU": "1", "JOURNEY_DATA_DIR": str(data_dir),
            "JOURNEY_WEB_PORT": str(free_port()), "JOURNEY_STORE": "rocksdb://", "JOURNEY_TIMER_INTERVAL": "0.5",
            "JOURNEY_SESSION_TIMEOUT": "3",  # Tansu joins take half the session timeout (TANSU.md)
            **extra}


def journey(*args: str, env: dict[str, str], input_text: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real CLI as a user would type it."""
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], env=env, capture_output=True, text=True,
                          input=input_text, timeout=timeout)


@contextmanager
def worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A `journey worker` process, always stopped (and reaped) when the block ends."""
    proc = start_worker(env, log)
    try:
        yield proc
    finally:
        stop_process(proc)


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "worker"], env=env, stdout=fh,
                                stderr=subprocess.STDOUT)


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass(frozen=True)
class Process:
    """A process as /proc knows it. The start time tells a process from a later one that reuses its pid."""

    pid: int
    started: int  # clock ticks after boot (/proc/PID/stat field 22)
    command: str

    @property
    def running(self) -> bool:
        now = _proc_stat(self.pid)
        return now is not None and int(now[19]) == self.started and now[0] != "Z"  # a zombie has exited


def _proc_stat(pid: int) -> list[str] | None:
    """/proc/PID/stat from field 3 (state) on; the command name before it may contain spaces and parentheses."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def descendants(pid: int) -> set[Process]:
    """Every live process below `pid`: children, grandchildren and so on."""
    parents: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _proc_stat(int(entry))) is not None:
            stats[int(entry)] = stat
            parents.setdefault(int(stat[1]), []).append(int(entry))
    found: set[Process] = set()
    todo = list(parents.get(pid, []))
    while todo:
        child = todo.pop()
        todo += parents.get(child, [])
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # gone meanwhile
        found.add(Process(child, int(stats[child][19]), command.strip()))
    return found


def write_jsonl(path: Path, records: Iterable[Any]) -> Path:
    with open(path, "w") as fh:
        for r in records:
            fh.write(json.dumps({"topic": r.TOPIC, "type": type(r).__name__, "value": r.to_record()}) + "\n")
    return path


def collect(bootstrap: str, data_dir: Path, topics: Iterable[str], until: Any, timeout: float = 90.0,
            settle: float = 0.0) -> list[tuple[str, Any, list[tuple[str, bytes]]]]:
    """Read topics from the beginning until `until(records)` is true (then `settle` more seconds) or timeout."""
    codec = Codec(LocalRegistry(data_dir / "schema-registry.json"))

    async def run() -> list[tuple[str, Any, list[tuple[str, bytes]]]]:
        got: list[tuple[str, Any, list[tuple[str, bytes]]]] = []
        deadline = time.monotonic() + timeout
        done_at: float | None = None
        stream = consume(bootstrap, list(topics), from_beginning=True, follow=True, heartbeat=True)
        async with contextlib.aclosing(stream):  # stop the consumer now, not whenever the generator is collected
            async for topic, _p, _o, _k, value, headers in stream:
                if topic != "__idle__":
                    try:
                        got.append((topic, codec.decode(value or b""), headers))
                    except DecodeError:
                        got.append((topic, value, headers))
                if done_at is None and until(got):
                    done_at = time.monotonic()
                if (done_at is not None and time.monotonic() - done_at >= settle) or time.monotonic() > deadline:
                    break
        return got

    return asyncio.run(run())
