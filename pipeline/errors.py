"""The project's own error types. Library exceptions are wrapped into these at the boundary; messages never
carry payload bytes or personal data, so they are safe in logs, metric labels and dead-letter headers."""

from __future__ import annotations


class JourneyError(Exception):
    """Base of every error the project raises on purpose."""


class DecodeError(JourneyError):
    """Bytes that can never decode: the message goes to a dead-letter topic, it is not retried.

    `reason` is a short, stable machine code for dead-letter headers and metric labels. Raised by the codec:
    `truncated` (under the 5-byte header), `bad_magic` (first byte not 0), `unknown_schema_id` (not in the
    registry), `unknown_record` (a schema that is not one of our records), `incompatible_schema` (the writer's
    schema does not resolve against ours), `body_invalid` (the Avro body does not decode or build). Raised by
    triage (pipeline.wire.dead_letters): `null_value`, `value_too_large` (not decoded at all), `wrong_topic`,
    `field_too_long` (an identifier over the limit; `field` names it) and `decoder_error` (anything else the
    decoder raised, named by type only).
    """

    def __init__(self, reason: str, message: str, *, field: str | None = None, rule: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field
        self.rule = rule


class EncodeError(JourneyError):
    """A record that does not fit its schema (a bug in whatever built it, never bad input)."""


class StateSchemaError(JourneyError):
    """A stored state value (a table row, a changelog record) that cannot be read as the current state types: written
    under a schema fingerprint that is not in the history, under a schema the current one cannot resolve (the message
    names the fields and what to do), or bytes that are no state value at all. Never guessed around: a worker that
    cannot read a customer's state must stop, not decide on a misread one."""


class RegistryError(JourneyError):
    """The schema registry could not be reached or refused a request. Often transient: never dead-letter."""


class SchemaNotFound(RegistryError):
    """The registry answered, and it has no schema under that id: bytes naming it can never decode."""


class SchemaLookupNeeded(RegistryError):
    """Decoding needs the registry (a schema id not seen yet) and the codec was told not to call it inline: the
    caller runs `codec.resolve(schema_id)` off the event loop (a thread), then decodes again."""

    def __init__(self, schema_id: int) -> None:
        super().__init__(f"schema id {schema_id} needs a registry lookup")
        self.schema_id = schema_id


class InputError(JourneyError):
    """Bad user input (a JSON line for `journey publish`, a replay file).

    `field` is the dotted path of the offending field when there is one (`PaymentDecision.reasons[0].code`);
    `lineno` the input line when the caller gave one. The message names the field; the caller prints the line.
    """

    def __init__(self, message: str, *, field: str | None = None, lineno: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.lineno = lineno


class BrokerError(JourneyError):
    """The embedded broker could not be found, started or reached."""


class BrokerUnreachable(BrokerError):
    """No Kafka broker answered at the bootstrap address (`journey` exits 1)."""


class SettingsError(JourneyError):
    """A setting from the environment is malformed, missing, or unsafe for where it is used."""


class StaleStateError(JourneyError):
    """The worker's local tables (RocksDB) record changelog offsets the broker's changelogs never reached: the broker
    lost its topics (a memory-only Tansu restarted, a cluster replaced). The message names the command that fixes it."""
