"""Keyed pseudonyms: the identifiers of an input event as the rules keep them, never raw.

The rules compare identifiers (is this the device the customer paid with? which accounts share this card?), and
equality is all they need. So before the step sees an event, every identifier field (FIELD_KINDS) is replaced by
its pseudonym: HMAC-SHA256 under a secret key (JOURNEY_PSEUDONYM_SECRET) of `kind:value`, the first 96 bits in
base64url (16 characters: two of 10^9 identifiers of one kind collide with odds of about 10^-11, and the state,
which holds a few hundred identifiers at most, stays within its size bound). E-mails are normalised first
(trimmed, lower case), so `A@x.com ` and `a@x.com` are one identity. Equal inputs give equal pseudonyms under one
key; without the key nobody can test a guess, which an unkeyed hash would allow (a dictionary of e-mails or the
IPv4 space reverses it in minutes).

Coarse facts the rules need beyond equality travel in their own fields and stay as they are (`ip_country`,
`card_country`, `card_issuer`). Other personal fields an event carries (`name`, `claimant_name`, `user_agent`, `note`:
NOT_KEPT) are never stored by any rule, so they are left alone (the test of this module checks both lists against
the schemas' `"pii": true` tags).

`key_id` names a key without revealing it; a stored customer state carries the id of the key its identifiers were
made with (agents/rules/journey.py re-keys a state written under another one). Pure: no I/O.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass, field, fields
from typing import Any

from agents.rules.dataclass_replace import replace

DEV_KEY = b"dev-only-pseudonym-secret"  # noqa: S105 (public on purpose: a worker on a real cluster refuses it)

FIELD_KINDS: dict[str, str] = {
    "device_id": "device",
    "ip": "ip",
    "shipping_address_id": "addr",
    "card_fingerprint": "card",
    "claimant_email": "email",
}
"""Input-event fields holding an identifier, and the identity-index kind of each."""

NOT_KEPT = frozenset({"name", "claimant_name", "user_agent", "note"})
"""Personal input fields no rule stores or compares (only whether a name was given is kept; a reviewer's note is
never stored, logged or sent on)."""

PSEUDONYM_CHARS = 16
_KEY_ID_LABEL = b"payment-journey pseudonym key id"


def normalised(kind: str, value: str) -> str:
    """The form two spellings of one identifier share: e-mails trimmed and lower-cased; others are opaque ids."""
    return value.strip().lower() if kind == "email" else value


KNOWN_KEPT = 20_000
"""Pseudonyms remembered per key (in this process's memory only, never stored or logged): an HMAC per identifier
per event took about 5% of the worker's CPU in a burst."""


@dataclass(frozen=True, slots=True)
class Pseudonyms:
    """Pseudonyms under one secret key."""

    key: bytes = field(repr=False)
    key_id: str = field(init=False)
    _fields: dict[type, tuple[tuple[str, str], ...]] = field(init=False, repr=False, compare=False)
    _known: dict[tuple[str, str], str] = field(init=False, repr=False, compare=False)
    _last: list[Any] = field(init=False, repr=False, compare=False)  # [an event, its pseudonymised copy]

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("a pseudonym key must not be empty")
        object.__setattr__(self, "key_id", hmac.digest(self.key, _KEY_ID_LABEL, "sha256")[:6].hex())
        object.__setattr__(self, "_fields", {})
        object.__setattr__(self, "_known", {})
        object.__setattr__(self, "_last", [None, None])

    def of(self, kind: str, value: str) -> str:
        """The pseudonym of one raw identifier of this kind."""
        known = self._known.get((kind, value))
        if known is not None:
            return known
        mac = hmac.digest(self.key, f"{kind}:{normalised(kind, value)}".encode(), "sha256")
        found = base64.urlsafe_b64encode(mac[:12]).decode()  # 12 bytes: no padding
        if len(self._known) >= KNOWN_KEPT:  # the same devices, IPs and cards recur: keep the recent ones
            self._known.clear()
        self._known[(kind, value)] = found
        return found

    def identifier(self, kind: str, value: str) -> str:
        """The identity-index key of a raw identifier (`kind:pseudonym`): what to look a node up by."""
        return f"{kind}:{self.of(kind, value)}"

    def event(self, event: Any) -> Any:
        """The event with each identifier field replaced by its pseudonym (empty and missing values stay so).

        The last event's copy is remembered: the step, the identity look-ups before it and the explorer's history
        each ask for the same event in turn. Events are frozen, and the entry holds the event, so an `is` match is
        that very event, unchanged."""
        last = self._last
        if last[0] is event:
            return last[1]
        out = self._pseudonymised(event)
        last[0], last[1] = event, out
        return out

    def _pseudonymised(self, event: Any) -> Any:
        cls = type(event)
        found = self._fields.get(cls)
        if found is None:
            found = self._fields[cls] = tuple((f.name, FIELD_KINDS[f.name]) for f in fields(event)
                                              if f.name in FIELD_KINDS)
        if not found:
            return event
        changes = {name: self.of(kind, value) for name, kind in found if (value := getattr(event, name))}
        return replace(event, **changes) if changes else event


    def redacted(self, event: Any) -> Any:
        """The event as it may be kept outside the rules (the explorer's history): identifiers as pseudonyms and
        the personal fields no rule keeps (NOT_KEPT) emptied, a missing one left missing."""
        event = self.event(event)
        blanks = {f.name: "" for f in fields(event) if f.name in NOT_KEPT and getattr(event, f.name)}
        return replace(event, **blanks) if blanks else event


DEV_PSEUDONYMS = Pseudonyms(DEV_KEY)


def masked(ident: str, chars: int = 6) -> str:
    """An identity-index key shortened for display (`device:Xb3kQ9…`): enough to tell nodes apart on a screen,
    too little to look one up by."""
    kind, _, value = ident.partition(":")
    return f"{kind}:{value[:chars]}…" if len(value) > chars else ident
