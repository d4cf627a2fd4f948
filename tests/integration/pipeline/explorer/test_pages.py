"""The explorer's pages in a real headless Chromium against a real worker on the embedded broker: the overview, a
customer's page with every reason in words, the token asked for when missing, and a verdict submitted from the
review page on the worker's real review queue, which changes that customer's next decision, live and in replay.

With JOURNEY_SCREENSHOTS=<folder> (`make screenshots`: docs/) it also saves a screenshot of each page there.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from agents.rules.events import PaymentDecision, RefundRequested, ReviewVerdict
from pipeline.kafka.clients import encode_all, produce
from pipeline.sim import generate, simulation_start
from pipeline.wire.codec import Codec
from pipeline.wire.jsonio import record_to_json
from pipeline.wire.registry import LocalRegistry
from tests.integration.pipeline.explorer.chromium import chromium, chromium_or_skip
from tests.integration.pipeline.explorer.test_reviews import CUSTOMER, attempt, now_ms
from tests.integration.support import collect, journey, journey_env, worker, write_jsonl

pytestmark = pytest.mark.integration
TOKEN = "page-t0ken"
SHOTS = os.environ.get("JOURNEY_SCREENSHOTS")


def api(port: str, path: str) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def wait_for_view(port: str, cid: str, timeout: float = 60.0) -> Any:
    """The customer's view once the history agent has kept their refund decision."""
    deadline = time.monotonic() + timeout
    while True:
        view = api(port, f"/api/customers/{cid}")
        if any(d["type"] == "RefundDecision" for d in view["decisions"]) or time.monotonic() > deadline:
            return view
        time.sleep(0.5)


def shot(name: str) -> Path | None:
    return Path(SHOTS) / f"explorer-{name}.png" if SHOTS else None


def test_every_page_renders_live_data_and_a_verdict_is_submitted(broker: Any, tmp_path: Path) -> None:
    binary = chromium_or_skip()
    data = tmp_path / "data"
    env = journey_env(broker.bootstrap, data, JOURNEY_API_TOKEN=TOKEN)
    port = env["JOURNEY_WEB_PORT"]
    labelled = generate(7, 14, simulation_start(30), 30)
    grey = attempt(1, now_ms() - 10 * 60_000)  # a grey-zone challenge: a case in the review queue
    events = [*(x.event for x in labelled), grey]
    claimant = [x.event.customer_id for x in labelled if x.story == "serial_empty_box"
                and isinstance(x.event, RefundRequested)][-1]
    attempts = sum(type(e).__name__ == "PaymentAttempted" for e in events)
    with worker(env, tmp_path / "worker.log"):
        codec = Codec(LocalRegistry(data / "schema-registry.json"))
        asyncio.run(produce(broker.bootstrap, encode_all(codec, events)))
        collect(broker.bootstrap, data, ["decisions"], timeout=180,
                until=lambda rs: sum(isinstance(r, PaymentDecision) for _t, r, _h in rs) >= attempts)
        expected = wait_for_view(port, claimant)
        asyncio.run(browse(binary, tmp_path, port, claimant, expected, grey.payment_id))
        (verdict,) = [r for _, r, _ in collect(broker.bootstrap, data, ["reviews"], lambda g: len(g) >= 1)]
        second = attempt(2, now_ms())
        assert journey("publish", str(write_jsonl(tmp_path / "second.jsonl", [second])), env=env).returncode == 0
        decided = collect(broker.bootstrap, data, ["decisions"], timeout=90,
                          until=lambda rs: any(r.payment_id == second.payment_id for _t, r, _h in rs))
    assert isinstance(verdict, ReviewVerdict) and verdict.customer_id == CUSTOMER
    assert (verdict.case_id, verdict.verdict) == (grey.payment_id, "legitimate")
    live = next(r for _t, r, _h in decided if r.payment_id == second.payment_id)
    assert live.outcome == "approve" and "REVIEWED_LEGITIMATE" in {r.code for r in live.reasons}, \
        "the verdict given on the page changed the customer's next decision"
    assert "card owner confirmed by phone" not in (tmp_path / "worker.log").read_text()
    inputs = write_jsonl(tmp_path / "inputs.jsonl", [grey, verdict, second])
    replayed = journey("replay", str(inputs), "--out", str(tmp_path / "replay.jsonl"), env=env)
    assert replayed.returncode == 0, replayed.stderr
    offline = [json.loads(x) for x in (tmp_path / "replay.jsonl").read_text().splitlines()]
    again = [r["value"] for r in offline if r["topic"] == "decisions" and r["value"]["payment_id"] == second.payment_id]
    assert again == [record_to_json(live)["value"]], "replay with the page's verdict gives the same decision"


async def browse(binary: str, tmp_path: Path, port: str, cid: str, customer: dict[str, Any], case_id: str) -> None:
    web = f"http://127.0.0.1:{port}"
    async with chromium(binary, tmp_path / "chromium") as browser:
        tab = await browser.tab()
        await tab.goto(f"{web}/explorer/#token={TOKEN}")
        text = await tab.wait_for_text("Checkout decisions by outcome", "approve", "Top reasons", "This worker only")
        assert "Dunning recovery by variant" in text and "Consumer lag now" in text and "Dead letters" in text
        assert "token" not in await tab.js("location.href"), "the token leaves the address bar"
        if shot("overview"):
            await tab.screenshot(shot("overview"))  # type: ignore[arg-type]

        await tab.goto(f"{web}/explorer/customer?id={cid}")
        decided = customer["decisions"][0]
        text = await tab.wait_for_text("Standing and flags", "Last decisions", "Timeline", decided["text"])
        assert all(r["text"] in text for d in customer["decisions"] for r in d["reasons"]), "every reason in words"
        assert all(t["text"] in text for t in customer["timeline"])
        assert "Linked claims" in text and "SCA history per issuer" in text and "Open dunning cases" in text
        assert "device·" in text or "card·" in text
        if shot("customer"):
            await tab.screenshot(shot("customer"))  # type: ignore[arg-type]

        fresh = await browser.tab()  # a tab without the token: the page asks for it
        await fresh.goto(f"{web}/explorer/")
        await fresh.wait_for_text("needs its API token")

        await tab.goto(f"{web}/explorer/reviews")
        text = await tab.wait_for_text(case_id, "Confirmed fraud", "Legitimate", "grey zone")
        assert CUSTOMER not in text, "the queue shows customers masked"
        if shot("reviews"):
            await tab.screenshot(shot("reviews"))  # type: ignore[arg-type]
        await tab.js(f"""(() => {{
            const card = document.querySelector('[data-case="{case_id}"]');
            card.querySelector('textarea').value = 'card owner confirmed by phone';
            card.querySelector('button[data-verdict="legitimate"]').click();
        }})()""")
        await tab.wait_for_text("Verdict recorded: legitimate")
