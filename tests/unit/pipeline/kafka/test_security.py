"""Settings' SASL/SSL values as Faust's broker_credentials and as the plain aiokafka clients' keywords."""

from __future__ import annotations

import ssl
from pathlib import Path

from faust.auth import SASLCredentials, SSLCredentials

from pipeline.kafka.security import broker_credentials, client_options
from pipeline.settings import Settings

CA = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")


def test_plaintext_needs_no_credentials() -> None:
    assert broker_credentials(Settings()) is None
    assert client_options(Settings()) == {"security_protocol": "PLAINTEXT"}


def test_sasl_scram_over_tls_maps_to_faust_sasl_credentials_with_a_verifying_context() -> None:
    s = Settings(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512", sasl_username="svc",
                 sasl_password="pw", ssl_cafile=CA)
    creds = broker_credentials(s)
    assert isinstance(creds, SASLCredentials)
    assert (creds.username, creds.password, creds.mechanism.value, creds.protocol.value) == \
        ("svc", "pw", "SCRAM-SHA-512", "SASL_SSL")
    assert creds.ssl_context is not None and creds.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert creds.ssl_context.check_hostname
    assert "pw" not in repr(creds)
    options = client_options(s)
    assert {k: v for k, v in options.items() if k != "ssl_context"} == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "svc",
        "sasl_plain_password": "pw"}
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_sasl_plain_without_tls_has_no_ssl_context() -> None:
    s = Settings(security_protocol="SASL_PLAINTEXT", sasl_username="svc", sasl_password="pw")
    options = client_options(s)
    assert options["security_protocol"] == "SASL_PLAINTEXT" and options["sasl_mechanism"] == "PLAIN"
    assert options["ssl_context"] is None


def test_ssl_alone_maps_to_faust_ssl_credentials() -> None:
    creds = broker_credentials(Settings(security_protocol="SSL", ssl_cafile=CA))
    assert isinstance(creds, SSLCredentials) and creds.protocol.value == "SSL"
    assert client_options(Settings(security_protocol="SSL"))["security_protocol"] == "SSL"
