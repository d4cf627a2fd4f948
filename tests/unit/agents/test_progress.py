"""Links in flight and progress marks, without Kafka: the customer agent, the index agent and the gate between them."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path
from typing import Any

from agents.alignment import TP, Aligner
from agents.customer_events import CustomerEvents, Incoming, Producer
from agents.identity_index import IdentityIndex
from agents.progress import Progress, RemoteGate, is_progress_key, progress_key
from agents.rules.events import Chargeback, IdentityErased, IdentityLinked, InputsProcessed, PaymentAttempted
from agents.rules.identity import IdentityNode, apply
from tests.unit.agents.test_customer_events import Sent, attempt, runtime

T0 = 1_760_000_000_000
DAY = 86_400_000


def mark(p: int, w: int, caught_up: bool = False, writer: str = "other", seq: int = 1, at: int = T0) -> InputsProcessed:
    return InputsProcessed(event_id=f"{writer}|{p}|{seq}", customer_id=progress_key(p), occurred_at=at, partition=p,
                           watermark=w, caught_up=caught_up, writer=writer, seq=seq)


def test_progress_keys_are_recognised_also_as_faust_writes_them_in_a_changelog() -> None:
    assert is_progress_key("~progress:3") and is_progress_key(b'"~progress:3"')
    assert not is_progress_key("card:~progress:3") and not is_progress_key(b'"card:x"')


def test_a_remote_partition_holds_an_older_backlog_event_until_its_watermark_passes() -> None:
    marks: dict[int, InputsProcessed | None] = {1: mark(1, T0 + 10)}
    gate = RemoteGate(2, marks.get, idle_s=5, lateness_ms=60_000)
    allows = gate.gate({0}, now_s=0, wall_ms=T0 + DAY)
    assert allows is not None and allows(T0 + 10) and not allows(T0 + 11)
    marks[1] = mark(1, T0 + 10, caught_up=True, at=T0 + DAY)  # caught up, but the event is a day old: backlog
    allows = gate.gate({0}, now_s=1, wall_ms=T0 + DAY)
    assert allows is not None and not allows(T0 + 11)
    assert gate.gate({0, 1}, now_s=1, wall_ms=T0 + DAY) is None, "no remote partition: nothing to wait for"


def test_a_caught_up_remote_partition_holds_back_no_live_event() -> None:
    marks = {1: mark(1, T0, caught_up=True, at=T0 + 1_000)}
    allows = RemoteGate(2, marks.get, idle_s=5, lateness_ms=60_000).gate({0}, now_s=0, wall_ms=T0 + 2_000)
    assert allows is not None and allows(T0 + 1_500)
    stale = {1: mark(1, T0, caught_up=True, at=T0 - 60_000)}  # its worker stopped marking: not known caught up
    allows = RemoteGate(2, stale.get, idle_s=5, lateness_ms=60_000).gate({0}, now_s=0, wall_ms=T0 + 2_000)
    assert allows is not None and not allows(T0 + 1_500)


def test_a_remote_partition_without_progress_counts_as_done_after_the_idle_timeout() -> None:
    idle: list[int] = []
    marks: dict[int, InputsProcessed | None] = {}
    gate = RemoteGate(2, marks.get, idle_s=2, lateness_ms=0, on_idle=lambda: idle.append(1))
    assert not gate.gate({0}, now_s=10, wall_ms=T0)(T0)  # type: ignore[misc]
    assert not gate.gate({0}, now_s=11.9, wall_ms=T0)(T0)  # type: ignore[misc]
    assert gate.gate({0}, now_s=12, wall_ms=T0)(T0) and idle == [1]  # type: ignore[misc]
    marks[1] = mark(1, T0 - 5)  # it moves again: waited for again, from now
    assert not gate.gate({0}, now_s=13, wall_ms=T0)(T0)  # type: ignore[misc]


async def test_an_owned_partition_behind_in_event_time_holds_the_others() -> None:
    a = Aligner(max_hold_s=60, max_held=100, topics=("payments",))
    a.assign({0, 1})

    class M:
        def __init__(self, p: int, o: int) -> None:
            self.topic, self.partition, self.offset = "payments", p, o

    class E:
        def __init__(self, at: int) -> None:
            self.occurred_at = at

    a.add(M(0, 0), E(300), now_s=0)
    a.add(M(1, 0), E(100), now_s=0)

    async def not_up(tp: TP) -> bool:
        return False

    out = await a.release(not_up, now_s=0)
    assert [h.at for h in out] == [100]  # partition 1 is read only to 100: partition 0's 300 waits
    a.add(M(1, 1), E(400), now_s=0)
    assert [h.at for h in await a.release(not_up, now_s=0)] == [300]
    assert await a.watermark(1, not_up) == (400, False) and await a.watermark(0, not_up) == (300, False)


def chargeback_then_attempt() -> tuple[PaymentAttempted, Chargeback, PaymentAttempted]:
    thief_first = replace(attempt(), event_id="a0", customer_id="victim", payment_id="p0", card_fingerprint="stolen")
    cb = Chargeback(event_id="cb", customer_id="victim", occurred_at=T0 + DAY, payment_id="p0", reason="fraud",
                    amount_minor=5_000)
    used = replace(attempt(), event_id="a1", customer_id="thief", occurred_at=T0 + 2 * DAY, card_fingerprint="stolen")
    return thief_first, cb, used


async def test_a_link_made_in_one_batch_is_seen_by_the_next_batch_before_the_index_applied_it(tmp_path: Path) -> None:
    rt, sent = runtime(tmp_path), Sent()
    first, cb, used = chargeback_then_attempt()
    ce = CustomerEvents(rt, {}, {}, {}, Producer(sent, max_backoff_s=0))  # an index that never applies anything
    await ce.process_batch([Incoming("payments", 0, 0, b"victim", rt.codec.encode(first))])
    await ce.process_batch([Incoming("payments", 0, 1, b"victim", rt.codec.encode(cb))])
    await ce.process_batch([Incoming("payments", 1, 0, b"thief", rt.codec.encode(used))])
    decision = next(rt.codec.decode(v) for t, _, v, _ in sent.records if t == "decisions" and b"a1" in v)
    assert decision.outcome == "decline", decision.reasons


async def test_marks_follow_the_links_and_the_index_applies_them_after_the_nodes(tmp_path: Path) -> None:
    rt, sent = runtime(tmp_path), Sent()
    identities: dict[str, Any] = {}
    aligner = Aligner(max_hold_s=60, max_held=100)
    aligner.assign({0, 1, 2, 3})  # every partition: nothing to wait for from other workers

    async def read_up(tp: TP, offsets: Any) -> bool:
        return True

    ce = CustomerEvents(rt, {}, {}, identities, Producer(sent, max_backoff_s=0), aligner=aligner, read_up=read_up)
    first, _, _ = chargeback_then_attempt()
    await ce.process_batch([Incoming("payments", 0, 0, b"victim", rt.codec.encode(first))])
    await ce.tick()
    on_links = [(k, v, p) for t, k, v, _, p in sent.with_partitions() if t == "identity-links"]
    kinds = [type(rt.codec.decode(v)).__name__ for _, v, _ in on_links]
    assert kinds == ["IdentityLinked", *["InputsProcessed"] * 4] and [p for *_, p in on_links] == [0, 0, 1, 2, 3]
    assert ce.progress.pending, "the link is kept until the index shows it applied"
    index = IdentityIndex(rt, identities, Producer(sent, max_backoff_s=0))
    await index.process_batch([Incoming("identity-links", p or 0, n, k, v) for n, (k, v, p) in enumerate(on_links)])
    applied = ce.mark_of(0)
    assert applied is not None and applied.caught_up and applied.writer == ce.progress.writer
    assert any(isinstance(k, str) and k.startswith("card:") for k in identities)
    ce.progress.prune()
    assert not ce.progress.pending


def test_links_in_flight_merge_into_what_the_index_holds() -> None:
    p = Progress(lambda _: None, idle_s=2)
    gen = p.begin(T0)
    rec = IdentityLinked(event_id="x|seen", identifiers=("device:d",), customer_id="c1", occurred_at=T0, kind="seen")
    p.linked_in(gen, 0, rec)
    node = p.node("device:d", None)
    assert node is not None and node.customer_ids() == {"c1"}
    assert p.node("device:other", None) is None
    p.prune()
    assert p.pending, "not applied yet: no mark"


def test_a_node_in_flight_in_several_batches_is_kept_until_the_last_of_them_is_applied() -> None:
    marks: dict[int, InputsProcessed] = {}
    p = Progress(marks.get, idle_s=2, writer="me")
    first, second = p.begin(T0), p.begin(T0)
    p.linked_in(first, 0, IdentityLinked(event_id="a|seen", identifiers=("device:d",), customer_id="c1",
                                         occurred_at=T0, kind="seen"))
    p.linked_in(second, 1, IdentityLinked(event_id="b|seen", identifiers=("device:d", "ip:i"), customer_id="c2",
                                          occurred_at=T0 + 1, kind="seen"))
    node = p.node("device:d", None)
    assert node is not None and node.customer_ids() == {"c1", "c2"}
    marks[0] = mark(0, T0, writer="me", seq=first.seq + 1)  # the index shows the first batch's links, not the second's
    p.prune()
    assert list(p.pending) == [second]
    still = p.node("device:d", None)
    assert still is not None and "c2" in still.customer_ids(), "the second batch's link is still in flight"
    marks[1] = mark(1, T0, writer="me", seq=second.seq + 1)
    p.prune()
    assert not p.pending and p.node("device:d", None) is None and p.node("ip:i", None) is None


def test_the_nodes_in_flight_are_the_join_of_every_link_in_flight_whatever_the_batches() -> None:
    """`Progress.node` shows a node as the index will hold it once every link in flight is applied: for random links
    (hot nodes over their bound, chargebacks, claims) spread over random batches, the stored node merged with what is
    in flight equals the stored node with each record applied in turn. With erasures in flight too, an erased
    customer with no link after their erasure is not shown."""
    for case in range(400):
        _links_in_flight(random.Random(case), erasures=case % 2 == 1)


def _links_in_flight(rng: random.Random, erasures: bool) -> None:
    progress = Progress(lambda p: None, idle_s=5)
    idents = [f"ip:{i}" for i in range(rng.randint(1, 3))]
    stored: dict[str, IdentityNode | None] = {i: None for i in idents}
    for i in idents:  # some stored nodes already hold earlier links, a hot one more than the bound
        for n in range(rng.choice((0, 0, 5, 60))):
            old = IdentityLinked(event_id=f"old-{n}", identifiers=(i,), customer_id=f"c{rng.randint(0, 80)}",
                                 occurred_at=T0 - DAY - rng.randint(0, DAY), kind="seen")
            stored[i] = apply(stored[i], i, old)
    expected = dict(stored)
    last_erased: dict[tuple[str, str], int] = {}  # (identifier, customer) -> position of their last erasure
    last_linked: dict[tuple[str, str], int] = {}
    n = 0
    for _batch in range(rng.randint(1, 4)):
        gen = progress.begin(T0)
        for _ in range(rng.randint(0, 40)):
            n += 1
            on = tuple(rng.sample(idents, rng.randint(1, len(idents))))
            cid, at = f"c{rng.randint(0, 80)}", T0 + rng.randint(-DAY, DAY)
            rec: IdentityLinked | IdentityErased
            if erasures and rng.random() < 0.1:
                rec = IdentityErased(event_id=f"e-{n}", customer_id=cid, occurred_at=at, identifiers=on)
                last_erased.update({(i, cid): n for i in on})
            else:
                kind = rng.choice(("seen", "seen", "seen", "chargeback", "claim"))
                rec = IdentityLinked(event_id=f"l-{n}", identifiers=on, customer_id=cid, occurred_at=at, kind=kind,
                                     reason="fraud" if kind != "seen" else None)
                last_linked.update({(i, cid): n for i in on})
            progress.linked_in(gen, rng.randint(0, 3), rec)
            for i in on:
                expected[i] = apply(expected[i], i, rec)
    for i in idents:
        shown, want = progress.node(i, stored[i]), expected[i]
        gone = {c for (j, c), at in last_erased.items() if j == i and last_linked.get((i, c), 0) < at}
        if erasures:
            assert shown is None or not gone & shown.customer_ids(), (i, gone & shown.customer_ids())
        elif want is not None:
            assert shown is not None and (shown.customers, shown.chargebacks, shown.claims) == (
                want.customers, want.chargebacks, want.claims), i
        else:
            assert shown is None, i
