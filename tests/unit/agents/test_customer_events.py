"""The customer agent's body without Kafka: plain dicts for tables, a recording send, the real codec and rules."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from agents.customer_events import CustomerEvents
from agents.rules.events import DeviceSeen, PaymentAttempted
from agents.runtime import Runtime
from pipeline.errors import RegistryError
from pipeline.metrics import Metrics
from pipeline.settings import Settings
from pipeline.wire.codec import Codec
from pipeline.wire.registry import LocalRegistry


class Sent:
    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes, Mapping[str, bytes] | None]] = []

    async def __call__(self, topic: str, key: bytes, value: bytes, headers: Mapping[str, bytes] | None) -> None:
        self.records.append((topic, key, value, headers))

    def topics(self) -> list[str]:
        return [t for t, *_ in self.records]


class FlakyRegistry:
    """Our registry, unreachable for the first `failures` look-ups of unknown ids."""

    def __init__(self, inner: LocalRegistry, writer: LocalRegistry, failures: int) -> None:
        self.inner, self.writer, self.failures = inner, writer, failures

    def register(self, subject: str, schema: str) -> int:
        return self.inner.register(subject, schema)

    def get_schema(self, schema_id: int) -> str:
        if self.failures:
            self.failures -= 1
            raise RegistryError("registry unreachable (test)")
        return self.writer.get_schema(schema_id)


def runtime(tmp_path: Path, registry: Any = None) -> Runtime:
    settings = Settings.from_env({"JOURNEY_DATA_DIR": str(tmp_path)})
    rt = Runtime.from_settings(settings, Metrics())
    if registry is not None:
        rt = Runtime(settings=settings, codec=Codec(registry), policy=rt.policy, metrics=rt.metrics)
    return rt


def attempt() -> PaymentAttempted:
    return PaymentAttempted(event_id="a1", customer_id="c1", occurred_at=1_760_000_000_000, payment_id="p1",
                            order_id="o1", amount_minor=5_000, currency="EUR", method="card", initiator="customer",
                            card_fingerprint="card-1", customer_country="NL", sca_applies=True, network="visa")


async def test_an_attempt_yields_one_decision_and_is_stored_and_a_repeat_changes_nothing(tmp_path: Path) -> None:
    rt, sent, customers = runtime(tmp_path), Sent(), {}
    agent = CustomerEvents(rt, customers, {}, {}, sent)
    data = rt.codec.encode(attempt())
    await agent.process("payments", 0, 0, b"c1", data)
    assert sent.topics().count("decisions") == 1 and "identity-links" in sent.topics()
    stored = customers["c1"]
    await agent.process("payments", 0, 1, b"c1", data)
    assert sent.topics().count("decisions") == 1 and customers["c1"] == stored


async def test_undecodable_bytes_and_records_on_the_wrong_topic_go_to_the_dead_letter_topic(tmp_path: Path) -> None:
    rt, sent = runtime(tmp_path), Sent()
    agent = CustomerEvents(rt, {}, {}, {}, sent)
    await agent.process("payments", 2, 41, b"k", b"garbage!")
    device = DeviceSeen(event_id="d", customer_id="c1", occurred_at=1, device_id="x", ip="192.0.2.1",
                        ip_country="NL", user_agent="u")
    await agent.process("payments", 2, 42, b"k", rt.codec.encode(device))
    assert sent.topics() == ["payments-dlq", "payments-dlq"]
    headers = [dict(h or {}) for *_, h in sent.records]
    assert headers[0]["error.reason"] == b"bad_magic" and headers[0]["error.offset"] == b"41"
    assert headers[1]["error.reason"] == b"wrong_topic"
    assert sent.records[0][2] == b"garbage!", "the original bytes are kept"


async def test_an_unreachable_registry_is_waited_for_not_dead_lettered(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    writer = LocalRegistry(tmp_path / "writer.json")
    for n in range(50):  # the writer's ids lie beyond the reader's own: the reader must look them up
        writer.register(f"other-{n}", f'{{"type": "fixed", "name": "f{n}", "size": 1}}')
    data = Codec(writer).encode(attempt())
    rt, sent = runtime(tmp_path, FlakyRegistry(LocalRegistry(tmp_path / "reader.json"), writer, failures=2)), Sent()
    waits: list[float] = []

    async def no_sleep(delay: float) -> None:
        waits.append(delay)

    monkeypatch.setattr("agents.customer_events.asyncio.sleep", no_sleep)
    await CustomerEvents(rt, {}, {}, {}, sent).process("payments", 0, 0, b"c1", data)
    assert waits == [0.5, 1.0]
    assert "decisions" in sent.topics() and not any(t.endswith("-dlq") for t in sent.topics())
