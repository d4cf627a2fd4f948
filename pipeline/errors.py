"""The project's own error types. Library exceptions are wrapped into these at the boundary; messages never carry
payload bytes or personal data."""

from __future__ import annotations


class JourneyError(Exception):
    """Base of every error the project raises on purpose."""


class DecodeError(JourneyError):
    """Bytes that can never decode. `reason` is a short machine code, used in dead-letter headers and metrics."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class EncodeError(JourneyError):
    """A record that does not fit its schema."""


class RegistryError(JourneyError):
    """The schema registry could not be reached or refused a request."""


class InputError(JourneyError):
    """Bad user input (a JSON line for `journey publish`, a replay file)."""


class BrokerError(JourneyError):
    """The embedded broker could not be found, started or reached."""
