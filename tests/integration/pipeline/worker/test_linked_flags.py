"""A serial claimant's linked alias on another partition loses instant refunds (issue #10.4), on a real broker.

cust-a and its alias share a device; cust-a claims three empty boxes from it, and the third claim judges it a
serial claimant. The worker flags the alias through `account-flags`, keyed by the alias's own id so the record
reaches the alias's partition; the alias's next claim, small and from its own device (nothing in it links to
cust-a's claims), gets no instant refund, and its decision says which link withheld it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner

from agents.rules.events import (
    AccountFlagged,
    DeviceSeen,
    OrderDelivered,
    OrderPlaced,
    RefundDecision,
    RefundRequested,
)
from agents.rules.pseudonyms import DEV_PSEUDONYMS
from tests.integration.support import collect, journey, journey_env, worker, write_jsonl

pytestmark = pytest.mark.integration
DAY = 86_400_000
T0 = 1_760_000_000_000
PARTITIONS = list(range(4))  # JOURNEY_PARTITIONS' default
CLAIMANT = "cust-a"


def partition(customer: str) -> int:
    return int(DefaultPartitioner()(customer.encode(), PARTITIONS, PARTITIONS))


ALIAS = next(c for c in (f"cust-alias-{n}" for n in range(100)) if partition(c) != partition(CLAIMANT))


def bought(customer: str, order: str, at: int) -> list[Any]:
    return [OrderPlaced(event_id=f"ev-{order}", customer_id=customer, occurred_at=at, order_id=order,
                        channel="online", amount_minor=8_900, currency="EUR"),
            OrderDelivered(event_id=f"ev-{order}-d", customer_id=customer, occurred_at=at + DAY, order_id=order)]


def claim(customer: str, refund_id: str, order: str, at: int, reason: str, amount: int,
          device: str) -> RefundRequested:
    return RefundRequested(
        event_id=f"ev-{refund_id}", customer_id=customer, occurred_at=at, refund_id=refund_id, order_id=order,
        amount_minor=amount, currency="EUR", reason=reason, claimant_name=f"Name {customer}",
        claimant_email=f"{customer}@example.test", device_id=device, shipping_address_id=f"addr-{customer}",
        card_fingerprint=f"card-{customer}")


def test_the_linked_alias_of_a_serial_claimant_on_another_partition_gets_no_instant_refund(
        broker: Any, tmp_path: Path) -> None:
    env = journey_env(broker.bootstrap, tmp_path)
    alias_seen = [DeviceSeen(event_id="seen-alias", customer_id=ALIAS, occurred_at=T0, device_id="dev-shared",
                             ip="198.51.100.9", ip_country="NL", user_agent="ua"), *bought(ALIAS, "ord-alias", T0)]
    boxes = [e for k in (1, 2, 3) for e in (
        *bought(CLAIMANT, f"ord-a{k}", T0 + k * 60_000),
        claim(CLAIMANT, f"ref-a{k}", f"ord-a{k}", T0 + (2 + k) * DAY, "empty_box", 8_900, "dev-shared"))]
    alias_claim = claim(ALIAS, "ref-alias", "ord-alias", T0 + 7 * DAY, "damaged", 1_500, "dev-alias-own")
    index = "payment-journey-identity-index-changelog"

    shared = DEV_PSEUDONYMS.identifier("device", "dev-shared").encode()  # the index holds pseudonyms

    def indexed(got: list[Any]) -> bool:  # the identity index has the alias on the shared device
        return any(isinstance(v, bytes) and shared in v and ALIAS.encode() in v for _, v, _ in got)

    with worker(env, tmp_path / "worker.log") as proc:
        assert journey("publish", str(write_jsonl(tmp_path / "alias.jsonl", alias_seen)), env=env).returncode == 0
        assert indexed(collect(broker.bootstrap, tmp_path, [index], indexed))
        assert journey("publish", str(write_jsonl(tmp_path / "boxes.jsonl", boxes)), env=env).returncode == 0
        flags = [r for _, r, _ in collect(broker.bootstrap, tmp_path, ["account-flags"], lambda g: len(g) >= 1)]
        assert journey("publish", str(write_jsonl(tmp_path / "claim.jsonl", [alias_claim])), env=env).returncode == 0
        got = collect(broker.bootstrap, tmp_path, ["refund-decisions", "account-flags-dlq"],
                      lambda g: sum(isinstance(r, RefundDecision) for _, r, _ in g) >= 4, settle=1)
        assert proc.poll() is None

    (flag,) = flags
    assert isinstance(flag, AccountFlagged)
    assert (flag.customer_id, flag.cause, flag.via, flag.source_event_id) == (
        ALIAS, "serial_refund_abuse", ("device",), "ev-ref-a3")
    decided = {r.refund_id: r for t, r, _ in got if t == "refund-decisions"}
    assert decided["ref-a3"].reasons[0].code == "LINKED_SERIAL_CLAIMS"
    assert not [t for t, _, _ in got if t.endswith("-dlq")], "the flag was keyed right: no key_mismatch"
    alias = decided["ref-alias"]
    assert alias.outcome == "refund_on_return" and alias.linked_claims == 0
    assert alias.reasons[0].code == "LINKED_ACCOUNT_FLAGGED"
    assert alias.reasons[0].detail.startswith("Shares a device with an account flagged for serial refund abuse")
