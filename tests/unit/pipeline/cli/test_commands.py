"""What `journey tail` prints, with the broker replaced by a hand-written fake stream."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agents.rules.events import DeviceSeen
from pipeline.cli import commands
from pipeline.settings import Settings

Message = tuple[str, int, int, bytes | None, bytes | None, list[tuple[str, bytes]]]


def settings(tmp_path: Path) -> Settings:
    return Settings(bootstrap_servers="fake:9092", data_dir=tmp_path)  # connect() then opens nothing


def fake_consume(messages: list[Message]) -> Any:
    async def consume(bootstrap: str, names: list[str], **_: Any) -> AsyncIterator[Message]:
        for m in messages:
            yield m

    return consume


def device() -> DeviceSeen:
    return DeviceSeen(event_id="e1", customer_id="c1", occurred_at=1_760_000_000_000, device_id="d1",
                      ip="192.0.2.1", ip_country="GB", user_agent="firefox")


async def test_a_parked_message_that_decodes_still_shows_why_it_was_parked(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(tmp_path)
    value = commands.codec_for(s).encode(device())
    headers = [("error.reason", b"step_failed"), ("error.message", b"ValueError in the step")]
    monkeypatch.setattr(commands, "consume", fake_consume([("devices-dlq", 0, 3, b"c1", value, headers)]))
    out = io.StringIO()
    assert await commands.tail(s, "devices-dlq", from_beginning=True, follow=False, limit=0, out=out) == 0
    line = json.loads(out.getvalue())
    assert line["type"] == "DeviceSeen" and line["value"]["device_id"] == "d1"
    assert line["headers"] == {"error.reason": "step_failed", "error.message": "ValueError in the step"}


async def test_an_undecodable_message_shows_its_headers_and_bytes(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    headers = [("error.reason", b"bad_magic")]
    monkeypatch.setattr(commands, "consume", fake_consume([("payments-dlq", 1, 0, b"c9", b"junk-bytes", headers)]))
    out = io.StringIO()
    await commands.tail(settings(tmp_path), "payments-dlq", from_beginning=True, follow=False, limit=0, out=out)
    line = json.loads(out.getvalue())
    assert line["undecodable"] == "bad_magic" and line["headers"] == {"error.reason": "bad_magic"}
    assert line["value_base64"] == "anVuay1ieXRlcw=="


async def test_finding_nothing_new_says_how_to_read_the_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(commands, "consume", fake_consume([]))
    await commands.tail(settings(tmp_path), "decisions", from_beginning=False, follow=False, limit=0,
                        out=io.StringIO())
    assert "journey tail decisions --from-beginning" in capsys.readouterr().err


async def test_a_record_without_headers_has_no_headers_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings(tmp_path)
    value = commands.codec_for(s).encode(device())
    monkeypatch.setattr(commands, "consume", fake_consume([("devices", 0, 0, b"c1", value, [])]))
    out = io.StringIO()
    await commands.tail(s, "devices", from_beginning=False, follow=False, limit=0, out=out)
    assert "headers" not in json.loads(out.getvalue())
