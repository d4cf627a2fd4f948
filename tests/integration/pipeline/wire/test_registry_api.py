"""Standard Kafka tools on the embedded broker and the local registry's Schema Registry API: confluent-kafka's
SchemaRegistryClient, AvroSerializer and AvroDeserializer around a real `journey worker`, and kcat."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import confluent_kafka
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient, topic_record_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from pipeline.settings import SCHEMAS_DIR
from pipeline.wire.registry_api import RegistryApi, api_file, running_registry_api, serve_local_registry
from tests.integration.pipeline.worker.test_pipeline import T0, attempt
from tests.integration.support import journey_env, stop_process, worker

pytestmark = pytest.mark.integration


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryApi]:
    """The API over the local registry file the worker (same data directory) registers its schemas in."""
    with serve_local_registry(tmp_path) as api:
        yield api


def serializer(registry: RegistryApi) -> AvroSerializer:
    schema = (SCHEMAS_DIR / "PaymentAttempted.avsc").read_text()
    return AvroSerializer(SchemaRegistryClient({"url": registry.url}), schema,
                          conf={"subject.name.strategy": topic_record_subject_name_strategy})


def publish(bootstrap: str, registry: RegistryApi, records: list[dict[str, Any]], garbage: int = 0) -> None:
    """confluent-kafka with the murmur2 partitioner (the worker's), AvroSerializer, TopicRecordNameStrategy."""
    serialize = serializer(registry)
    producer = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "acks": "all"})
    for value in records:
        producer.produce("payments", key=value["customer_id"].encode(),
                         value=serialize(value, SerializationContext("payments", MessageField.VALUE)))
    for n in range(garbage):
        producer.produce("payments", key=b"cust-garbage", value=b"\x00\x00\x00\x00" + bytes([n]))
    assert producer.flush(30) == 0


def read(bootstrap: str, topic: str, until: Any, timeout: float = 60.0) -> list[Any]:
    """(headers, value) of every message on a topic, from the beginning, until `until(got)`."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-reader", "enable.auto.commit": False})
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while not (partitions := consumer.list_topics(topic, timeout=10).topics[topic].partitions):
            assert time.monotonic() < deadline, f"{topic} was never created"
            time.sleep(0.2)  # the worker creates its topics as it starts
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])  # no group join to wait for
        while not until(got) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                got.append(msg)
    finally:
        consumer.close()
    return got


def test_an_avro_serializer_payment_is_decided_and_the_decision_decodes_with_avro_deserializer(
        broker: Any, registry: RegistryApi, tmp_path: Path) -> None:
    env = journey_env(broker.bootstrap, tmp_path)
    value = attempt(1, "cust-cc", T0).to_record()
    with worker(env, tmp_path / "worker.log"):
        publish(broker.bootstrap, registry, [value])
        got = read(broker.bootstrap, "decisions", lambda got: len(got) >= 1)
    assert got, f"no decision; worker log:\n{(tmp_path / 'worker.log').read_text()[-3000:]}"
    deserialize = AvroDeserializer(SchemaRegistryClient({"url": registry.url}))
    decision = deserialize(got[0].value(), SerializationContext("decisions", MessageField.VALUE, got[0].headers()))
    assert decision["payment_id"] == value["payment_id"] and decision["outcome"] in ("approve", "challenge", "decline")
    headers = dict(got[0].headers())
    assert headers["ce_specversion"] == b"1.0" and headers["ce_id"] == decision["event_id"].encode()
    assert headers["ce_type"] == b"paymentjourney.PaymentDecision"
    assert headers["ce_source"] == b"payment-journey/payment-journey"
    assert headers["content-type"] == b"application/vnd.confluent.avro"
    subjects = SchemaRegistryClient({"url": registry.url}).get_subjects()
    assert "payments-paymentjourney.PaymentAttempted" in subjects and "decisions-paymentjourney.PaymentDecision" \
        in subjects
    assert SchemaRegistryClient({"url": registry.url}).get_versions("payments-paymentjourney.PaymentAttempted") \
        == [1], "the serializer's schema is the one the worker registered: one version, one id"


def kcat() -> tuple[str, Path]:
    """Debian's kcat, installed when missing (as root), on the confluent-kafka wheel's librdkafka (TANSU.md item 5:
    Debian's librdkafka 2.0.2 cannot talk to Tansu)."""
    if shutil.which("kcat") is None:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip("kcat is not installed and cannot be (needs root and apt-get): apt-get install -y kcat")
        quiet = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=quiet, capture_output=True, timeout=300)
        installed = subprocess.run(["apt-get", "install", "-y", "-qq", "kcat"], env=quiet, capture_output=True,
                                   timeout=300)
        if installed.returncode != 0 or shutil.which("kcat") is None:
            pytest.skip(f"apt-get install kcat failed: {installed.stderr.decode()[-300:]}")
    libs = Path(confluent_kafka.__file__).parent.parent / "confluent_kafka.libs"
    found = sorted(libs.glob("librdkafka-*.so.1"))
    if not found:
        pytest.skip(f"no librdkafka in {libs} to run kcat with")
    return str(shutil.which("kcat")), found[0]


def test_kcat_lists_the_topics_and_reads_a_dead_letters_headers(broker: Any, registry: RegistryApi,
                                                               tmp_path: Path) -> None:
    binary, lib = kcat()
    linked = tmp_path / "librdkafka"
    linked.mkdir()
    (linked / "librdkafka.so.1").symlink_to(lib)  # the name kcat links against
    kenv = {**os.environ, "LD_LIBRARY_PATH": str(linked)}
    version = subprocess.run([binary, "-V"], env=kenv, capture_output=True, text=True, timeout=30)
    assert f"librdkafka {confluent_kafka.libversion()[0]}" in version.stdout, version.stdout
    env = journey_env(broker.bootstrap, tmp_path)
    with worker(env, tmp_path / "worker.log"):
        publish(broker.bootstrap, registry, [], garbage=1)
        assert read(broker.bootstrap, "payments-dlq", lambda got: len(got) >= 1), "no dead letter"
    listed = subprocess.run([binary, "-b", broker.bootstrap, "-L", "-J"], env=kenv, capture_output=True, text=True,
                            timeout=30)
    assert listed.returncode == 0, listed.stderr
    topics = {t["topic"]: len(t["partitions"]) for t in json.loads(listed.stdout)["topics"]}
    assert topics["payments"] == topics["decisions"] == topics["payments-dlq"] == 4
    headers = subprocess.run([binary, "-b", broker.bootstrap, "-C", "-t", "payments-dlq", "-f", r"%h\n", "-e"],
                             env=kenv, capture_output=True, text=True, timeout=60)
    assert headers.returncode == 0, headers.stderr
    assert "error.reason=" in headers.stdout and "error.topic=payments" in headers.stdout


def test_journey_broker_serves_the_registry_api_advertises_it_and_stops_it_with_the_broker(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "JOURNEY_", "SCHEMA_REGISTRY"))}
    out = tmp_path / "stdout"
    with open(out, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "broker"], stdout=fh,
                                stderr=subprocess.STDOUT, env={**env, "JOURNEY_DATA_DIR": str(tmp_path)})
    try:
        deadline = time.monotonic() + 60
        while "Schema Registry API on" not in out.read_text() and proc.poll() is None:
            assert time.monotonic() < deadline, out.read_text()
            time.sleep(0.1)
        url = out.read_text().split("Schema Registry API on ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and running_registry_api(tmp_path) == url
        with urllib.request.urlopen(f"{url}/config", timeout=5) as resp:  # noqa: S310 (loopback)
            assert json.loads(resp.read()) == {"compatibilityLevel": "BACKWARD"}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        stop_process(proc)
    assert running_registry_api(tmp_path) is None and not api_file(tmp_path).exists()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/config", timeout=2)  # noqa: S310
