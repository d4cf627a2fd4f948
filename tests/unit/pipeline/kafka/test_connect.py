"""Finding the broker when nothing says where it is: the embedded one, if its extra is installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.kafka import connect as connect_module
from pipeline.settings import Settings


def test_without_the_embedded_extra_and_no_bootstrap_the_worker_says_what_to_do(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(connect_module, "embedded_available", lambda: False)
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "JOURNEY_TANSU"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JOURNEY_DATA_DIR", str(tmp_path))
    assert main(["worker"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("journey worker: no broker: set KAFKA_BOOTSTRAP_SERVERS, or install payment-journey[embedded] "
                   "to run the embedded broker")


def test_a_set_bootstrap_never_needs_the_embedded_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connect_module, "embedded_available", lambda: False)
    with connect_module.connect(Settings(bootstrap_servers="kafka:9092", data_dir=tmp_path), True) as conn:
        assert conn.bootstrap == "kafka:9092" and not conn.tansu
