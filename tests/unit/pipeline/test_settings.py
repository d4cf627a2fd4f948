from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from pipeline.errors import SettingsError
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


def test_the_pseudonym_secret_is_read_kept_out_of_repr_and_its_dev_value_known() -> None:
    s = Settings.from_env({"JOURNEY_PSEUDONYM_SECRET": "pepper-very-secret"})
    assert s.pseudonym_secret == b"pepper-very-secret" and not s.dev_pseudonym_secret
    assert "pepper" not in repr(s) and Settings().dev_pseudonym_secret


def test_malformed_or_unsafe_kafka_security_settings_are_refused_with_the_variable_named() -> None:
    for env, named in [({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL"),
                       ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u"}, "KAFKA_SASL_PASSWORD"),
                       ({"KAFKA_SASL_MECHANISM": "GSSAPI"}, "KAFKA_SASL_MECHANISM"),
                       ({"JOURNEY_REPLICATION_FACTOR": "0"}, "JOURNEY_REPLICATION_FACTOR")]:
        with pytest.raises(SettingsError, match=named):
            Settings.from_env(env)
    with pytest.raises(SettingsError, match="JOURNEY_PARTITIONS must be an integer, not 'many'"):
        Settings.from_env({"JOURNEY_PARTITIONS": "many"})
    with pytest.raises(SettingsError, match="JOURNEY_SESSION_TIMEOUT must be a number"):
        Settings.from_env({"JOURNEY_SESSION_TIMEOUT": "soon"})


def test_secrets_of_the_web_api_and_of_sasl_never_appear_in_repr() -> None:
    s = Settings.from_env({"JOURNEY_API_TOKEN": "tok-very-secret", "KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
                           "KAFKA_SASL_USERNAME": "svc", "KAFKA_SASL_PASSWORD": "pw-very-secret"})
    assert (s.api_token, s.sasl_password, s.security_protocol) == ("tok-very-secret", "pw-very-secret", "SASL_SSL")
    assert "very-secret" not in repr(s)


def test_the_web_server_listens_on_loopback_unless_told_otherwise() -> None:
    assert Settings.from_env({}).web_bind == "127.0.0.1"
    assert Settings.from_env({"JOURNEY_WEB_BIND": "0.0.0.0"}).web_bind == "0.0.0.0"  # noqa: S104


def test_only_a_broker_that_is_neither_embedded_nor_tansu_counts_as_production() -> None:
    assert not Settings.from_env({}).production_broker
    assert not Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "h:1", "JOURNEY_TANSU": "1"}).production_broker
    real = Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "kafka:9092"})
    assert real.production_broker and real.dev_link_secret
    assert not Settings.from_env({"KAFKA_BOOTSTRAP_SERVERS": "k:1", "JOURNEY_LINK_SECRET": "x"}).dev_link_secret


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
        sample = {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256"}.get(var, sample)
        assert getattr(Settings.from_env({var: sample}), f.name) != default, var


def test_the_readme_names_every_environment_variable() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    assert [var for var, _ in ENV_VARS.values() if f"`{var}`" not in readme] == []
