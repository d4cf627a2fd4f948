"""The fetch-wait setting reaches the consumer Faust builds (Faust itself hard-codes 1500 ms)."""

from __future__ import annotations

from typing import Any

import faust

from pipeline.kafka.fetch_wait import IdleWait, install_fetch_wait, uninstall_fetch_wait
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


def test_the_wait_turns_long_only_after_a_quiet_spell_and_short_with_the_first_record() -> None:
    wait = IdleWait(busy_ms=10, idle_ms=100, quiet_s=0.25)
    assert wait.after_fetch(False, now=0.0) == 10  # the first answer starts the quiet clock
    assert wait.after_fetch(False, now=0.2) == 10
    assert wait.after_fetch(False, now=0.25) == 100
    assert wait.after_fetch(False, now=5.0) == 100
    assert wait.after_fetch(True, now=5.1) == 10
    assert wait.after_fetch(False, now=5.3) == 10  # quiet again, but not for long enough yet
    assert wait.after_fetch(False, now=5.36) == 100


async def test_faust_s_worker_consumer_adapts_only_when_the_idle_wait_is_longer(tmp_path: Any) -> None:
    install_fetch_wait(10, 100)
    try:
        adapting = worker_consumer(tmp_path / "a")
    finally:
        uninstall_fetch_wait()
    install_fetch_wait(10, 10)
    try:
        plain = worker_consumer(tmp_path / "b")
    finally:
        uninstall_fetch_wait()
    assert "start" in vars(adapting) and "start" not in vars(plain)  # the wrapper is the consumer's own attribute


def test_the_idle_wait_is_long_on_tansu_only_and_never_below_the_fetch_wait() -> None:
    s = Settings()
    assert s.fetch_idle_wait_for(tansu=True) == 100 and s.fetch_idle_wait_for(tansu=False) == 1500
    assert Settings.from_env({"JOURNEY_FETCH_IDLE_WAIT_MS": "300"}).fetch_idle_wait_for(tansu=True) == 300
    assert Settings.from_env({"JOURNEY_FETCH_WAIT_MS": "200"}).fetch_idle_wait_for(tansu=True) == 200
    assert Settings.from_env({"JOURNEY_FETCH_IDLE_WAIT_MS": "5"}).fetch_idle_wait_for(tansu=True) == 10
