"""examples/ run as a user would run them, against the embedded broker and the local registry's Schema Registry API."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agents.rules.events import Notification
from pipeline.kafka.clients import Outgoing, produce
from pipeline.wire.codec import Codec
from pipeline.wire.headers import cloudevent_headers
from pipeline.wire.registry import local_registry
from pipeline.wire.registry_api import serve_local_registry
from tests.integration.support import collect

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def run(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_the_checkout_publisher_writes_a_payment_attempt_the_worker_codec_reads(broker: Any, tmp_path: Path) -> None:
    with serve_local_registry(tmp_path) as api:
        done = run("checkout_publisher.py", "--bootstrap", broker.bootstrap, "--registry", api.url,
                   "--customer", "cust-ex", "--payment", "pay-ex-1", "--amount", "1999")
    assert done.returncode == 0, done.stderr
    assert '"payment_id": "pay-ex-1"' in done.stdout
    got = collect(broker.bootstrap, tmp_path, ["payments"], lambda got: len(got) >= 1, timeout=30)
    [(_, attempt, _)] = got
    assert (attempt.payment_id, attempt.customer_id, attempt.amount_minor) == ("pay-ex-1", "cust-ex", 1999)


def note(n: int) -> Notification:
    return Notification(event_id=f"note-{n}", customer_id=f"cust-{n}", occurred_at=1_760_000_000_000,
                        send_at=1_760_000_060_000, channel="email", fallback_channels=("sms",),
                        template="payment_failed_reminder", locale="nl-NL", link=None, link_expires_at=None)


def test_the_notifier_sends_each_notification_once_even_when_it_is_delivered_twice(broker: Any,
                                                                                 tmp_path: Path) -> None:
    codec = Codec(local_registry(tmp_path))
    notes = [note(n) for n in range(3)]
    with_headers = [Outgoing("notifications", r.customer_id.encode(), codec.encode(r),
                             dict(cloudevent_headers(r, "payment-journey/test"))) for r in notes]
    without = Outgoing("notifications", b"cust-2", codec.encode(notes[2]))  # no ce_id: the value's event_id
    asyncio.run(produce(broker.bootstrap, [*with_headers, with_headers[0], without]))
    with serve_local_registry(tmp_path) as api:
        done = run("notifier.py", "--bootstrap", broker.bootstrap, "--registry", api.url, "--idle-exit", "10")
    assert done.returncode == 0, done.stderr
    sent = [line for line in done.stdout.splitlines() if line.startswith("would send")]
    assert len(sent) == 3 and all("template payment_failed_reminder" in line for line in sent)
    assert sorted(line.split()[1] for line in done.stdout.splitlines() if line.startswith("duplicate")) \
        == ["note-0:", "note-2:"]


def test_read_topic_prints_every_record_of_a_topic_through_the_standard_deserializer(broker: Any,
                                                                                     tmp_path: Path) -> None:
    codec = Codec(local_registry(tmp_path))
    notes = [note(n) for n in range(4)]
    asyncio.run(produce(broker.bootstrap, [Outgoing("notifications", r.customer_id.encode(), codec.encode(r))
                                           for r in notes]))
    with serve_local_registry(tmp_path) as api:
        done = run("read_topic.py", "notifications", "--bootstrap", broker.bootstrap, "--registry", api.url,
                   "--idle-exit", "3")
    assert done.returncode == 0, done.stderr
    import json

    lines = [json.loads(x) for x in done.stdout.splitlines()]
    assert sorted(x["value"]["event_id"] for x in lines) == [f"note-{n}" for n in range(4)]
    assert all(x["value"]["template"] == "payment_failed_reminder" for x in lines)
