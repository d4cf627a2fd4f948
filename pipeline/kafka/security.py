"""How the clients authenticate to the brokers: Settings' KAFKA_SECURITY_PROTOCOL, SASL and SSL values turned into
Faust's broker_credentials, and into the keyword arguments of the plain aiokafka clients (admin, `publish`, `tail`).

Both come from one mapping: the plain clients get exactly what Faust's own aiokafka driver would pass for the same
credentials (faust.transport.drivers.aiokafka.credentials_to_aiokafka_auth).
"""

from __future__ import annotations

import ssl
from typing import Any

from faust.auth import SASLCredentials, SSLCredentials
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from faust.types.auth import CredentialsT

from pipeline.settings import Settings


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """A verifying client context (hostname checked) with the configured CA bundle, for SSL and SASL_SSL."""
    if not settings.tls:
        return None
    return ssl.create_default_context(cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None)


def broker_credentials(settings: Settings) -> CredentialsT | None:
    """Faust's broker_credentials for these settings; None for PLAINTEXT."""
    context = ssl_context(settings)
    if settings.sasl:
        return SASLCredentials(username=settings.sasl_username, password=settings.sasl_password,
                               mechanism=settings.sasl_mechanism, ssl_context=context)
    if context is not None:
        return SSLCredentials(context)
    return None


def client_options(settings: Settings) -> dict[str, Any]:
    """aiokafka keyword arguments (security_protocol, sasl_*, ssl_context) for the same credentials."""
    return dict(credentials_to_aiokafka_auth(broker_credentials(settings)))
