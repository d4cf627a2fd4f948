from __future__ import annotations

from pathlib import Path

from pipeline.settings import Settings


def test_defaults_run_the_embedded_broker_with_rocksdb() -> None:
    s = Settings.from_env({})
    assert s.embedded and s.bootstrap_servers is None
    assert s.store == "rocksdb://" and s.partitions == 4


def test_environment_points_the_worker_at_kafka_and_a_registry() -> None:
    s = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092", "SCHEMA_REGISTRY_URL": "http://sr:8081",
                           "JOURNEY_PARTITIONS": "8", "JOURNEY_DATA_DIR": "/data", "JOURNEY_TANSU": "yes"})
    assert not s.embedded
    assert (s.bootstrap_servers, s.schema_registry_url, s.partitions) == ("kafka:9092", "http://sr:8081", 8)
    assert s.data_dir == Path("/data") and s.tansu


def test_link_secret_never_appears_in_repr() -> None:
    s = Settings.from_env({"JOURNEY_LINK_SECRET": "hunter2-very-secret"})
    assert s.link_secret == b"hunter2-very-secret"
    assert "hunter2" not in repr(s)
