"""The fetch-wait setting reaches the consumer Faust builds (Faust itself hard-codes 1500 ms)."""

from __future__ import annotations

from typing import Any

import faust

from pipeline.kafka.fetch_wait import install_fetch_wait, uninstall_fetch_wait
from pipeline.settings import Settings


def worker_consumer(tmp_path: Any) -> Any:
    app = faust.App("fetch-wait-test", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False,
                    datadir=str(tmp_path))
    thread = app.consumer._thread  # type: ignore[attr-defined]
    return thread._create_worker_consumer(app.transport)  # builds the aiokafka consumer; connects nothing


async def test_faust_builds_its_worker_consumer_with_the_configured_fetch_wait(tmp_path: Any) -> None:
    assert worker_consumer(tmp_path / "a")._fetch_max_wait_ms == 1500  # Faust's own, the reason for the fix
    install_fetch_wait(10)
    try:
        assert worker_consumer(tmp_path / "b")._fetch_max_wait_ms == 10
    finally:
        uninstall_fetch_wait()
    assert worker_consumer(tmp_path / "c")._fetch_max_wait_ms == 1500


def test_the_default_is_short_on_tansu_only() -> None:
    s = Settings()
    assert s.fetch_wait_for(tansu=True) == 10 and s.fetch_wait_for(tansu=False) == 1500
    assert Settings.from_env({"JOURNEY_FETCH_WAIT_MS": "25"}).fetch_wait_for(tansu=True) == 25
