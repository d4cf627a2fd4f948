from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from pipeline.settings import ENV_VARS, Settings


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


def test_every_setting_has_one_environment_variable_with_a_meaning() -> None:
    assert list(ENV_VARS) == [f.name for f in fields(Settings)]
    names = [var for var, _ in ENV_VARS.values()]
    assert len(set(names)) == len(names)
    assert all(meaning.strip() for _, meaning in ENV_VARS.values())


def test_every_environment_variable_is_read_by_from_env() -> None:
    samples = {int: "7", float: "7", bool: "1", Path: "/x", str: "x", bytes: "x"}
    for f in fields(Settings):
        kind = next(t for t in samples if t.__name__ in str(f.type))
        var, default = ENV_VARS[f.name][0], getattr(Settings(), f.name)
        sample = ("0" if default else "1") if kind is bool else samples[kind]
        assert getattr(Settings.from_env({var: sample}), f.name) != default, var


def test_the_readme_names_every_environment_variable() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    assert [var for var, _ in ENV_VARS.values() if f"`{var}`" not in readme] == []
