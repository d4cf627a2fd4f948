"""The embedded broker starts, answers Kafka, and never outlives whoever started it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pipeline.errors import BrokerError
from pipeline.kafka.admin import ensure_topics, wait_for_broker
from pipeline.kafka.embedded import EmbeddedBroker, kafka_answers

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    if pid <= 0:  # os.kill(0, ...) would mean our own process group
        return False
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as fh:  # a zombie is dead too
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


def wait_dead(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def children_of(pid: int) -> list[int]:
    return [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()]


def first_line(path: Path, proc: subprocess.Popen[bytes], timeout: float = 20) -> str:
    """The first line a background process wrote to `path`, waiting at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        text = path.read_text() if path.exists() else ""
        if "\n" in text:
            return text.split("\n", 1)[0]
        time.sleep(0.05)
    return path.read_text() if path.exists() else ""


def stop_process(proc: subprocess.Popen[bytes], strays: Iterable[int] = ()) -> None:
    """Kill what a test started, including a broker that should already be gone (so a failure leaks nothing)."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for pid in strays:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_broker_answers_and_round_trips_a_record(broker: EmbeddedBroker) -> None:
    async def roundtrip() -> bytes | None:
        await wait_for_broker(broker.bootstrap, timeout=5)
        await ensure_topics(broker.bootstrap, {"hello": 2})
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait("hello", b"world", key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer("hello", bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest",
                                    group_id=None)
        await consumer.start()
        try:
            msg = await asyncio.wait_for(consumer.getone(), 10)
            return msg.value
        finally:
            await consumer.stop()

    assert asyncio.run(roundtrip()) == b"world"


def test_topics_are_created_once_with_their_partition_counts(broker: EmbeddedBroker) -> None:
    async def run() -> None:
        await ensure_topics(broker.bootstrap, {"orders": 3})
        await ensure_topics(broker.bootstrap, {"orders": 3, "refunds": 2})  # idempotent
        with pytest.raises(BrokerError, match="orders: 3 instead of 8"):
            await ensure_topics(broker.bootstrap, {"orders": 8})

    asyncio.run(run())


async def test_async_with_starts_the_broker_and_stop_leaves_no_process(tmp_path: Path) -> None:
    async with EmbeddedBroker(tmp_path) as b:
        pid = b.pid or 0
        assert alive(pid)
        assert kafka_answers(b.host, b.port or 0)
    assert wait_dead(pid)
    assert not b.running


def test_stop_leaves_no_process_even_after_an_exception(tmp_path: Path) -> None:
    b = EmbeddedBroker(tmp_path)
    with pytest.raises(RuntimeError, match="inside the context"), b:
        pid = b.pid or 0
        assert alive(pid)
        raise RuntimeError("test failure inside the context")
    assert wait_dead(pid)
    assert not kafka_answers("127.0.0.1", int(b.bootstrap.rsplit(":", 1)[1]))
    b.stop()  # idempotent


def test_a_missing_binary_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALF_TANSU_BIN", str(tmp_path / "no-such-tansu"))
    with pytest.raises(BrokerError, match="Tansu broker binary is not available.*no-such-tansu"):
        EmbeddedBroker(tmp_path).start()


def test_a_broker_that_exits_at_once_is_reported_with_its_log(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "fake-tansu"
    fake.write_text("#!/bin/sh\necho 'simulated: address already in use' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CALF_TANSU_BIN", str(fake))
    b = EmbeddedBroker(tmp_path)
    with pytest.raises(BrokerError, match=r"exited with code 3(.|\n)*simulated: address already in use"):
        b.start()
    assert not b.running


def test_python_m_pipeline_broker_prints_its_address_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    out = tmp_path / "stdout"
    with open(out, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "pipeline.kafka.embedded", "--data-dir", str(tmp_path)],
                                stdout=fh, stderr=subprocess.DEVNULL, start_new_session=True)
    tansu: list[int] = []
    try:
        bootstrap = first_line(out, proc)
        host, _, port = bootstrap.partition(":")
        assert host == "127.0.0.1" and kafka_answers(host, int(port)), f"printed {bootstrap!r}"
        tansu.extend(children_of(proc.pid))
        assert tansu, "tansu should run as a child of the broker command"
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C does: to the whole foreground process group
        assert proc.wait(timeout=20) == 0
        assert all(wait_dead(pid) for pid in tansu)
    finally:
        stop_process(proc, tansu)


def test_journey_broker_runs_until_ctrl_c_and_takes_tansu_with_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "JOURNEY_"))}
    out = tmp_path / "stdout"
    with open(out, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "broker"], stdout=fh,
                                stderr=subprocess.STDOUT, env={**env, "JOURNEY_DATA_DIR": str(tmp_path)})
    tansu: list[int] = []
    try:
        assert "Tansu broker on 127.0.0.1:" in first_line(out, proc)
        tansu.extend(children_of(proc.pid))
        assert tansu, "tansu should run as a child of journey broker"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert all(wait_dead(pid) for pid in tansu)
    finally:
        stop_process(proc, tansu)


def test_killing_the_owner_outright_leaves_no_orphan_broker(tmp_path: Path) -> None:
    code = ("import sys, time; from pipeline.kafka.embedded import EmbeddedBroker; "
            "b = EmbeddedBroker(sys.argv[1]).start(); print(b.pid, flush=True); time.sleep(600)")
    out = tmp_path / "stdout"
    with open(out, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=fh)
    tansu: list[int] = []
    try:
        tansu_pid = int(first_line(out, proc) or 0)
        assert alive(tansu_pid)
        tansu.append(tansu_pid)
        proc.kill()  # SIGKILL: no atexit, no finally
        proc.wait()
        assert wait_dead(tansu_pid), "PR_SET_PDEATHSIG should take the broker down with its owner"
    finally:
        stop_process(proc, tansu)
