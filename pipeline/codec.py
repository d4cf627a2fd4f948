"""The wire codec: records <-> Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro binary body).

Schemas are read from schemas/ and parsed once; ids come from the registry (registered on first use of the codec).
fastavro reads and writes with `timestamp-millis` stripped to plain `long`: the bytes are identical and timestamps
stay epoch-millisecond ints, as the rules use them, with no datetime objects on the hot path.
"""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from typing import Any

import fastavro

from agents.rules.events import RECORD_TYPES
from pipeline.errors import DecodeError, EncodeError, JourneyError
from pipeline.registry import SchemaRegistry, subject_for

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"
MAGIC = 0
_HEADER = struct.Struct(">bI")


def physical(schema: Any) -> Any:
    """The schema with logical types removed (same binary encoding)."""
    if isinstance(schema, dict):
        return {k: physical(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [physical(x) for x in schema]
    return schema


def load_schemas(schemas_dir: Path = SCHEMAS_DIR) -> dict[str, dict[str, Any]]:
    """Every .avsc by record name."""
    found = {}
    for path in sorted(schemas_dir.glob("*.avsc")):
        schema = json.loads(path.read_text())
        found[schema["name"]] = schema
    return found


class Codec:
    def __init__(self, registry: SchemaRegistry, schemas_dir: Path = SCHEMAS_DIR) -> None:
        self.registry = registry
        self.schemas = load_schemas(schemas_dir)
        self._parsed = {name: fastavro.parse_schema(physical(s)) for name, s in self.schemas.items()}
        self._ids: dict[str, int] = {}
        self._writers: dict[int, tuple[str, Any, Any]] = {}  # id -> (name, writer schema, reader schema or None)

    def schema_id(self, name: str) -> int:
        sid = self._ids.get(name)
        if sid is None:
            schema = self.schemas[name]
            sid = self.registry.register(subject_for(schema["topic"], f"{schema['namespace']}.{name}"),
                                         json.dumps(schema))
            self._ids[name] = sid
            self._writers[sid] = (name, self._parsed[name], None)
        return sid

    def encode(self, record: Any) -> bytes:
        name = type(record).SCHEMA
        buf = io.BytesIO()
        buf.write(_HEADER.pack(MAGIC, self.schema_id(name)))
        try:
            fastavro.schemaless_writer(buf, self._parsed[name], record.to_record())
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as err:
            raise EncodeError(f"{name} does not fit its schema: {type(err).__name__}") from None
        return buf.getvalue()

    def decode_header(self, data: bytes) -> tuple[int, str]:
        if len(data) < _HEADER.size:
            raise DecodeError("truncated", f"{len(data)} bytes is shorter than the 5-byte wire header")
        magic, sid = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise DecodeError("bad_magic", f"magic byte {magic} is not the Confluent wire format's 0")
        return sid, self._writer(sid)[0]

    def _writer(self, sid: int) -> tuple[str, Any, Any]:
        found = self._writers.get(sid)
        if found is None:
            try:
                text = self.registry.get_schema(sid)
                writer = json.loads(text)
                name = writer["name"]
                parsed = fastavro.parse_schema(physical(writer))
            except (JourneyError, ValueError, KeyError, TypeError) as err:
                raise DecodeError("unknown_schema_id", f"schema id {sid} cannot be resolved: {err}") from None
            if name not in self._parsed:
                raise DecodeError("unknown_record", f"schema id {sid} is record {name}, unknown to this version")
            same = json.dumps(physical(writer), sort_keys=True) == json.dumps(physical(self.schemas[name]),
                                                                               sort_keys=True)
            found = (name, parsed, None if same else self._parsed[name])
            self._writers[sid] = found
        return found

    def decode(self, data: bytes) -> Any:
        sid, name = self.decode_header(data)
        _, writer, reader = self._writers[sid]
        buf = io.BytesIO(data)
        buf.seek(_HEADER.size)
        try:
            value = fastavro.schemaless_reader(buf, writer, reader)
        except (EOFError, StopIteration, ValueError, IndexError, UnicodeDecodeError, TypeError, KeyError) as err:
            raise DecodeError("body_invalid", f"{name} body does not decode: {type(err).__name__}") from None
        if buf.tell() != len(data):
            raise DecodeError("body_invalid", f"{name} body has {len(data) - buf.tell()} trailing bytes")
        try:
            return RECORD_TYPES[name].from_record(value)
        except (KeyError, TypeError) as err:
            raise DecodeError("body_invalid", f"{name} is missing a field: {err}") from None
