"""The worker's Faust app is secure by default: loopback, no table pages, the replication factor and credentials
from Settings, and an optional bearer token on everything but /metrics. The app is built, never started."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from faust.auth import SASLCredentials

from agents.runtime import Runtime
from pipeline.settings import Settings
from pipeline.worker.app import bearer_token_guard, build_app


def app_for(tmp_path: Path, **kw: object):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, store="memory://", **kw)  # type: ignore[arg-type]
    return build_app(Runtime.from_settings(settings), "kafka:9092")


def test_by_default_the_web_server_is_on_loopback_and_faust_pages_are_off(tmp_path: Path) -> None:
    conf = app_for(tmp_path).conf
    assert conf.web_bind == "127.0.0.1"
    assert not (conf.web_tables_enabled or conf.web_router_enabled or conf.web_graph_enabled
                or conf.web_stats_enabled)
    assert conf.topic_replication_factor == 1 and conf.broker_credentials is None


def test_replication_factor_and_sasl_credentials_come_from_settings(tmp_path: Path) -> None:
    conf = app_for(tmp_path, replication_factor=3, security_protocol="SASL_PLAINTEXT", sasl_username="svc",
                   sasl_password="pw", web_bind="0.0.0.0").conf  # noqa: S104
    assert conf.topic_replication_factor == 3 and conf.web_bind == "0.0.0.0"  # noqa: S104
    assert isinstance(conf.broker_credentials, SASLCredentials) and conf.broker_credentials.username == "svc"


async def _status(guard: object, path: str, authorization: str | None = None) -> int:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")

    headers = {"Authorization": authorization} if authorization else {}
    response = await guard(make_mocked_request("GET", path, headers=headers), handler)  # type: ignore[operator]
    return int(response.status)


async def test_with_a_token_everything_but_metrics_needs_it() -> None:
    guard = bearer_token_guard("s3cret")
    assert await _status(guard, "/metrics") == 200
    assert await _status(guard, "/") == 401
    assert await _status(guard, "/table/customer_states/") == 401
    assert await _status(guard, "/", "Bearer wrong") == 401
    assert await _status(guard, "/", "Bearer s3cret") == 200


async def test_the_explorer_pages_hold_no_data_and_need_no_token_but_its_api_does() -> None:
    guard = bearer_token_guard("s3cret")
    assert await _status(guard, "/explorer/") == 200
    assert await _status(guard, "/explorer/static/customer.js") == 200
    assert await _status(guard, "/explorer/static/other.js") == 401
    assert await _status(guard, "/api/customers/c1") == 401
    assert await _status(guard, "/api/overview") == 401
    assert await _status(guard, "/api/customers/c1", "Bearer s3cret") == 200


def test_the_explorer_is_routed_on_the_web_server(tmp_path: Path) -> None:
    routes = {r.resource.canonical for r in app_for(tmp_path).web.web_app.router.routes()}  # type: ignore[union-attr]
    assert {"/api/customers/{customer_id}", "/api/overview", "/explorer/", "/explorer/customer",
            "/explorer/reviews", "/explorer/static/explorer.js"} <= routes


def test_the_token_installs_the_guard_and_no_token_installs_none(tmp_path: Path) -> None:
    assert app_for(tmp_path).conf.web_application_options == {}
    options = app_for(tmp_path / "t", api_token="s3cret").conf.web_application_options
    assert len(options["middlewares"]) == 1


def test_the_history_table_exists_only_when_the_setting_keeps_records_and_needs_no_agent_of_its_own(
        tmp_path: Path) -> None:
    on, off = app_for(tmp_path), app_for(tmp_path / "off", explorer_history=0)
    assert "customer-history" in on.tables and "customer-history" not in off.tables
    assert {a.name for a in on.agents.values()} == {a.name for a in off.agents.values()}


def test_faust_monitor_is_no_sensor_once_the_app_starts(tmp_path: Path) -> None:
    app = app_for(tmp_path)
    app.on_init_dependencies()  # what starting the app calls first
    assert app.monitor not in set(app.sensors)
    assert app.monitor is not None  # Faust's consumer still reports to it directly
