"""(temporary) minimal triage until the full dead-letter module lands."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents.rules.events import INPUT_TYPES, DueAction, IdentityLinked
from pipeline.errors import DecodeError
from pipeline.topics import dlq_topic


@dataclass(frozen=True, slots=True)
class DeadLetter:
    source_topic: str
    reason: str
    key: bytes
    value: bytes
    headers: dict[str, bytes] = field(default_factory=dict)

    @property
    def topic(self) -> str:
        return dlq_topic(self.source_topic)


def _dl(topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None, reason: str,
        message: str) -> DeadLetter:
    return DeadLetter(topic, reason, key or b"", value or b"", {
        "error.reason": reason.encode(), "error.message": message.encode()[:500], "error.topic": topic.encode(),
        "error.partition": str(partition).encode(), "error.offset": str(offset).encode()})


def triage(codec: Any, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None,
           headers: Any = None, *, max_value_bytes: int = 256 * 1024, max_id_chars: int = 128) -> Any:
    if value is None:
        return _dl(topic, partition, offset, key, value, "null_value", "null value")
    try:
        event = codec.decode(value)
    except DecodeError as err:
        return _dl(topic, partition, offset, key, value, err.reason, str(err))
    if not isinstance(event, (*INPUT_TYPES, DueAction, IdentityLinked)) or getattr(event, "TOPIC", None) != topic:
        return _dl(topic, partition, offset, key, value, "wrong_topic", f"{type(event).__name__} not on {topic}")
    return event


def step_failed(topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None, headers: Any,
                err: BaseException) -> DeadLetter:
    return _dl(topic, partition, offset, key, value, "step_failed", type(err).__name__)
