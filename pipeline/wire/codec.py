"""The wire codec: records <-> Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro body).

Every schema in the schemas directory (Settings.schemas_dir, JOURNEY_SCHEMAS; the repository's schemas/ by
default) is parsed and registered once, when the codec is built; encode and decode then do no schema work.
fastavro reads and writes with `timestamp-millis` stripped to plain `long`: the bytes are the same and timestamps
stay epoch-millisecond ints, as the rules use them: no datetime objects on the hot path.

Bytes written under a schema id we did not register ourselves (another producer, an older or newer version of
this project) are read with the writer's schema from the registry, resolved against ours: schemas can evolve.
Bytes that can never decode raise DecodeError with a reason code; a registry that cannot be reached raises
RegistryError instead, because those bytes will decode once it is back and must not be dead-lettered.

Two choices for where the registry may be called (the worker takes both non-default ones):
- `register=False` looks our schemas' ids up (JOURNEY_REGISTER_SCHEMAS=0) instead of registering them, for a registry
  that refuses registrations; each must already be registered under its subject.
- `inline_lookups=False`: decode never calls the registry, a blocking call, itself. An unseen id raises
  SchemaLookupNeeded; the caller runs `resolve(id)` in a thread and decodes again, so the event loop never waits on
  HTTP (agents/customer_events.py `wait_for_registry`).
"""

from __future__ import annotations

import io
import json
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import fastavro
from fastavro.read import SchemaResolutionError
from fastavro.schema import to_parsing_canonical_form
from fastavro.validation import ValidationError, validate

from agents.rules.events import RECORD_TYPES
from agents.rules.records import decoder
from pipeline.errors import DecodeError, EncodeError, JourneyError, SchemaLookupNeeded, SchemaNotFound
from pipeline.settings import SCHEMAS_DIR
from pipeline.wire.registry import LookupRegistry, SchemaRegistry, subject_for

MAGIC = 0
_HEADER = struct.Struct(">BI")
REFUSAL_RETRY_S = 30.0  # how long an id the registry did not give us a readable schema for stays refused
_REFUSALS_KEPT = 1024  # bounds the memory a flood of garbage ids can take


def physical(schema: Any) -> Any:
    """The schema without `timestamp-millis`: the same binary encoding, read and written as plain ints."""
    if isinstance(schema, dict):
        if schema.get("logicalType") == "timestamp-millis":
            return {k: physical(v) for k, v in schema.items() if k != "logicalType"}
        return {k: physical(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [physical(x) for x in schema]
    return schema


def fullname(schema: dict[str, Any]) -> str:
    name = str(schema["name"])
    return name if "." in name or not schema.get("namespace") else f"{schema['namespace']}.{name}"


def load_schemas(schemas_dir: Path = SCHEMAS_DIR) -> dict[str, dict[str, Any]]:
    """Every .avsc by record name."""
    found = {}
    for path in sorted(schemas_dir.glob("*.avsc")):
        schema = json.loads(path.read_text())
        found[schema["name"]] = schema
    return found


@dataclass(frozen=True, slots=True)
class _Writer:
    """How to read the bytes written under one schema id."""

    name: str
    schema: Any  # the writer's schema, parsed
    reader: Any  # our schema, parsed, when it differs from the writer's; None reads with the writer's alone
    build: Callable[[Any], Any]  # the events.py dataclass's compiled from_record


class Codec:
    def __init__(self, registry: SchemaRegistry, schemas_dir: Path = SCHEMAS_DIR, *, register: bool = True,
                 inline_lookups: bool = True) -> None:
        self.registry = registry
        self.inline_lookups = inline_lookups
        self.schemas_dir = schemas_dir
        self.schemas = load_schemas(schemas_dir)
        stale = sorted(set(self.schemas) - set(RECORD_TYPES))
        if stale:
            raise JourneyError(f"no event type for {', '.join(stale)}: run tools/gen_events.py")
        self._parsed: dict[str, Any] = {}
        self._canonical: dict[str, str] = {}
        self._ids: dict[str, int] = {}
        self._headers: dict[str, bytes] = {}
        self._writers: dict[int, _Writer] = {}
        self._refused: dict[int, tuple[float, str, str]] = {}  # id -> (when to ask again, reason, message)
        for name, schema in self.schemas.items():
            plain = physical(schema)
            self._parsed[name] = fastavro.parse_schema(plain)
            self._canonical[name] = to_parsing_canonical_form(plain)
            subject, text = subject_for(schema["topic"], fullname(schema)), json.dumps(schema)
            sid = registry.register(subject, text) if register else _registered_id(registry, subject, text)
            self._ids[name] = sid
            self._headers[name] = _HEADER.pack(MAGIC, sid)
            self._writers[sid] = _Writer(name, self._parsed[name], None, decoder(RECORD_TYPES[name]))

    def schema_id(self, name: str) -> int:
        """The registry id our schema for record `name` has."""
        return self._ids[name]

    def encode(self, record: Any) -> bytes:
        """Any events.py record -> wire bytes."""
        name = getattr(type(record), "SCHEMA", None)
        if name not in self._headers:
            raise EncodeError(f"{type(record).__name__} is not a top-level record of schemas/")
        value = record.to_record()
        buf = io.BytesIO()
        buf.write(self._headers[name])
        try:
            fastavro.schemaless_writer(buf, self._parsed[name], value)
        except Exception:  # whatever fastavro raises, the record does not fit: say which field
            raise EncodeError(f"{name} does not fit its schema: {self._misfit(name, value)}") from None
        return buf.getvalue()

    def decode(self, data: bytes) -> Any:
        """Wire bytes -> the events.py record. DecodeError when they never will decode."""
        sid = _schema_id(data)
        w = self._writers.get(sid)
        if w is None:
            if not self.inline_lookups and not self._refused_now(sid):
                raise SchemaLookupNeeded(sid)
            w = self._resolve(sid)
        buf = io.BytesIO(data)
        buf.seek(_HEADER.size)
        try:
            value = fastavro.schemaless_reader(buf, w.schema, w.reader)
        except SchemaResolutionError:
            raise DecodeError("incompatible_schema", f"schema id {sid} cannot be read as {w.name}") from None
        except Exception as err:  # garbage makes fastavro raise EOF, Unicode, Index... errors
            raise DecodeError("body_invalid", f"{w.name} body is not valid ({type(err).__name__})") from None
        if buf.tell() != len(data):
            raise DecodeError("body_invalid", f"{w.name} body has {len(data) - buf.tell()} trailing bytes")
        try:
            return w.build(value)
        except (KeyError, TypeError, ValueError) as err:
            raise DecodeError("body_invalid", f"{w.name} does not build: {type(err).__name__}") from None

    def resolve(self, sid: int) -> None:
        """Ask the registry about a schema id decode has not seen (blocking: run it in a thread). The answer is
        remembered, a refusal too: DecodeError then, and decode raises it for that id from then on."""
        if sid not in self._writers:
            self._resolve(sid)

    def _refused_now(self, sid: int) -> bool:
        refused = self._refused.get(sid)
        return refused is not None and refused[0] > time.monotonic()

    def _resolve(self, sid: int) -> _Writer:
        """A schema id we did not register: ask the registry once; remember the answer, also a refusal."""
        refused = self._refused.get(sid)
        if refused is not None and refused[0] > time.monotonic():
            raise DecodeError(refused[1], refused[2])
        try:
            text = self.registry.get_schema(sid)
        except SchemaNotFound:
            self._refuse(sid, "unknown_schema_id", f"schema id {sid} is not in the schema registry")
        try:
            writer = physical(json.loads(text))
            parsed = fastavro.parse_schema(writer)
            canonical = to_parsing_canonical_form(writer)
            name = fullname(writer)
        except Exception as err:  # not JSON, not Avro (a Protobuf id?), not a record: nothing we can read
            self._refuse(sid, "unknown_record",
                         f"schema id {sid} is not an Avro record schema ({type(err).__name__})")
        short = name.rpartition(".")[2]
        if short not in self.schemas or fullname(self.schemas[short]) != name:
            self._refuse(sid, "unknown_record", f"schema id {sid} is a record this version does not know")
        found = _Writer(short, parsed, None if canonical == self._canonical[short] else self._parsed[short],
                        decoder(RECORD_TYPES[short]))
        self._writers[sid] = found
        return found

    def _refuse(self, sid: int, reason: str, message: str) -> NoReturn:
        if len(self._refused) >= _REFUSALS_KEPT:
            self._refused.clear()
        self._refused[sid] = (time.monotonic() + REFUSAL_RETRY_S, reason, message)
        raise DecodeError(reason, message)

    def _misfit(self, name: str, value: dict[str, Any]) -> str:
        """Which field does not fit: names only, never the value (it may be personal data)."""
        try:
            validate(value, self._parsed[name], raise_errors=True)
        except ValidationError as err:
            return ", ".join(sorted({e.field for e in err.errors if getattr(e, "field", None)})) or "a field"
        except Exception:  # validation itself choked: still say nothing about the value
            return "a field"
        return "a value out of range"


def _registered_id(registry: SchemaRegistry, subject: str, schema: str) -> int:
    """The id our schema already has under `subject` (JOURNEY_REGISTER_SCHEMAS=0); JourneyError when it has none."""
    if not isinstance(registry, LookupRegistry):
        raise JourneyError(f"{type(registry).__name__} cannot look schema ids up: set JOURNEY_REGISTER_SCHEMAS=1")
    try:
        return registry.lookup_id(subject, schema)
    except SchemaNotFound:
        raise JourneyError(f"the schema registry has no id for our schema under subject {subject}: register it "
                           "(schemas/ holds it), or set JOURNEY_REGISTER_SCHEMAS=1 where registration is allowed") \
            from None


def _schema_id(data: bytes) -> int:
    if len(data) < _HEADER.size:
        raise DecodeError("truncated", f"{len(data)} bytes is shorter than the 5-byte wire header")
    magic, sid = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise DecodeError("bad_magic", f"magic byte {magic} is not the Confluent wire format's 0")
    return int(sid)
