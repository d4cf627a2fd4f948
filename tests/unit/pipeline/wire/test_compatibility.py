"""Compatibility levels decided by Avro's schema resolution rules, confirmed by fastavro."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipeline.wire.compatibility import InvalidSchema, check, parse, problems


def record(*fields: dict[str, Any], name: str = "A") -> str:
    return json.dumps({"type": "record", "name": name, "namespace": "t", "fields": list(fields)})


ID = {"name": "id", "type": "string"}
AMOUNT = {"name": "amount", "type": "int"}
NOTE_WITH_DEFAULT = {"name": "note", "type": ["null", "string"], "default": None}
NOTE_REQUIRED = {"name": "note", "type": "string"}


def test_a_schema_reads_its_own_data() -> None:
    assert problems(record(ID, AMOUNT), record(ID, AMOUNT)) == []


def test_a_new_field_with_a_default_is_backward_compatible() -> None:
    assert check("BACKWARD", record(ID, NOTE_WITH_DEFAULT), [record(ID)]) == []


def test_a_new_field_without_a_default_is_not_backward_compatible() -> None:
    found = check("BACKWARD", record(ID, NOTE_REQUIRED), [record(ID)])
    assert len(found) == 1 and "note" in found[0]


def test_removing_a_field_without_a_default_breaks_forward_but_not_backward() -> None:
    assert check("BACKWARD", record(ID), [record(ID, NOTE_REQUIRED)]) == []
    assert check("FORWARD", record(ID), [record(ID, NOTE_REQUIRED)]) != []
    assert check("FULL", record(ID), [record(ID, NOTE_REQUIRED)]) != []


def test_int_widens_to_long_but_long_does_not_narrow_to_int() -> None:
    wide = {"name": "amount", "type": "long"}
    assert problems(record(ID, wide), record(ID, AMOUNT)) == []
    assert problems(record(ID, AMOUNT), record(ID, wide)) != []


def test_an_enum_losing_a_symbol_cannot_read_old_data_unless_it_has_a_default() -> None:
    def status(*symbols: str, **extra: Any) -> dict[str, Any]:
        return {"name": "s", "type": {"type": "enum", "name": "S", "symbols": list(symbols), **extra}}

    assert problems(record(status("a")), record(status("a", "b"))) != []
    assert problems(record(status("a", default="a")), record(status("a", "b"))) == []
    assert problems(record(status("a", "b")), record(status("a"))) == []


def test_a_union_reader_takes_any_writer_branch_it_has() -> None:
    assert problems(record({"name": "x", "type": ["null", "string"]}), record({"name": "x", "type": "string"})) == []
    assert problems(record({"name": "x", "type": "string"}), record({"name": "x", "type": ["null", "string"]})) != []


def test_a_renamed_record_is_incompatible_unless_aliased() -> None:
    assert problems(record(ID, name="B"), record(ID, name="A")) != []
    renamed = json.dumps({**json.loads(record(ID, name="B")), "aliases": ["t.A"]})
    assert problems(renamed, record(ID, name="A")) == []


def test_transitive_levels_check_every_version_and_plain_ones_only_the_latest() -> None:
    v1, v2 = record(ID, NOTE_REQUIRED), record(ID)
    v3 = record(ID, {**NOTE_REQUIRED, "default": "n/a"})
    assert check("FORWARD", v3, [v1, v2]) == []
    assert check("FORWARD_TRANSITIVE", v3, [v1, v2]) == []
    assert check("BACKWARD_TRANSITIVE", record(ID, NOTE_REQUIRED), [v1, v2]) != []
    assert check("NONE", "\"string\"", [v1]) == []


def test_the_project_schemas_parse_and_an_unknown_level_or_bad_schema_is_refused() -> None:
    with pytest.raises(InvalidSchema):
        parse('{"type": "nope"}')
    with pytest.raises(InvalidSchema):
        parse("not json")
    with pytest.raises(ValueError, match="unknown compatibility level"):
        check("SIDEWAYS", record(ID), [record(ID)])
