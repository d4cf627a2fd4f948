"""The processes a bench run starts: each system under test as a child that cannot outlive the bench, and the CPU
time (utime + stime from /proc/<pid>/stat) that a process and its descendants have used.

A system runs in its own process group, so a terminal's Ctrl-C reaches only the bench, which then stops it in order
(SIGTERM, then SIGKILL); PR_SET_PDEATHSIG kills it if the bench itself is killed outright.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_TICKS = os.sysconf("SC_CLK_TCK")


def _load_prctl() -> Callable[..., int] | None:
    try:  # resolved in the parent: loading a library between fork and exec can deadlock
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl()


def _die_with(parent: int) -> Callable[[], None]:
    def setup() -> None:
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the bench died before prctl took effect
            os._exit(1)

    return setup


def spawn(cmd: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `cmd` with its output in `log`. Start it from the main thread (PDEATHSIG follows the spawning thread)."""
    with open(log, "ab") as out:
        return subprocess.Popen(  # noqa: S603 (our own interpreter and modules)
            list(cmd), env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            process_group=0, preexec_fn=_die_with(os.getpid()),
        )


def stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    """SIGTERM, wait, then SIGKILL; always reaped. Returns the exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields from `state` on; the name may hold spaces


def descendants(pid: int) -> list[int]:
    """pid and every process below it."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += parents.get(p, [])
    return found


def cpu_seconds(pid: int | None, tree: bool = True) -> float:
    """CPU time used so far by `pid` (all its threads) and, with `tree`, its living descendants."""
    if pid is None:
        return 0.0
    total = 0
    for p in descendants(pid) if tree else [pid]:
        fields = _stat(p)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)
    return total / _TICKS


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"
