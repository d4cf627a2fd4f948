"""JSON encoding of the rules' frozen state dataclasses, for Faust table values and their changelogs.

Encoding and decoding are agents.rules.records' converters, compiled from the type hints of the root class, so
stored JSON carries no type tags and no code: a changelog record can never execute anything on load (unlike
pickle). State types may use what agents.rules.records converts (see agents/rules/*).
"""

from __future__ import annotations

import json
from typing import Any

from agents.rules.records import decoder, encoder


def dumps(obj: Any) -> bytes:
    return json.dumps(encoder(type(obj))(obj), separators=(",", ":"), ensure_ascii=False).encode()


def loads(cls: type, data: bytes) -> Any:
    return decoder(cls)(json.loads(data))
