"""What an input event may carry before the journey step sees it.

Identifier fields become table keys, identity-index keys (`device:<id>`) and parts of the records the step emits,
so one oversized identifier makes every record derived from it oversized: the step would send its decision, then
fail to send the identity link, and the state would never be stored. The caller checks the decoded event here,
before the step runs and before anything is sent. Pure.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

MAX_ID_CHARS = 128
"""Identifiers in practice are UUIDs (36), card fingerprints (a few dozen), IPv6 addresses (at most 45); 128
characters (at most 512 UTF-8 bytes) leaves room for any real one and keeps every key and link small."""

IDENTIFIER_SUFFIXES = ("_id", "_fingerprint")
IDENTIFIER_NAMES = frozenset({"ip", "identifier"})


def is_identifier_field(name: str) -> bool:
    """Does a field with this name hold an identifier: `*_id`, `*_fingerprint`, `ip`, `identifier`."""
    return name in IDENTIFIER_NAMES or name.endswith(IDENTIFIER_SUFFIXES)


def oversized_field(event: Any, max_chars: int = MAX_ID_CHARS) -> str | None:
    """The name of the first identifier field of `event` (an events.py record) longer than `max_chars` characters.

    Only top-level string fields are checked: input events carry no nested records. None when every one fits.
    """
    for name in _identifier_fields(type(event)):
        value = getattr(event, name)
        if isinstance(value, str) and len(value) > max_chars:
            return name
    return None


_IDENTIFIER_FIELDS: dict[type, tuple[str, ...]] = {}


def _identifier_fields(cls: type) -> tuple[str, ...]:
    """The identifier fields of an event class, in field order (worked out once per class)."""
    found = _IDENTIFIER_FIELDS.get(cls)
    if found is None:
        found = _IDENTIFIER_FIELDS[cls] = tuple(f.name for f in fields(cls) if is_identifier_field(f.name))
    return found
