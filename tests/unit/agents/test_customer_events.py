"""The customer agent's body without Kafka: plain dicts for tables, a recording producer, the real codec and rules."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agents.customer_events import CustomerEvents, Incoming, Outgoing, Producer
from agents.rules import journey
from agents.rules.events import DeviceSeen, PaymentAttempted
from agents.rules.journey import CustomerState
from agents.runtime import Runtime
from pipeline.errors import RegistryError
from pipeline.metrics import Metrics
from pipeline.settings import Settings
from pipeline.wire.codec import Codec
from pipeline.wire.registry import LocalRegistry


class Sent:
    """A producer's send: records what the broker acknowledged; the first `failures` deliveries fail."""

    def __init__(self, failures: int = 0) -> None:
        self.records: list[tuple[str, bytes, bytes, Mapping[str, bytes] | None]] = []
        self.partitions: list[int | None] = []
        self.failures = failures
        self.on_delivery: list[Any] = []  # what the tables held when each record was acknowledged

    async def __call__(self, topic: str, key: bytes, value: bytes, headers: Any,
                       partition: int | None = None) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.failures:
            self.failures -= 1
            done.set_exception(ConnectionError("broker went away (test)"))
        else:
            self.records.append((topic, key, value, dict(headers) if headers else None))
            self.partitions.append(partition)
            done.set_result(None)
        return done

    def topics(self) -> list[str]:
        return [t for t, *_ in self.records]

    def with_partitions(self) -> list[tuple[str, bytes, bytes, Mapping[str, bytes] | None, int | None]]:
        return [(*r, p) for r, p in zip(self.records, self.partitions, strict=True)]


class FlakyRegistry:
    """Our registry, unreachable for the first `failures` look-ups of unknown ids."""

    def __init__(self, inner: LocalRegistry, writer: LocalRegistry, failures: int) -> None:
        self.inner, self.writer, self.failures = inner, writer, failures

    def register(self, subject: str, schema: str) -> int:
        return self.inner.register(subject, schema)

    def get_schema(self, schema_id: int) -> str:
        if self.failures:
            self.failures -= 1
            raise RegistryError("registry unreachable (test)")
        return self.writer.get_schema(schema_id)


def runtime(tmp_path: Path, registry: Any = None) -> Runtime:
    settings = Settings.from_env({"JOURNEY_DATA_DIR": str(tmp_path)})
    rt = Runtime.from_settings(settings, Metrics())
    if registry is not None:
        rt = Runtime(settings=settings, codec=Codec(registry, inline_lookups=False), policy=rt.policy,  # as the worker
                     metrics=rt.metrics)
    return rt


def agent(rt: Runtime, sent: Sent, customers: dict[str, Any] | None = None) -> CustomerEvents:
    return CustomerEvents(rt, {} if customers is None else customers, {}, {}, Producer(sent, max_backoff_s=0))


async def one(ce: CustomerEvents, topic: str, partition: int, offset: int, key: bytes, value: bytes) -> None:
    await ce.process_batch([Incoming(topic, partition, offset, key, value)])


def attempt() -> PaymentAttempted:
    return PaymentAttempted(event_id="a1", customer_id="c1", occurred_at=1_760_000_000_000, payment_id="p1",
                            order_id="o1", amount_minor=5_000, currency="EUR", method="card", initiator="customer",
                            card_fingerprint="card-1", customer_country="NL", sca_applies=True, network="visa")


async def test_an_attempt_yields_one_decision_and_is_stored_and_a_repeat_changes_nothing(tmp_path: Path) -> None:
    rt, sent, customers = runtime(tmp_path), Sent(), {}
    ce = agent(rt, sent, customers)
    data = rt.codec.encode(attempt())
    await one(ce, "payments", 0, 0, b"c1", data)
    assert sent.topics().count("decisions") == 1 and "identity-links" in sent.topics()
    stored = customers["c1"]
    await one(ce, "payments", 0, 1, b"c1", data)
    assert sent.topics().count("decisions") == 1 and customers["c1"] == stored


async def test_undecodable_bytes_and_records_on_the_wrong_topic_go_to_the_dead_letter_topic(tmp_path: Path) -> None:
    rt, sent = runtime(tmp_path), Sent()
    ce = agent(rt, sent)
    await one(ce, "payments", 2, 41, b"k", b"garbage!")
    device = DeviceSeen(event_id="d", customer_id="c1", occurred_at=1, device_id="x", ip="192.0.2.1",
                        ip_country="NL", user_agent="u")
    await one(ce, "payments", 2, 42, b"k", rt.codec.encode(device))
    assert sent.topics() == ["payments-dlq", "payments-dlq"]
    headers = [dict(h or {}) for *_, h in sent.records]
    assert headers[0]["error.reason"] == b"bad_magic" and headers[0]["error.offset"] == b"41"
    assert headers[1]["error.reason"] == b"wrong_topic"
    assert sent.records[0][2] == b"garbage!", "the original bytes are kept"


async def test_an_unreachable_registry_is_waited_for_not_dead_lettered(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    writer = LocalRegistry(tmp_path / "writer.json")
    for n in range(50):  # the writer's ids lie beyond the reader's own: the reader must look them up
        writer.register(f"other-{n}", f'{{"type": "fixed", "name": "f{n}", "size": 1}}')
    data = Codec(writer).encode(attempt())
    rt, sent = runtime(tmp_path, FlakyRegistry(LocalRegistry(tmp_path / "reader.json"), writer, failures=2)), Sent()
    waits: list[float] = []

    async def no_sleep(delay: float) -> None:
        waits.append(delay)

    monkeypatch.setattr("agents.customer_events.asyncio.sleep", no_sleep)
    await one(agent(rt, sent), "payments", 0, 0, b"c1", data)
    assert waits == [0.5, 1.0]
    assert "decisions" in sent.topics() and not any(t.endswith("-dlq") for t in sent.topics())


class SlowRegistry(FlakyRegistry):
    """A registry that takes half a second to answer a look-up, blocking the calling thread as urllib does."""

    def get_schema(self, schema_id: int) -> str:
        time.sleep(0.5)
        return super().get_schema(schema_id)


async def test_a_slow_registry_lookup_does_not_block_other_coroutines(tmp_path: Path) -> None:
    writer = LocalRegistry(tmp_path / "writer.json")
    for n in range(50):
        writer.register(f"other-{n}", f'{{"type": "fixed", "name": "f{n}", "size": 1}}')
    data = Codec(writer).encode(attempt())
    rt, sent = runtime(tmp_path, SlowRegistry(LocalRegistry(tmp_path / "reader.json"), writer, failures=0)), Sent()
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        started = time.monotonic()
        await one(agent(rt, sent), "payments", 0, 0, b"c1", data)
        took = time.monotonic() - started
    finally:
        ticker.cancel()
    assert took >= 0.5 and "decisions" in sent.topics()
    assert ticks >= 20, f"the event loop ran only {ticks} times while the registry was asked"


async def test_state_is_stored_only_after_every_output_was_delivered(tmp_path: Path) -> None:
    rt, sent, customers = runtime(tmp_path), Sent(failures=3), {}

    class Watching(dict[str, Any]):
        def __setitem__(self, key: str, value: Any) -> None:
            assert sent.records and sent.failures == 0, "a state was stored before its outputs were delivered"
            assert "decisions" in [t for t, *_ in sent.records]
            super().__setitem__(key, value)

    watched = Watching(customers)
    ce = CustomerEvents(rt, watched, {}, {}, Producer(sent, max_backoff_s=0))
    await one(ce, "payments", 0, 0, b"c1", rt.codec.encode(attempt()))
    assert "c1" in watched and sent.topics().count("decisions") == 1


async def test_a_batch_reads_each_state_once_and_writes_each_changed_customer_once(tmp_path: Path) -> None:
    rt, sent = runtime(tmp_path), Sent()
    reads: list[str] = []
    writes: list[str] = []

    class Counting(dict[str, Any]):
        def get(self, key: str, default: Any = None) -> Any:
            reads.append(key)
            return super().get(key, default)

        def __setitem__(self, key: str, value: Any) -> None:
            writes.append(key)
            super().__setitem__(key, value)

    ce = CustomerEvents(rt, Counting(), {}, {}, Producer(sent, max_backoff_s=0))
    first = attempt()
    events = [replace(first, event_id=f"a{n}", payment_id=f"p{n}", occurred_at=first.occurred_at + n * 60_000)
              for n in range(5)]
    await ce.process_batch([Incoming("payments", 0, n, b"c1", rt.codec.encode(e)) for n, e in enumerate(events)])
    assert reads == ["c1"] and writes == ["c1"]
    assert sent.topics().count("decisions") == 5
    assert ce.processed == {("payments", 0): 5}


async def test_a_rule_that_raises_parks_its_event_and_the_batch_goes_on(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    rt, sent, customers = runtime(tmp_path), Sent(), {}
    real = journey.handle

    def handle(state: Any, event: Any, *args: Any) -> Any:
        if event.event_id == "bad":
            raise ZeroDivisionError("a bug in a rule (test)")
        return real(state, event, *args)

    monkeypatch.setattr("agents.customer_events.journey.handle", handle)
    ce = agent(rt, sent, customers)
    bad, good = replace(attempt(), event_id="bad", payment_id="pb"), replace(attempt(), event_id="good")
    await ce.process_batch([Incoming("payments", 0, 0, b"c1", rt.codec.encode(bad)),
                            Incoming("payments", 0, 1, b"c1", rt.codec.encode(good))])
    assert sent.topics().count("payments-dlq") == 1 and sent.topics().count("decisions") == 1
    parked = next(h for t, _, _, h in sent.records if t == "payments-dlq")
    assert parked is not None and parked["error.reason"] == b"step_failed"
    assert b"ZeroDivisionError" in parked["error.message"] and b"test" not in parked["error.message"]


async def test_a_state_the_agent_wrote_is_not_decoded_again_but_bytes_written_elsewhere_are(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.wire import state_codec

    rt, sent, customers = runtime(tmp_path), Sent(), {}
    decoded: list[str] = []
    real = state_codec.loads

    def counting(cls: Any, data: bytes) -> Any:
        decoded.append(cls.__name__)
        return real(cls, data)

    monkeypatch.setattr("agents.customer_events.state_codec.loads", counting)
    ce = agent(rt, sent, customers)
    first = attempt()
    await one(ce, "payments", 0, 0, b"c1", rt.codec.encode(first))
    await one(ce, "payments", 0, 1, b"c1", rt.codec.encode(replace(first, event_id="a2", payment_id="p2")))
    assert decoded.count("CustomerState") == 0  # the second batch reused what the first one wrote
    other = CustomerEvents(rt, customers, {}, {}, Producer(sent, max_backoff_s=0))  # another worker takes over
    await one(other, "payments", 0, 2, b"c1", rt.codec.encode(replace(first, event_id="a3", payment_id="p3")))
    await one(ce, "payments", 0, 3, b"c1", rt.codec.encode(replace(first, event_id="a4", payment_id="p4")))
    assert decoded.count("CustomerState") == 2  # each worker decoded the bytes the other one wrote
    final = real(CustomerState, customers["c1"])
    assert {"a1", "a2", "a3", "a4"} <= set(final.recent_event_ids)


async def test_a_log_that_now_ends_before_what_was_read_is_reported_and_a_growing_one_is_not(tmp_path: Path) -> None:
    rt, sent = runtime(tmp_path), Sent()
    ce = agent(rt, sent)
    await one(ce, "payments", 2, 41, b"c1", rt.codec.encode(attempt()))
    ends = {("payments", 2): 42}
    assert ce.log_shrunk(ends.get) is None
    ends[("payments", 2)] = 100
    assert ce.log_shrunk(ends.get) is None
    ends[("payments", 2)] = 3  # the broker came back with fewer records than this worker has read
    assert ce.log_shrunk(ends.get) == (("payments", 2), 3, 42)


async def test_a_tombstone_erases_the_state_and_due_index_after_the_erasure_records_are_delivered(
        tmp_path: Path) -> None:
    from agents.rules.events import PaymentFailed

    rt, sent, customers, due = runtime(tmp_path), Sent(), {}, {}
    ce = CustomerEvents(rt, customers, due, {}, Producer(sent, max_backoff_s=0))
    failed = PaymentFailed(event_id="f1", customer_id="c1", occurred_at=1_760_000_000_100, payment_id="p1",
                           decline_code="insufficient_funds", network="visa", network_response_code="51",
                           initiator="customer", order_id="o1")
    await ce.process_batch([Incoming("payments", 0, 0, b"c1", rt.codec.encode(attempt())),
                            Incoming("payments", 0, 1, b"c1", rt.codec.encode(failed))])
    assert "c1" in customers and "c1" in due  # a retry is scheduled
    delivered_before: list[bool] = []
    real = sent.__call__

    async def watching(topic: str, key: bytes, value: bytes, headers: Any,
                       partition: int | None = None) -> asyncio.Future[None]:
        delivered_before.append("c1" in customers)
        return await real(topic, key, value, headers, partition)

    ce.producer = Producer(watching, max_backoff_s=0)
    await ce.process_batch([Incoming("customers", 0, 7, b"c1", None, timestamp_ms=1_760_000_009_000)])
    assert "c1" not in customers and "c1" not in due
    assert delivered_before and all(delivered_before), "the erasure records go out before the state is deleted"
    erased = [rt.codec.decode(v) for t, _, v, _ in sent.records if t in ("erasures", "identity-links")]
    done, *per_partition = erased[-1 - rt.settings.partitions:]
    assert type(done).__name__ == "CustomerErased" and done.event_id == "erasure:customers:0:7"
    assert {type(r).__name__ for r in per_partition} == {"IdentityErased"} and per_partition[0].identifiers
    assert sorted(sent.partitions[-rt.settings.partitions:]) == list(range(rt.settings.partitions)), \
        "an erasure reaches every identity-links partition, so every copy of a node is rewritten"
    await ce.process_batch([Incoming("customers", 0, 7, b"c1", None, timestamp_ms=1_760_000_009_000)])  # again
    assert "c1" not in customers
    assert type(rt.codec.decode(sent.records[-1][2])).__name__ == "CustomerErased"  # nothing left to unlink


async def test_an_erasure_and_new_events_in_one_batch_leave_only_the_new_state(tmp_path: Path) -> None:
    rt, sent, customers = runtime(tmp_path), Sent(), {}
    ce = agent(rt, sent, customers)
    later = replace(attempt(), event_id="a2", payment_id="p2", occurred_at=1_760_000_900_000)
    await ce.process_batch([Incoming("payments", 0, 0, b"c1", rt.codec.encode(attempt())),
                            Incoming("customers", 0, 0, b"c1", None, timestamp_ms=1_760_000_500_000),
                            Incoming("payments", 0, 1, b"c1", rt.codec.encode(later))])
    state = journey_state(customers["c1"])
    assert state.recent_event_ids == ("a2",) and state.profile.payments.attempted == 1


def journey_state(data: bytes) -> CustomerState:
    from pipeline.wire import state_codec

    return state_codec.loads(CustomerState, data)


def grey_zone_attempt() -> PaymentAttempted:
    """A new customer abroad with a card from home: risk 65, a grey-zone challenge, a case for the review queue."""
    return replace(attempt(), amount_minor=2_500, device_id="dev-c1", ip="192.0.2.1", ip_country="US",
                   card_country="NL", card_issuer="bank-nl")


async def test_a_grey_zone_case_enters_the_review_queue_after_delivery_and_a_verdict_removes_it(
        tmp_path: Path) -> None:
    from agents.rules.events import ReviewVerdict
    from agents.rules.reviews import OpenReviews
    from pipeline.wire import state_codec

    rt, sent = runtime(tmp_path), Sent()

    class Watching(dict[str, Any]):
        def __setitem__(self, key: str, value: Any) -> None:
            assert "decisions" in sent.topics(), "the queue was written before the decision was delivered"
            super().__setitem__(key, value)

    queue = Watching()
    ce = CustomerEvents(rt, {}, {}, {}, Producer(sent, max_backoff_s=0), review_queue=queue)
    await one(ce, "payments", 0, 0, b"c1", rt.codec.encode(grey_zone_attempt()))
    listed = state_codec.loads(OpenReviews, queue["c1"])
    assert listed.customer_id == "c1" and [c.case_id for c in listed.cases] == ["p1"]
    assert listed.cases[0].identifiers == (), "the table every worker holds carries no identifiers"
    judged = ReviewVerdict(event_id="v1", customer_id="c1", occurred_at=attempt().occurred_at + 60_000, case_id="p1",
                           case_kind="payment", verdict="legitimate", reviewer="r1")
    await one(ce, "reviews", 0, 0, b"c1", rt.codec.encode(judged))
    assert "c1" not in queue


async def test_a_flag_for_a_linked_account_is_keyed_by_that_account_and_folded_there(tmp_path: Path) -> None:
    from agents.rules.events import AccountFlagged, ReviewVerdict
    from agents.rules.identity import IdentityNode
    from pipeline.wire import state_codec

    rt, sent, customers = runtime(tmp_path), Sent(), {}
    from agents.rules.pseudonyms import DEV_PSEUDONYMS

    device = DEV_PSEUDONYMS.identifier("device", "dev-c1")  # the index holds pseudonyms
    shared = IdentityNode(identifier=device, customers=(("c2", 1_759_000_000_000),))
    ce = CustomerEvents(rt, customers, {}, {device: state_codec.dumps(shared)},
                        Producer(sent, max_backoff_s=0))
    await one(ce, "payments", 0, 0, b"c1", rt.codec.encode(grey_zone_attempt()))
    fraud = ReviewVerdict(event_id="v1", customer_id="c1", occurred_at=attempt().occurred_at + 60_000, case_id="p1",
                          case_kind="payment", verdict="confirmed_fraud", reviewer="r1", note="a private note")
    await one(ce, "reviews", 0, 0, b"c1", rt.codec.encode(fraud))
    flags = [(k, v) for t, k, v, _ in sent.records if t == "account-flags"]
    assert [k for k, _ in flags] == [b"c2"], "keyed by the linked account, so it reaches that account's partition"
    flag = rt.codec.decode(flags[0][1])
    assert isinstance(flag, AccountFlagged) and flag.customer_id == "c2" and flag.via == ("device",)
    assert all(b"a private note" not in value for _t, _k, value, _h in sent.records), "the note goes nowhere"
    await one(ce, "account-flags", 1, 0, b"c2", flags[0][1])
    await one(ce, "account-flags", 1, 1, b"c2", flags[0][1])  # redelivered: folded once
    linked = state_codec.loads(CustomerState, customers["c2"])
    assert [f.source_event_id for f in linked.reviews.flags] == ["v1"]
    assert not any(t.endswith("-dlq") for t in sent.topics())
    assert rt.metrics.account_flags.labels("confirmed_fraud")._value.get() == 1


def test_table_values_are_decoded_again_only_when_their_bytes_change() -> None:
    from agents.customer_events import DecodedValues

    decoded: list[bytes] = []

    def decode(data: bytes) -> str:
        decoded.append(data)
        return data.decode()

    kept: DecodedValues[str] = DecodedValues(decode, limit=2)
    assert kept.get("a", b"1") == "1" and kept.get("a", b"1") == "1" and decoded == [b"1"]
    assert kept.get("a", b"2") == "2" and decoded == [b"1", b"2"], "another worker's write: decoded again"
    kept.put("b", b"3", "three")
    assert kept.get("b", b"3") == "three" and len(decoded) == 2, "what was just written is not decoded"
    kept.put("c", b"4", "four")  # over the limit: the least recently stored, "a", goes
    assert kept.get("a", b"2") == "2" and len(decoded) == 3
    kept.forget("c")
    assert kept.get("c", b"4") == "4" and len(decoded) == 4


async def test_the_producer_is_pushed_once_per_round_after_every_record_of_it_was_handed_over() -> None:
    sent = Sent(failures=1)  # the first record fails: a second round sends it again
    calls: list[str] = []

    async def send(topic: str, key: bytes, value: bytes, headers: Any, partition: int | None) -> Any:
        calls.append(value.decode())
        return await sent(topic, key, value, headers, partition)

    producer = Producer(send, max_backoff_s=0, push=lambda: calls.append("push"))
    await producer.deliver([Outgoing("decisions", b"c1", f"v{i}".encode()) for i in range(3)])
    assert calls == ["v0", "v1", "v2", "push", "v0", "push"]
    assert sorted(v for _, _, v, _ in sent.records) == [b"v0", b"v1", b"v2"]


async def test_an_events_latency_runs_from_its_record_timestamp_to_the_delivery_of_its_outputs(tmp_path: Path) -> None:
    """journey_event_latency_seconds: the record's timestamp to the broker's acknowledgement of the batch's outputs
    (here the broker takes 0.3 s to acknowledge); duplicates, dead letters and records without a timestamp are not
    counted."""
    rt, acked = runtime(tmp_path), Sent()

    async def slow(topic: str, key: bytes, value: bytes, headers: Any, partition: int | None = None) -> Any:
        done = await acked(topic, key, value, headers, partition)
        later: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.3, later.set_result, None)
        return asyncio.gather(done, later)

    ce = CustomerEvents(rt, {}, {}, {}, Producer(slow, max_backoff_s=0))
    data = rt.codec.encode(attempt())

    def sample(name: str) -> float:
        return rt.metrics.registry.get_sample_value(f"journey_event_latency_seconds_{name}", {"topic": "payments"}) or 0

    sent_2s_ago = time.time_ns() // 1_000_000 - 2_000
    await ce.process_batch([Incoming("payments", 0, 0, b"c1", data, timestamp_ms=sent_2s_ago)])
    assert sample("count") == 1
    assert 2.3 <= sample("sum") < 5, "two seconds on the way to the worker plus 0.3 s until the broker acknowledged"
    await ce.process_batch([Incoming("payments", 0, 1, b"c1", data, timestamp_ms=sent_2s_ago),  # a duplicate
                            Incoming("payments", 0, 2, b"c2", b"garbage!", timestamp_ms=sent_2s_ago),
                            Incoming("payments", 0, 3, b"c3", rt.codec.encode(replace(
                                attempt(), event_id="a3", customer_id="c3", payment_id="p3")))])  # no timestamp
    assert "payments-dlq" in acked.topics() and acked.topics().count("decisions") == 2
    assert sample("count") == 1
