"""Faust table values and their changelogs: the rules' state dataclasses in Avro, tagged with their schema.

A value is Avro's single-object encoding: the marker C3 01, the writer schema's 8-byte CRC-64-AVRO fingerprint, then
the Avro body (pipeline.wire.state_schema derives the schema from the class's type hints). A value written under
another fingerprint is read with that schema from the committed history (schemas/state/), resolved against the
current one, so fields added since are filled from their defaults. A change that moved data rather than added it
(which resolution would drop without a word) registers a migration (pipeline.wire.state_migrations): values of
its older fingerprints are read as the last schema before it and upgraded. Anything that cannot be read that way
raises StateSchemaError and is never guessed: an unknown fingerprint, a change old values cannot resolve to,
garbage. Values written by earlier versions as JSON (starting with `{`) still load; only the Avro form is written.

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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
from fastavro.read import SchemaResolutionError
from fastavro.validation import ValidationError, validate

from agents.rules.identity import IdentityNode
from agents.rules.records import Convert, decoder, encoder
from pipeline.errors import EncodeError, StateSchemaError
from pipeline.wire.state_migrations import MIGRATIONS, Migration, Plain
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
    """dumps/loads for every state class, with the schema history read from `history_dir` and the migrations of
    values whose layout resolution cannot bring to the current one."""

    def __init__(self, history_dir: Path = HISTORY_DIR, migrations: Mapping[type, Migration] = MIGRATIONS) -> None:
        self.history_dir = history_dir
        self.migrations = migrations
        self._current: dict[type, _Current] = {}
        # (class, fingerprint, what it must resolve to) -> parsed schema, or why not
        self._writers: dict[tuple[type, bytes, bytes | None], Any] = {}

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
            raise EncodeError(f"{type(obj).__name__} does not fit its state schema: "
                              f"{_misfit(cur.schema, plain)}") from None
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
        if fp == cur.fingerprint:
            return _built(cls, cur, _read(cls, data, cur.schema, None))
        migration = self.migrations.get(cls)
        if migration is not None and fp in migration.before:
            return _built(cls, cur, self._migrated(cls, cur, migration, data))
        writer = self._schema(cls, fp, (cur.fingerprint, cur.schema), f"the current {cls.__name__}")
        return _built(cls, cur, _read(cls, data, writer, cur.schema))

    def _migrated(self, cls: type, cur: _Current, m: Migration, data: bytes) -> Plain:
        """The plain value, in the current layout, of a value written under one of `m.before`."""
        pivot = self._schema(cls, m.pivot, None, "", "the last schema before its migration")
        writer = self._schema(cls, data[2:HEADER_SIZE], (m.pivot, pivot),
                              f"schema {m.pivot.hex()}, the last {cls.__name__} before its migration")
        value = self._upgraded(cls, m, _read(cls, data, writer, pivot))
        if m.result == cur.fingerprint:
            return value
        # read on as a value written under `result`: resolution brings it to the current schema
        result = self._schema(cls, m.result, (cur.fingerprint, cur.schema), f"the current {cls.__name__}",
                              "the schema its migration upgrades to")
        buf = io.BytesIO()
        buf.write(MARKER + m.result)
        try:
            fastavro.schemaless_writer(buf, result, value)
        except Exception:  # noqa: BLE001 - the upgrade does not produce what `result` describes: a bug in it
            raise StateSchemaError(f"{cls.__name__}: the migration's upgrade does not fit schema {m.result.hex()}: "
                                   f"{_misfit(result, value)}") from None
        return _read(cls, buf.getvalue(), result, cur.schema)

    def _loads_json(self, cls: type, cur: _Current, data: bytes) -> Any:
        try:
            value = json.loads(data)
        except (ValueError, RecursionError) as err:
            raise StateSchemaError(f"{cls.__name__}: JSON state value is corrupt ({type(err).__name__})") from None
        migration = self.migrations.get(cls)
        if migration is not None and isinstance(value, dict):  # the JSON is of the oldest layout
            value = self._upgraded(cls, migration, value)
        return _built(cls, cur, value)

    @staticmethod
    def _upgraded(cls: type, migration: Migration, value: Plain) -> Plain:
        try:
            return migration.upgrade(value)
        except Exception as err:  # a JSON value of another shape: KeyError, TypeError, AttributeError, ValueError...
            raise StateSchemaError(f"{cls.__name__} of a layout before its migration does not upgrade "
                                   f"({type(err).__name__}: {_key(err)})") from None

    def _schema(self, cls: type, fp: bytes, reader: tuple[bytes, Any] | None, reader_is: str,
                role: str = "") -> Any:
        """The parsed schema `fp` of `cls` from the history, checked to resolve to `reader` (its fingerprint and
        parsed schema, which `reader_is` describes) unless that is None. `role`: what `fp` is, when a migration
        names it rather than a value."""
        key = (cls, fp, None if reader is None else reader[0])
        if key not in self._writers:
            self._writers[key] = self._shipped(cls, fp, reader, reader_is, role)
        found = self._writers[key]
        if isinstance(found, str):
            raise StateSchemaError(found)
        return found

    def _shipped(self, cls: type, fp: bytes, reader: tuple[bytes, Any] | None, reader_is: str, role: str) -> Any:
        """The parsed schema from the history, or why values under `fp` cannot be read."""
        try:
            shipped = history(cls, self.history_dir)
        except (OSError, ValueError) as err:
            return f"the {cls.__name__} schema history in {self.history_dir} is unreadable: {err}"
        if fp not in shipped and role:
            return (f"{cls.__name__}: schema {fp.hex()}, {role}, is not in {self.history_dir}: the migration names a "
                    "schema that was never committed")
        if fp not in shipped:
            return (f"{cls.__name__} was written under schema {fp.hex()}, which is not in {self.history_dir}: written "
                    "by a newer version, or by one whose schema was never committed (`make state-schemas` writes "
                    "it); refusing to guess its layout")
        writer = fastavro.parse_schema(shipped[fp])
        problems = [] if reader is None else incompatibilities(writer, reader[1], cls.__name__)
        if problems:
            return (f"{cls.__name__} values written under schema {fp.hex()} cannot be read as {reader_is}: "
                    f"{'; '.join(problems)}")
        return writer


def _read(cls: type, data: bytes, writer: Any, reader: Any) -> Any:
    """The plain value of a whole state value (header and body), read with `writer`, resolved to `reader` unless
    that is None."""
    fp = data[2:HEADER_SIZE]
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
    return value


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
    return _misfit(cur.schema, plain)


def _misfit(schema: Any, plain: Any) -> str:
    try:
        validate(plain, schema, raise_errors=True)
    except ValidationError as err:
        return ", ".join(sorted({e.field for e in err.errors if getattr(e, "field", None)})) or "a field"
    except Exception:  # validation itself choked: still say nothing about the value
        return "a field"
    return "a value out of range"


_DEFAULT = StateCodec()
dumps = _DEFAULT.dumps
loads = _DEFAULT.loads
