"""Faust table values and their changelogs: the rules' state dataclasses in Avro, tagged with their schema.

A value is Avro's single-object encoding: the marker C3 01, the writer schema's 8-byte CRC-64-AVRO fingerprint, then
the Avro body (pipeline.wire.state_schema derives the schema from the class's type hints). A value written under
another fingerprint is read with that schema from the committed history (schemas/state/), resolved against the
current one, so fields added since are filled from their defaults. Anything that cannot be read that way raises
StateSchemaError and is never guessed: an unknown fingerprint, a change old values cannot resolve to, garbage.
Values written by earlier versions as JSON (starting with `{`) still load; only the Avro form is written.

Identity nodes written before identifiers were pseudonymised (PRE_PSEUDONYM) are keyed and filled with raw
identifiers and cannot be re-keyed (the key is the raw value): loading one raises StateSchemaError, and the index's
changelog recovery skips them (agents/topology.py). Customer states of that time load and are re-keyed by the step
(agents.rules.journey.rekey).

Conversion to and from the dicts fastavro takes is agents.rules.records' compiled converters; schemas are parsed
once per class. Values carry no type tags and no code: a changelog record can never execute anything on load.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
from fastavro.read import SchemaResolutionError
from fastavro.validation import ValidationError, validate

from agents.rules.identity import IdentityNode
from agents.rules.records import Convert, decoder, encoder
from pipeline.errors import EncodeError, StateSchemaError
from pipeline.wire.state_schema import HISTORY_DIR, fingerprint, history, incompatibilities, schema_for
from pipeline.wire.state_writer import MEMO, Write, compile_writer

MARKER = b"\xc3\x01"  # Avro single-object encoding, format version 1
HEADER_SIZE = len(MARKER) + 8
PRE_PSEUDONYM: dict[type, frozenset[bytes]] = {IdentityNode: frozenset({bytes.fromhex("5c6955a0571f18a1")})}
"""Schemas (and the JSON form) of values that hold raw identifiers and cannot be re-keyed."""


def pre_pseudonym(cls: type, data: bytes) -> bool:
    """Was this value of `cls` written before identifiers were pseudonymised, with raw ones it cannot shed?"""
    retired = PRE_PSEUDONYM.get(cls)
    if not retired:
        return False
    return data[:1] == b"{" or (data[:2] == MARKER and data[2:HEADER_SIZE] in retired)


@dataclass(frozen=True, slots=True)
class _Current:
    """How values of one class are written now."""

    fingerprint: bytes
    header: bytes
    schema: Any  # parsed
    to_plain: Convert
    build: Convert
    write: Write | None  # pipeline.wire.state_writer's compiled body writer; None: fastavro writes it


class StateCodec:
    """dumps/loads for every state class, with the schema history read from `history_dir`."""

    def __init__(self, history_dir: Path = HISTORY_DIR) -> None:
        self.history_dir = history_dir
        self._current: dict[type, _Current] = {}
        self._writers: dict[tuple[type, bytes], Any] = {}  # (class, fingerprint) -> parsed schema, or why not

    def dumps(self, obj: Any) -> bytes:
        cur = self._current.get(type(obj)) or self._compile(type(obj))
        if cur.write is not None:
            try:
                body = cur.write(obj)
            except Exception:  # noqa: BLE001 - whatever the writer raises, the value does not fit: say where
                raise EncodeError(f"{type(obj).__name__} does not fit its state schema: "
                                  f"{_misfit_of(cur, obj)}") from None
            MEMO.rotate_if_full()
            return cur.header + body
        plain = cur.to_plain(obj)
        buf = io.BytesIO()
        buf.write(cur.header)
        try:
            fastavro.schemaless_writer(buf, cur.schema, plain)
        except Exception:  # whatever fastavro raises, the value does not fit: say where, never what
            raise EncodeError(f"{type(obj).__name__} does not fit its state schema: {_misfit(cur, plain)}") from None
        return buf.getvalue()

    def loads(self, cls: type, data: bytes) -> Any:
        cur = self._current.get(cls) or self._compile(cls)
        if pre_pseudonym(cls, data):
            raise StateSchemaError(f"{cls.__name__} written before identifiers were pseudonymised: keyed by a raw "
                                   "identifier, it cannot be re-keyed; rebuild the identity index (README, "
                                   "\"Privacy and erasure\")")
        if data[:2] == MARKER:
            return self._loads_avro(cls, cur, data)
        if data[:1] == b"{":
            return self._loads_json(cls, cur, data)
        raise StateSchemaError(f"{cls.__name__}: {len(data)} bytes that are neither a state value (marker C3 01) "
                               "nor the JSON earlier versions wrote")

    def _compile(self, cls: type) -> _Current:
        schema = schema_for(cls)
        fp = fingerprint(schema)
        try:
            write: Write | None = compile_writer(cls)
        except TypeError:  # a type the writer cannot remember by identity: fastavro encodes it whole
            write = None
        found = _Current(fp, MARKER + fp, fastavro.parse_schema(schema), encoder(cls), decoder(cls), write)
        self._current[cls] = found
        return found

    def _loads_avro(self, cls: type, cur: _Current, data: bytes) -> Any:
        if len(data) < HEADER_SIZE:
            raise StateSchemaError(f"{cls.__name__}: {len(data)} bytes is shorter than the {HEADER_SIZE}-byte header")
        fp = data[2:HEADER_SIZE]
        writer, reader = (cur.schema, None) if fp == cur.fingerprint else (self._writer(cls, fp, cur), cur.schema)
        buf = io.BytesIO(data)
        buf.seek(HEADER_SIZE)
        try:
            value = fastavro.schemaless_reader(buf, writer, reader)
        except SchemaResolutionError as err:  # incompatibilities() should have said so already
            raise StateSchemaError(f"{cls.__name__} under schema {fp.hex()} does not resolve: {err}") from None
        except Exception as err:  # garbage makes fastavro raise EOF, Unicode, Index, Memory... errors
            raise StateSchemaError(f"{cls.__name__} body under schema {fp.hex()} is corrupt "
                                   f"({type(err).__name__})") from None
        if buf.tell() != len(data):
            raise StateSchemaError(f"{cls.__name__} body has {len(data) - buf.tell()} trailing bytes")
        return _built(cls, cur, value)

    def _loads_json(self, cls: type, cur: _Current, data: bytes) -> Any:
        try:
            value = json.loads(data)
        except (ValueError, RecursionError) as err:
            raise StateSchemaError(f"{cls.__name__}: JSON state value is corrupt ({type(err).__name__})") from None
        return _built(cls, cur, value)

    def _writer(self, cls: type, fp: bytes, cur: _Current) -> Any:
        """The parsed schema values of `cls` were written with under `fp`, checked to resolve to the current one."""
        key = (cls, fp)
        if key not in self._writers:
            self._writers[key] = self._shipped(cls, fp, cur)
        found = self._writers[key]
        if isinstance(found, str):
            raise StateSchemaError(found)
        return found

    def _shipped(self, cls: type, fp: bytes, cur: _Current) -> Any:
        """The parsed writer schema from the history, or why values under `fp` cannot be read."""
        try:
            shipped = history(cls, self.history_dir)
        except (OSError, ValueError) as err:
            return f"the {cls.__name__} schema history in {self.history_dir} is unreadable: {err}"
        if fp not in shipped:
            return (f"{cls.__name__} was written under schema {fp.hex()}, which is not in {self.history_dir}: written "
                    "by a newer version, or by one whose schema was never committed (`make state-schemas` writes "
                    "it); refusing to guess its layout")
        writer = fastavro.parse_schema(shipped[fp])
        problems = incompatibilities(writer, cur.schema, cls.__name__)
        if problems:
            return (f"{cls.__name__} values written under schema {fp.hex()} cannot be read as the current "
                    f"{cls.__name__}: {'; '.join(problems)}")
        return writer


def _built(cls: type, cur: _Current, value: Any) -> Any:
    try:
        return cur.build(value)
    except Exception as err:  # a JSON value of another shape: KeyError, TypeError, AttributeError, ValueError...
        raise StateSchemaError(f"{cls.__name__} does not build from the stored value ({type(err).__name__}: "
                               f"{_key(err)})") from None


def _key(err: Exception) -> str:
    """A missing key names a field; other messages may quote stored values, so they are left out."""
    return str(err) if isinstance(err, KeyError) else "a field of another type"


def _misfit_of(cur: _Current, obj: Any) -> str:
    try:
        plain = cur.to_plain(obj)
    except Exception:  # noqa: BLE001 - not even convertible: still say nothing about the value
        return "a field"
    return _misfit(cur, plain)


def _misfit(cur: _Current, plain: Any) -> str:
    try:
        validate(plain, cur.schema, raise_errors=True)
    except ValidationError as err:
        return ", ".join(sorted({e.field for e in err.errors if getattr(e, "field", None)})) or "a field"
    except Exception:  # validation itself choked: still say nothing about the value
        return "a field"
    return "a value out of range"


_DEFAULT = StateCodec()
dumps = _DEFAULT.dumps
loads = _DEFAULT.loads
