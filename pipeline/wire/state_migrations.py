"""State values of a layout Avro resolution cannot bring to the current one, and how they are brought instead.

Resolution fills the fields added since a value was written and drops those removed since: right when data was
added, wrong when it moved (a removed field's contents would be gone without a word). So a change that moves data
makes the new schema unresolvable from the old ones on purpose (the field keeps its name and changes its type, and
the codec refuses what does not resolve) and registers a `Migration` here: values under one of its `before`
fingerprints are read as its `pivot` (the last schema before the change, which every older one resolves to), passed
through `upgrade`, a pure function from that plain form to the plain form of `result` (the first schema after the
change, in the history too), and read from there on as if written under `result`. The JSON of earlier versions
is of the oldest layout: it goes through `upgrade` as well.

One migration per class: a later change that moves data again makes this one's `result` part of its own `before`
and composes the two upgrades.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Plain = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Migration:
    before: frozenset[bytes]  # fingerprints of the values needing it: `pivot` and every schema older than it
    pivot: bytes
    result: bytes
    upgrade: Callable[[Plain], Plain]


MIGRATIONS: Mapping[type, Migration] = {}
"""The registered migrations, by class."""
