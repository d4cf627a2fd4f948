"""The live lookup API on two workers of one group: any worker answers for any customer (Faust's table routing
forwards to the partition's owner), with the token, the customer's decisions and reasons, and no raw identifier."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from agents.rules.events import DeviceSeen, PaymentAttempted, PaymentSucceeded
from pipeline.kafka.clients import encode_all, produce
from pipeline.wire.codec import Codec
from pipeline.wire.registry import LocalRegistry
from pipeline.wire.registry_api import serve_local_registry
from tests.integration.pipeline.worker.test_takeover import PARTITIONS, assigned, customer_per_partition, wait_for
from tests.integration.support import journey_env, start_worker, stop_process

pytestmark = pytest.mark.integration
TOKEN = "t0ken-for-this-test"


def get(port: str, path: str, token: str | None = TOKEN) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as err:
        body = err.read()
        try:
            return err.code, json.loads(body)
        except ValueError:
            return err.code, body.decode(errors="replace")


def history_of(cid: str, t0: int) -> list[Any]:
    """A device sighting, an attempt and its success; ids other than the identifiers do not contain `cid`."""
    device, ip, card = f"dev-{cid}", f"198.51.100.{len(cid)}", f"card-{cid}"
    n = sum(map(ord, cid))
    return [
        DeviceSeen(event_id=f"dev-{n}", customer_id=cid, occurred_at=t0, device_id=device, ip=ip,
                   ip_country="NL", user_agent="Mozilla/5.0 test"),
        PaymentAttempted(event_id=f"att-{n}", customer_id=cid, occurred_at=t0 + 1000, payment_id=f"pay-{n}",
                         order_id=f"ord-{n}", amount_minor=4_200, currency="EUR", method="card",
                         initiator="customer", device_id=device, ip=ip, ip_country="NL", card_fingerprint=card,
                         card_issuer="bank", card_country="NL", customer_country="NL", sca_applies=False,
                         network="visa"),
        PaymentSucceeded(event_id=f"ok-{n}", customer_id=cid, occurred_at=t0 + 2000, payment_id=f"pay-{n}",
                         authentication="none", card_fingerprint=card, amount_minor=4_200, currency="EUR"),
    ]


def test_any_worker_answers_for_any_customer_with_decisions_reasons_and_no_raw_identifier(
        broker: Any, tmp_path: Path) -> None:
    bootstrap = broker.bootstrap
    customers = list(customer_per_partition().values())
    shared = tmp_path / "shared"
    codec = Codec(LocalRegistry(shared / "schema-registry.json"))
    procs = []
    with serve_local_registry(shared) as api:
        envs = [journey_env(bootstrap, tmp_path / f"w{i}", SCHEMA_REGISTRY_URL=api.url,
                            JOURNEY_PARTITIONS=str(PARTITIONS), JOURNEY_API_TOKEN=TOKEN) for i in (0, 1)]
        try:
            procs = [start_worker(env, tmp_path / f"worker-{i}.log") for i, env in enumerate(envs)]
            ports = [env["JOURNEY_WEB_PORT"] for env in envs]
            wait_for(lambda: all(assigned(p) > 0 for p in ports)
                     and sum(assigned(p) for p in ports) == PARTITIONS, 90, "both workers to hold partitions")
            t0 = time.time_ns() // 1_000_000 - 60_000
            events = [e for cid in customers for e in history_of(cid, t0)]
            asyncio.run(produce(bootstrap, encode_all(codec, events)))

            def everyone_known_everywhere() -> bool:
                return all(get(p, f"/api/customers/{cid}")[0] == 200
                           and len(get(p, f"/api/customers/{cid}")[1]["timeline"]) == 4
                           for p in ports for cid in customers)

            wait_for(everyone_known_everywhere, 90, "every customer's lookup on both workers")
            assert all(assigned(p) < PARTITIONS for p in ports), "each worker owns only some of the customers"
            bodies = {(p, cid): get(p, f"/api/customers/{cid}")[1] for p in ports for cid in customers}
            miss = [get(p, path) for p in ports for path in ("/api/customers/nobody", "/api/customers/" + "x" * 300)]
            unauthorised = get(ports[0], f"/api/customers/{customers[0]}", token=None)
            overview = get(ports[0], "/api/overview")
        finally:
            for proc in procs:
                stop_process(proc)
    for cid in customers:
        a, b = (dict(bodies[(p, cid)], as_of=None) for p in ports)
        assert a == b, "the owner answered both requests"
        (decision,) = a["decisions"]
        assert decision["outcome"] == "approve" and decision["reasons"] and decision["policy_version"]
        assert [t["type"] for t in a["timeline"]] == ["DeviceSeen", "PaymentAttempted", "PaymentDecision",
                                                      "PaymentSucceeded"]
        assert a["profile"]["devices"][0]["count"] == 2 and a["profile"]["countries"][0]["value"] == "NL"
        text = json.dumps(a)
        raw = {cid, f"dev-{cid}", f"card-{cid}", f"198.51.100.{len(cid)}", "Mozilla"}
        assert [v for v in raw if v in text] == []
    assert miss == [(404, {"error": "no such customer"})] * 4, "every miss looks the same"
    assert unauthorised[0] == 401
    assert overview[0] == 200 and sum(overview[1]["decisions"].values()) >= 1
    assert "This worker only" in overview[1]["scope"]
