"""Every kind of broken message goes to its dead-letter topic with its reason, and the worker keeps deciding (issue 9).

Each case is fed to a real worker on the real broker, between good events; after all of them a good attempt on every
partition is still decided, the worker is still running, each bad message is parked once with its reason and
counted by `journey_dead_letters_total{reason=...}`.
"""

from __future__ import annotations

import asyncio
import hashlib
import struct
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from agents.rules.events import DeviceSeen, PaymentAttempted
from pipeline.wire.codec import Codec
from pipeline.wire.registry import LocalRegistry
from tests.integration.support import collect, journey_env, worker

pytestmark = pytest.mark.integration
T0 = 1_760_000_000_000


def attempt(n: int) -> PaymentAttempted:
    return PaymentAttempted(event_id=f"good-{n}", customer_id=f"cust-{n}", occurred_at=T0 + n, payment_id=f"pay-{n}",
                            order_id=f"ord-{n}", amount_minor=2_500, currency="EUR", method="card",
                            initiator="customer", card_fingerprint=f"card-{n}", customer_country="NL",
                            sca_applies=True, network="visa")


def cases(codec: Codec) -> dict[str, tuple[str, bytes | None]]:
    """reason -> (topic, value) of one message that must be parked for that reason (keyed `bad-<reason>`)."""
    good = codec.encode(attempt(0))
    device = DeviceSeen(event_id="dev-long", customer_id="cust-long", occurred_at=T0, device_id="d" * 200,
                        ip="192.0.2.1", ip_country="NL", user_agent="test")
    return {
        "null_value": ("payments", None),
        "truncated": ("payments", b"\x00\x00"),
        "bad_magic": ("orders", b"not avro at all"),
        "unknown_schema_id": ("refunds", struct.pack(">BI", 0, 2_000_000_000) + good[5:]),
        "body_invalid": ("payments", good[:9]),
        "wrong_topic": ("devices", good),  # a PaymentAttempted on devices
        "value_too_large": ("payments", good[:5] + b"x" * 1_000_000),  # also too large to park whole
        "field_too_long": ("devices", codec.encode(device)),
        "key_mismatch": ("payments", good),  # cust-0's attempt under another key
    }


def invalid(codec: Codec) -> list[tuple[str, bytes, bytes]]:
    """Decodable events with absurd business values, keyed by their own customer: each parked as invalid_value."""
    absurd = [replace(attempt(90), amount_minor=-500), replace(attempt(91), currency="QQQ"),
              replace(attempt(92), occurred_at=253_402_300_799_000), replace(attempt(93), amount_minor=2**62)]
    return [("payments", a.customer_id.encode(), codec.encode(a)) for a in absurd]


async def publish(bootstrap: str, messages: list[tuple[str, bytes, bytes | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        for topic, key, value in messages:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


def test_every_broken_message_is_parked_with_its_reason_and_the_worker_keeps_deciding(broker: Any,
                                                                                       tmp_path: Path) -> None:
    env = journey_env(broker.bootstrap, tmp_path)
    codec = Codec(LocalRegistry(tmp_path / "schema-registry.json"))
    bad = cases(codec)
    before = [("payments", f"cust-{n}".encode(), codec.encode(attempt(n))) for n in range(1, 9)]
    broken = [(topic, f"bad-{reason}".encode(), value) for reason, (topic, value) in bad.items()] + invalid(codec)
    after = [("payments", f"cust-{n}".encode(), codec.encode(replace(attempt(n), event_id=f"after-{n}",
                                                                         payment_id=f"pay-after-{n}")))
             for n in range(1, 9)]
    with worker(env, tmp_path / "worker.log") as proc:
        asyncio.run(publish(broker.bootstrap, [*before, *broken, *after]))
        dlqs = sorted({f"{topic}-dlq" for topic, _ in bad.values()})

        def complete(got: list[Any]) -> bool:
            decided = {r.payment_id for t, r, _ in got if t == "decisions"}
            return len(decided) == 16 and sum(t.endswith("-dlq") for t, _, _ in got) == len(bad) + 4

        got = collect(broker.bootstrap, tmp_path, ["decisions", *dlqs], complete, timeout=90, settle=2)
        assert proc.poll() is None, "the worker must keep running after bad input"
        with urllib.request.urlopen(f"http://127.0.0.1:{env['JOURNEY_WEB_PORT']}/metrics", timeout=5) as resp:
            metrics = resp.read().decode()

    decided = {r.payment_id for t, r, _ in got if t == "decisions"}
    assert decided == {f"pay-{n}" for n in range(1, 9)} | {f"pay-after-{n}" for n in range(1, 9)}
    parked = {dict(h)["error.reason"].decode(): (t, dict(h), v) for t, v, h in got if t.endswith("-dlq")}
    assert sorted(parked) == sorted([*bad, "invalid_value"])
    rules = sorted(dict(h)["error.rule"] for t, _, h in got if dict(h).get(b"error.reason") == b"invalid_value"
                   or dict(h).get("error.reason") == b"invalid_value")
    assert rules == [b"implausible_time", b"negative", b"too_large", b"unknown_currency"]
    assert 'journey_dead_letters_total{reason="invalid_value",topic="payments"} 4.0' in metrics
    assert not decided & {"pay-90", "pay-91", "pay-92", "pay-93"}, "nothing is decided on an absurd value"
    for reason, (topic, _) in bad.items():
        assert parked[reason][0] == f"{topic}-dlq"
        assert f'journey_dead_letters_total{{reason="{reason}",topic="{topic}"}} 1.0' in metrics
    assert parked["field_too_long"][1]["error.field"] == b"device_id"
    _, headers, value = parked["value_too_large"]
    original = bad["value_too_large"][1]
    assert original is not None and headers["error.truncated"] == b"true"
    assert headers["error.original_size"] == str(len(original)).encode()
    assert headers["error.original_sha256"] == hashlib.sha256(original).hexdigest().encode()
    assert isinstance(value, bytes) and original.startswith(value) and len(value) < len(original)
