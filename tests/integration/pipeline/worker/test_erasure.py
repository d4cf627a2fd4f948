"""Privacy on the real broker: no raw identifier in what the worker stores or links, and `journey erase` removes a
customer from every table and the identity index (issue 10, part 3)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

from agents.history import SEP
from agents.progress import is_progress_key
from agents.rules.events import (
    DeviceSeen,
    PaymentAttempted,
    PaymentFailed,
    RefundRequested,
)
from agents.rules.identity import IdentityNode, merge
from agents.rules.journey import CustomerState, remembered_id
from agents.rules.pseudonyms import DEV_PSEUDONYMS, FIELD_KINDS, NOT_KEPT, Pseudonyms
from pipeline.kafka.clients import consume
from pipeline.sim import generate, simulation_start
from pipeline.wire import state_codec
from tests.integration.support import collect, journey, journey_env, worker, write_jsonl

pytestmark = pytest.mark.integration
APP = "payment-journey"
STATE, DUE, INDEX, HISTORY = (f"{APP}-{t}-changelog"
                              for t in ("customer-state", "due-index", "identity-index", "customer-history"))
HOUR = 3_600_000
SECRET = "integration-test-pseudonym-secret"


def read_raw(bootstrap: str, topics: list[str]) -> list[tuple[str, bytes | None, bytes | None]]:
    """Every record of the topics, as bytes: (topic, key, value)."""
    async def run() -> list[tuple[str, bytes | None, bytes | None]]:
        out = []
        stream = consume(bootstrap, topics, from_beginning=True, follow=False, idle_s=1.0)
        async with contextlib.aclosing(stream):
            async for topic, _p, _o, key, value, _h in stream:
                out.append((topic, key, value))
        return out

    return asyncio.run(run())


def latest(records: list[tuple[str, bytes | None, bytes | None]], topic: str) -> dict[str, bytes | None]:
    """What compaction keeps of a changelog: the last value per key (None: a tombstone); Faust writes the keys of
    its changelogs as JSON strings."""
    found: dict[str, bytes | None] = {}
    for t, key, value in records:
        if t == topic and key is not None:
            found[json.loads(key)] = value
    return found


def index_copies(bootstrap: str) -> dict[str, list[IdentityNode]]:
    """Each identity node's copies as compaction keeps them: the last value per key on each changelog partition (a
    node can be written to several; a worker reads their join)."""
    async def run() -> dict[tuple[str, int], bytes | None]:
        found: dict[tuple[str, int], bytes | None] = {}
        stream = consume(bootstrap, [INDEX], from_beginning=True, follow=False, idle_s=1.0)
        async with contextlib.aclosing(stream):
            async for _t, partition, _o, key, value, _h in stream:
                if key is not None:
                    found[(json.loads(key), partition)] = value
        return found

    copies: dict[str, list[IdentityNode]] = {}
    for (key, _p), value in asyncio.run(run()).items():
        if value and not is_progress_key(key):  # the index also holds the progress marks
            copies.setdefault(key, []).append(state_codec.loads(IdentityNode, value))
    return copies


def joined(copies: list[IdentityNode]) -> IdentityNode:
    node = copies[0]
    for other in copies[1:]:
        node = merge(node, other)
    return node


def raw_identifiers(events: list[Any]) -> set[str]:
    return {v for e in events for name in FIELD_KINDS if isinstance(v := getattr(e, name, None), str) and v}


def test_no_raw_identifier_reaches_the_changelogs_or_identity_links(broker: Any, tmp_path: Path) -> None:
    env = journey_env(broker.bootstrap, tmp_path, JOURNEY_PSEUDONYM_SECRET=SECRET)
    events = [x.event for x in generate(11, 30, simulation_start(30), 30)]
    attempts = {e.payment_id for e in events if isinstance(e, PaymentAttempted)}
    with worker(env, tmp_path / "worker.log"):
        assert journey("publish", str(write_jsonl(tmp_path / "e.jsonl", events)), env=env).returncode == 0
        collect(broker.bootstrap, tmp_path, ["decisions"],
                lambda g: {r.payment_id for _, r, _ in g} >= attempts, timeout=180, settle=4)
    records = read_raw(broker.bootstrap, [STATE, INDEX, "identity-links", HISTORY])
    stored = {t: [v for tt, _, v in records if tt == t and v] for t in (STATE, INDEX, "identity-links", HISTORY)}
    customers = {e.customer_id for e in events}
    assert set(latest(records, STATE)) == customers, "every customer's state is in the changelog"
    kept = {k.split(SEP)[0] for k, v in latest(records, HISTORY).items() if v}  # segment keys: <customer id>\x1f<k>
    assert kept == customers, "the explorer's history keeps every customer's records"
    assert stored[INDEX] and stored["identity-links"]
    blob = b"\n".join(k or b"" for _, k, _ in records) + b"\n" + b"\n".join(v for vs in stored.values() for v in vs)
    raw = raw_identifiers(events)
    emails = {e.claimant_email.strip().lower() for e in events if isinstance(e, RefundRequested)}
    assert len(raw) > 50 and emails
    names = {n for e in events for f in NOT_KEPT if isinstance(n := getattr(e, f, None), str) and len(n) > 3}
    assert names
    leaked = sorted(v for v in raw | emails | names if v.encode() in blob)
    assert leaked == [], f"raw identifiers stored: {leaked[:5]}"
    # ... and they are there, as pseudonyms under the configured key (not the development one)
    ours, dev = Pseudonyms(SECRET.encode()), DEV_PSEUDONYMS
    found = {v for v in raw if any(ours.of(k, v).encode() in blob for k in set(FIELD_KINDS.values()))}
    assert len(found) > len(raw) // 2
    assert not any(dev.of("device", e.device_id).encode() in blob for e in events if isinstance(e, DeviceSeen))


def story(t0: int) -> tuple[list[Any], list[Any]]:
    """Two customers sharing a device; the one to erase also pays with a card that fails (a retry is scheduled)
    and claims a refund with an e-mail (a claim mark on its nodes; a chargeback would stop the dunning). Then,
    after the erasure, new events under the same id."""
    gone, stays = "cust-erase-me", "cust-stays"

    def attempt(cid: str, n: int, at: int, card: str) -> PaymentAttempted:
        return PaymentAttempted(event_id=f"att-{cid}-{n}", customer_id=cid, occurred_at=at, payment_id=f"p-{cid}-{n}",
                                order_id=f"o-{cid}-{n}", amount_minor=4_000, currency="EUR", method="card",
                                initiator="customer", card_fingerprint=card, card_issuer="bank", card_country="NL",
                                customer_country="NL", sca_applies=False, network="visa", device_id="dev-shared",
                                ip="203.0.113.77", ip_country="NL", shipping_address_id=f"addr-{cid}")
    before = [
        attempt(stays, 1, t0, "card-stays"),
        attempt(gone, 1, t0 + HOUR, "card-gone-1"),
        attempt(gone, 2, t0 + 2 * HOUR, "card-gone-2"),
        PaymentFailed(event_id="fail-gone-2", customer_id=gone, occurred_at=t0 + 2 * HOUR + 1_000,
                      payment_id=f"p-{gone}-2", decline_code="insufficient_funds", network="visa",
                      network_response_code="51", initiator="customer", order_id=f"o-{gone}-2",
                      card_fingerprint="card-gone-2", amount_minor=4_000, currency="EUR"),
        RefundRequested(event_id="claim-gone", customer_id=gone, occurred_at=t0 + 3 * HOUR, refund_id="ref-gone",
                        order_id=f"o-{gone}-1", amount_minor=4_000, currency="EUR", reason="empty_box",
                        claimant_name="Gone Person", claimant_email="Gone.Person@example.org",
                        device_id="dev-gone-claim", card_fingerprint="card-gone-1"),
    ]
    after = [attempt(gone, 9, t0 + 30 * HOUR, "card-new")]
    return before, after


def test_journey_erase_removes_the_customer_from_every_table_and_the_index(broker: Any, tmp_path: Path) -> None:
    # memory:// tables: the restarted worker rebuilds them from the changelogs, which must hold no trace
    env = journey_env(broker.bootstrap, tmp_path, JOURNEY_STORE="memory://")
    t0 = time.time_ns() // 1_000_000 - 6 * HOUR
    before, after = story(t0)
    gone = before[1].customer_id
    with worker(env, tmp_path / "worker-1.log"):
        assert journey("publish", str(write_jsonl(tmp_path / "before.jsonl", before)), env=env).returncode == 0
        collect(broker.bootstrap, tmp_path, ["decisions", "refund-decisions", "dunning"],
                lambda g: sum(t == "decisions" for t, _, _ in g) == 3 and any(t == "refund-decisions" for t, _, _ in g)
                and any(t == "dunning" and r.action == "retry_scheduled" for t, r, _ in g), timeout=90, settle=3)
        state_before = latest(read_raw(broker.bootstrap, [STATE, DUE]), STATE)
        assert state_before.get(gone) and latest(read_raw(broker.bootstrap, [DUE]), DUE).get(gone)
        erased = journey("erase", gone, env=env)
        assert erased.returncode == 0, erased.stderr
        got = collect(broker.bootstrap, tmp_path, ["erasures"], lambda g: bool(g), timeout=60, settle=4)
    (confirmation,) = [r for _, r, _ in got]
    assert type(confirmation).__name__ == "CustomerErased" and confirmation.customer_id == gone

    records = read_raw(broker.bootstrap, [STATE, DUE, INDEX, "identity-links", HISTORY])
    assert latest(records, STATE)[gone] is None, "the customer-state changelog ends in a tombstone"
    segments = {k: v for k, v in latest(records, HISTORY).items() if k.split(SEP)[0] == gone}
    assert segments and all(v is None for v in segments.values()), "each segment of their history ends in a tombstone"
    assert latest(records, DUE)[gone] is None, "the due-index changelog ends in a tombstone"
    copies = index_copies(broker.bootstrap)
    nodes = {k: joined(c) for k, c in copies.items()}
    shared = DEV_PSEUDONYMS.identifier("device", "dev-shared")
    assert nodes[shared].customer_ids() == {"cust-stays"}, "the other customer stays on the shared device"
    on_nodes = [i for i, cs in copies.items() for n in cs if gone in n.customer_ids()
                or any(m.customer_id == gone for m in (*n.chargebacks, *n.claims))]
    assert on_nodes == [], "no changelog partition keeps a copy of a node that lists the erased customer"
    for kind, value in (("email", "gone.person@example.org"), ("device", "dev-gone-claim"), ("card", "card-gone-1"),
                        ("addr", f"addr-{gone}")):
        assert gone in dict(nodes[DEV_PSEUDONYMS.identifier(kind, value)].erased), kind
    links = collect(broker.bootstrap, tmp_path, ["identity-links"],
                    lambda g: any(type(r).__name__ == "IdentityErased" for _, r, _ in g), timeout=30)
    (erasure,) = [r for _, r, _ in links if type(r).__name__ == "IdentityErased"]
    assert erasure.customer_id == gone and shared in erasure.identifiers

    # a new worker rebuilds its tables from the changelogs; new events for the id start from an empty state
    with worker(env, tmp_path / "worker-2.log"):
        assert journey("publish", str(write_jsonl(tmp_path / "after.jsonl", after)), env=env).returncode == 0
        decided = collect(broker.bootstrap, tmp_path, ["decisions"],
                          lambda g: any(r.payment_id == after[0].payment_id for _, r, _ in g), timeout=90, settle=3)
    assert any(r.payment_id == after[0].payment_id for _, r, _ in decided)
    records = read_raw(broker.bootstrap, [STATE, INDEX])
    state = state_codec.loads(CustomerState, latest(records, STATE)[gone])
    assert state.recent_event_ids == (remembered_id(after[0].event_id),), "the state began again from empty"
    assert state.profile.chargebacks == 0 and state.refunds.claims == () and state.dunning.cases == ()
    nodes = {k: joined(c) for k, c in index_copies(broker.bootstrap).items()}
    assert nodes[shared].customer_ids() == {"cust-stays", gone}, "linked again from the new event, and only by it"
    assert all(m.customer_id != gone for n in nodes.values() for m in (*n.chargebacks, *n.claims))
