"""Triage of one consumed message: the input event it decodes to, or exactly what to park on `<topic>-dlq`.

`triage(codec, topic, partition, offset, key, value, headers)` never raises for any key, value or headers, with one
exception: RegistryError (the schema registry is unreachable) propagates, because those bytes will decode once it
is back; the caller waits and retries, holding the partition. Everything else is a Decoded or a DeadLetter.

Reason codes (header `error.reason`, metric label `reason`; short and stable):

    null_value           the value is null (a tombstone); an empty payload is parked. Except on `customers`: a
                         tombstone there, keyed by a customer id, asks to erase that customer (`ErasureRequested`)
    truncated            shorter than the 5-byte Confluent wire header
    bad_magic            the first byte is not the wire format's 0
    unknown_schema_id    the registry has no schema under that id
    unknown_record       the id names a schema that is not one of our records (another producer's, not Avro)
    incompatible_schema  the writer's schema cannot be resolved against ours
    body_invalid         the Avro body does not decode, has trailing bytes or does not build the record
    wrong_topic          a record that is not an input of the customer agent on this topic (TOPIC must match;
                         DueAction is accepted on dunning-due and AccountFlagged on account-flags, their TOPICs)
    value_too_large      the value is over `max_value_bytes`: not decoded at all
    field_too_long       an identifier field is over `max_id_chars` characters; header `error.field` names it
    decoder_error        the decoder raised something unexpected; the message names its type, never its text
    invalid_value        a business value breaks a rule of agents/rules/validation.py; `error.field`, `error.rule`
    key_mismatch         the message key is null or not the event's customer_id: its state would land on another
                         partition's table
    step_failed          decoded, but the pure step or the encoding of its outputs raised (a bug): the event changes
                         no state and sends nothing (`step_failed(...)`, called by the agents)

Headers follow Kafka Connect's `errors.*` convention, so any Kafka tool shows why a message was parked:
`error.reason`, `error.message` (names and sizes only, never payload bytes or personal data, at most 500 bytes),
`error.topic`, `error.partition`, `error.offset`, `error.field` when relevant. The original headers are kept,
except `error.*` ones (a message parked before and replayed): the new ones describe this failure.

Sizes. The dead-letter record must never be the next crash: Kafka refuses records over the producer's
max.request.size (aiokafka 1 048 576 bytes; Faust passes its own producer_max_request_size, 1 000 000) and the
broker's message.max.bytes (1 048 588 since Kafka 2.0). So the parked key + value + original headers stay within
`max_dlq_value_bytes`, and the error headers triage adds are bounded by ERROR_HEADERS_MARGIN. A value that does not
fit is parked as its first bytes, with `error.truncated: true`, `error.original_size` (bytes) and
`error.original_sha256` (hex digest of the whole value) so an operator can match it to the source; an oversized
key likewise (`error.key_truncated`, `error.key_original_size`), and original headers past their share are dropped
(`error.headers_dropped`: how many).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from agents.rules.erasure import ErasureRequested
from agents.rules.events import INPUT_TYPES, AccountFlagged, DueAction
from agents.rules.limits import MAX_ID_CHARS, oversized_field
from agents.rules.validation import problem
from pipeline.errors import DecodeError, RegistryError
from pipeline.topics import dlq_topic

MAX_VALUE_BYTES = 256 * 1024
"""Values over this are not decoded. Our largest real event is a few KiB; a decoded value's strings end up in
the records the step emits and in the customer's state changelog record, which must stay well under the 1 MB
producer and broker limits."""

MAX_DLQ_VALUE_BYTES = 256 * 1024
"""Budget for a parked record's key + value + original headers: a quarter of Faust's 1 000 000-byte
producer_max_request_size, so a dead letter fits whatever the producer batches it with."""

MAX_DLQ_KEY_BYTES = 1024  # a key is a customer id or an identifier: anything longer is garbage
MAX_KEPT_HEADER_BYTES = 16 * 1024  # the original headers kept, names and values together
MAX_MESSAGE_BYTES = 500
ERROR_HEADERS_MARGIN = 2048
"""Bound on the error.* headers triage adds (names included): reason, a 500-byte message, a topic name of at most
249 characters, partition, offset, field, sizes and a 64-character digest come to under 1.5 KiB."""

REASONS = frozenset({
    "null_value", "truncated", "bad_magic", "unknown_schema_id", "unknown_record", "incompatible_schema",
    "body_invalid", "wrong_topic", "value_too_large", "field_too_long", "decoder_error", "invalid_value",
    "key_mismatch",
})
STEP_FAILED = "step_failed"
CUSTOMER_INPUTS: tuple[type[Any], ...] = (*INPUT_TYPES, DueAction, AccountFlagged, ErasureRequested)

Headers = Mapping[str, bytes | None] | Iterable[tuple[str, bytes | None]]
"""Consumed headers: a mapping, or Kafka's list of (name, value) pairs; a value may be null."""


class Decoder(Protocol):
    def decode(self, data: bytes) -> Any: ...


@dataclass(frozen=True, slots=True)
class Decoded:
    event: Any  # one of the types the caller accepts (CUSTOMER_INPUTS by default)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """What to send, as is: `send(dl.topic, dl.key, dl.value, dl.headers)`; `reason` is the metric label."""

    topic: str
    key: bytes
    value: bytes
    headers: dict[str, bytes]
    reason: str

    @property
    def size(self) -> int:
        """Bytes of key, value and headers (names included): what counts against the producer's limit."""
        return len(self.key) + len(self.value) + sum(len(k.encode()) + len(v) for k, v in self.headers.items())


def triage(
    codec: Decoder,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Headers | None = None,
    *,
    max_value_bytes: int = MAX_VALUE_BYTES,
    max_id_chars: int = MAX_ID_CHARS,
    max_dlq_value_bytes: int = MAX_DLQ_VALUE_BYTES,
    accepts: tuple[type[Any], ...] = CUSTOMER_INPUTS,
    timestamp_ms: int | None = None,
) -> Decoded | DeadLetter:
    """The input event one consumed message holds, or the dead letter to park instead. Raises RegistryError only.

    `accepts` are the record types the consuming agent takes (each only on its own TOPIC). `timestamp_ms` is the
    message's timestamp: the time of an erasure, whose tombstone has no value to carry one."""
    try:
        if value is None and topic == ErasureRequested.TOPIC and ErasureRequested in accepts:
            return Decoded(erasure_request(topic, partition, offset, key, timestamp_ms, max_id_chars))
        event = admit(codec, topic, value, max_value_bytes=max_value_bytes, max_id_chars=max_id_chars,
                      accepts=accepts)
        if key is None or key != event.customer_id.encode():
            raise DecodeError("key_mismatch", "the message key is null" if key is None else
                              f"the message key is not the {type(event).__name__}'s customer_id", field="key")
        return Decoded(event)
    except DecodeError as err:
        return dead_letter(err, topic, partition, offset, key, value, headers,
                           max_dlq_value_bytes=max_dlq_value_bytes)


def erasure_request(topic: str, partition: int, offset: int, key: bytes | None, timestamp_ms: int | None,
                    max_id_chars: int = MAX_ID_CHARS) -> ErasureRequested:
    """The erasure a tombstone on `customers` asks for, or DecodeError when its key names no customer."""
    try:
        customer_id = (key or b"").decode()
    except UnicodeDecodeError:
        customer_id = ""
    if not customer_id:
        why = "null" if key is None else "empty" if not key else "not UTF-8"
        raise DecodeError("key_mismatch", f"a tombstone (erasure) needs a customer id as its key; the key is {why}",
                          field="key")
    if len(customer_id) > max_id_chars:
        raise DecodeError("field_too_long", f"the tombstone's key has {len(customer_id)} characters, over the "
                                            f"{max_id_chars}-character limit", field="key")
    return ErasureRequested(event_id=f"erasure:{topic}:{partition}:{offset}", customer_id=customer_id,
                            occurred_at=max(0, timestamp_ms or 0))


def admit(codec: Decoder, topic: str, value: bytes | None, *, max_value_bytes: int = MAX_VALUE_BYTES,
          max_id_chars: int = MAX_ID_CHARS, accepts: tuple[type[Any], ...] = CUSTOMER_INPUTS) -> Any:
    """Decode and check one value: the event, or DecodeError with one of REASONS (RegistryError passes through)."""
    if value is None:
        raise DecodeError("null_value", "the value is null")
    if len(value) > max_value_bytes:
        raise DecodeError("value_too_large", f"{len(value)} bytes is over the {max_value_bytes}-byte limit")
    try:
        event = codec.decode(value)
    except DecodeError as err:
        if err.reason in REASONS:
            raise
        raise DecodeError("decoder_error", f"the decoder gave an unknown reason code {err.reason[:40]!r}") from None
    except RegistryError:
        raise
    except Exception as err:  # a decoder bug must park one message, not stop the partition; its text may hold data
        raise DecodeError("decoder_error", f"the decoder raised {type(err).__name__}") from None
    if not isinstance(event, accepts) or getattr(event, "TOPIC", None) != topic:
        raise DecodeError("wrong_topic", f"{type(event).__name__} does not belong on topic {topic}")
    name = oversized_field(event, max_id_chars)
    if name is not None:
        size = len(getattr(event, name))
        raise DecodeError("field_too_long", f"{type(event).__name__}.{name} has {size} characters, over the "
                                            f"{max_id_chars}-character limit", field=name)
    found = problem(event)
    if found is not None:
        raise DecodeError("invalid_value", f"{type(event).__name__}.{found[0]} breaks the rule {found[1]}",
                          field=found[0], rule=found[1])
    return event


def dead_letter(
    err: DecodeError,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: Headers | None = None,
    *,
    max_dlq_value_bytes: int = MAX_DLQ_VALUE_BYTES,
) -> DeadLetter:
    """The record that parks `value` on `<topic>-dlq`, within `max_dlq_value_bytes` + ERROR_HEADERS_MARGIN."""
    errors = dead_letter_headers(err, topic, partition, offset)
    share = max_dlq_value_bytes // 8  # the key and the original headers each get at most an eighth of the budget
    kept, dropped = _kept_headers(headers, min(MAX_KEPT_HEADER_BYTES, share))
    if dropped:
        errors["error.headers_dropped"] = str(dropped).encode()
    key_bytes = key or b""
    key_budget = min(MAX_DLQ_KEY_BYTES, share)
    if len(key_bytes) > key_budget:
        errors["error.key_truncated"] = b"true"
        errors["error.key_original_size"] = str(len(key_bytes)).encode()
        key_bytes = key_bytes[:key_budget]
    payload = value or b""
    budget = max_dlq_value_bytes - len(key_bytes) - sum(len(k.encode()) + len(v) for k, v in kept.items())
    if len(payload) > budget:
        errors["error.truncated"] = b"true"
        errors["error.original_size"] = str(len(payload)).encode()
        errors["error.original_sha256"] = hashlib.sha256(payload).hexdigest().encode()
        payload = payload[:budget]
    return DeadLetter(dlq_topic(topic), key_bytes, payload, {**kept, **errors}, err.reason)


def dead_letter_headers(err: DecodeError, topic: str, partition: int, offset: int) -> dict[str, bytes]:
    """Kafka Connect-style error headers, so any Kafka tool shows why a message was parked."""
    found = {
        "error.reason": err.reason.encode(),
        "error.message": _clip(str(err), MAX_MESSAGE_BYTES),
        "error.topic": topic.encode(),
        "error.partition": str(partition).encode(),
        "error.offset": str(offset).encode(),
    }
    if err.field:
        found["error.field"] = _clip(err.field, 100)
    if err.rule:
        found["error.rule"] = _clip(err.rule, 100)
    return found


def _clip(text: str, limit: int) -> bytes:
    """At most `limit` UTF-8 bytes, never ending in half a character."""
    return text.encode()[:limit].decode("utf-8", "ignore").encode()


def _kept_headers(headers: Headers | None, budget: int) -> tuple[dict[str, bytes], int]:
    """The original headers that fit in `budget` bytes, in order, and how many did not (a repeated name keeps its
    first value: a mapping has room for one)."""
    if not headers:
        return {}, 0
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    kept: dict[str, bytes] = {}
    used = dropped = 0
    for name, raw in pairs:
        data = raw or b""
        size = len(name.encode()) + len(data)
        if name.startswith("error."):
            continue
        if name in kept or used + size > budget:
            dropped += 1
            continue
        kept[name] = data
        used += size
    return kept, dropped


def step_failed(err: BaseException, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None,
                headers: Headers | None = None, *, max_dlq_value_bytes: int = MAX_DLQ_VALUE_BYTES) -> DeadLetter:
    """Park an event whose step raised: the exception's type is named, never its text (it may hold data)."""
    cause = DecodeError(STEP_FAILED, f"the step raised {type(err).__name__}")
    return dead_letter(cause, topic, partition, offset, key, value, headers, max_dlq_value_bytes=max_dlq_value_bytes)
