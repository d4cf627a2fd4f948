"""The embedded broker starts, answers Kafka, and never outlives whoever started it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from pipeline.admin import ensure_topics
from pipeline.broker import EmbeddedBroker, kafka_answers
from pipeline.errors import BrokerError

pytestmark = pytest.mark.integration


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:  # a zombie is dead too
        return fh.read().split()[2] != "Z"


def wait_dead(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_broker_answers_and_round_trips_a_record(broker: EmbeddedBroker) -> None:
    async def roundtrip() -> bytes | None:
        await ensure_topics(broker.bootstrap, {"hello": 2})
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        await producer.send_and_wait("hello", b"world", key=b"k")
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


def test_stop_leaves_no_process_even_after_an_exception(tmp_path: Path) -> None:
    b = EmbeddedBroker(tmp_path)
    with pytest.raises(RuntimeError), b:
        pid = b.pid
        assert pid is not None and alive(pid)
        raise RuntimeError("test failure inside the context")
    assert wait_dead(pid)
    assert not kafka_answers("127.0.0.1", int(b.bootstrap.rsplit(":", 1)[1]))
    b.stop()  # idempotent


def test_a_missing_binary_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALF_TANSU_BIN", str(tmp_path / "no-such-tansu"))
    with pytest.raises(BrokerError, match="Tansu broker binary is not available"):
        EmbeddedBroker(tmp_path).start()


def test_journey_broker_runs_until_ctrl_c_and_takes_tansu_with_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "JOURNEY_"))}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "broker"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**env, "JOURNEY_DATA_DIR": str(tmp_path)})
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert "Tansu broker on 127.0.0.1:" in line
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert children, "tansu should run as a child of journey broker"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        assert all(wait_dead(int(pid)) for pid in children)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_killing_the_owner_outright_leaves_no_orphan_broker(tmp_path: Path) -> None:
    code = ("import sys, time; from pipeline.broker import EmbeddedBroker; "
            "b = EmbeddedBroker(sys.argv[1]).start(); print(b.pid, flush=True); time.sleep(600)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        tansu_pid = int(proc.stdout.readline()) if proc.stdout else 0
        assert alive(tansu_pid)
        proc.kill()  # SIGKILL: no atexit, no finally
        proc.wait()
        assert wait_dead(tansu_pid), "PR_SET_PDEATHSIG should take the broker down with its owner"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
