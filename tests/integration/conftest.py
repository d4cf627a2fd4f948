"""Fixtures for tests on a real Kafka-protocol broker: the embedded Tansu, one per test, always stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.kafka.embedded import EmbeddedBroker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A started embedded broker with empty in-memory topics; stopped (SIGTERM, then SIGKILL) after the test."""
    b = EmbeddedBroker(tmp_path / "broker-data")
    try:
        yield b.start()
    finally:
        b.stop()
