"""Beyond loopback the worker's web server (customer lookups, the explorer) refuses to run without a bearer token."""

from __future__ import annotations

import pytest

from pipeline.errors import SettingsError
from pipeline.settings import Settings
from pipeline.worker.run import check_web_access


@pytest.mark.parametrize("bind", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_needs_no_token(bind: str) -> None:
    check_web_access(Settings(web_bind=bind))


@pytest.mark.parametrize("bind", ["0.0.0.0", "::", "10.1.2.3", "worker-0.payment-journey"])  # noqa: S104
def test_any_other_interface_needs_the_token(bind: str) -> None:
    with pytest.raises(SettingsError, match="JOURNEY_API_TOKEN must be set"):
        check_web_access(Settings(web_bind=bind))
    check_web_access(Settings(web_bind=bind, api_token="s3cret"))
    check_web_access(Settings(web_bind=bind, web_enabled=False))  # no web server: nothing to guard
