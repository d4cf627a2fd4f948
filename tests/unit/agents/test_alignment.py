"""Event-time alignment and the caught-up check, without Kafka: which held events go, and when."""

from __future__ import annotations

from dataclasses import dataclass

from agents.alignment import TP, Aligner
from agents.due_timer import CatchUp


@dataclass
class Msg:
    topic: str
    partition: int
    offset: int


@dataclass
class Ev:
    occurred_at: int


def reader(done: set[TP]):  # type: ignore[no-untyped-def]
    async def read_up(tp: TP) -> bool:
        return tp in done

    return read_up


async def test_an_event_waits_until_every_other_topic_is_read_past_its_time() -> None:
    a = Aligner(max_hold_s=60, max_held=100, topics=("payments", "devices"))
    a.add(Msg("devices", 0, 0), Ev(200), now_s=0)
    assert await a.release(reader(set()), now_s=1) == []  # payments may still hold something earlier
    a.add(Msg("payments", 0, 0), Ev(100), now_s=1)
    a.add(Msg("payments", 0, 1), Ev(300), now_s=1)
    out = await a.release(reader(set()), now_s=1)
    assert [(h.msg.topic, h.at) for h in out] == [("payments", 100), ("devices", 200)]
    assert a.lowest_held(("payments", 0)) == 1 and a.lowest_held(("devices", 0)) is None


async def test_a_topic_read_up_to_its_high_watermark_holds_nothing_back() -> None:
    a = Aligner(max_hold_s=60, max_held=100, topics=("payments", "devices"))
    a.add(Msg("devices", 3, 7), Ev(200), now_s=0)
    out = await a.release(reader({("payments", 3)}), now_s=0)
    assert [h.msg.offset for h in out] == [7]


async def test_a_stalled_topic_holds_an_event_only_up_to_the_limits() -> None:
    a = Aligner(max_hold_s=5, max_held=2, topics=("payments", "devices"))
    a.add(Msg("devices", 0, 0), Ev(200), now_s=0)
    assert await a.release(reader(set()), now_s=4.9) == []
    assert len(await a.release(reader(set()), now_s=5.0)) == 1
    for n in range(3):
        a.add(Msg("devices", 0, n + 1), Ev(300 + n), now_s=10)
    assert [h.msg.offset for h in await a.release(reader(set()), now_s=10)] == [1]  # over max_held: the oldest


async def test_partitions_given_away_in_a_rebalance_are_forgotten() -> None:
    a = Aligner(max_hold_s=60, max_held=100, topics=("payments", "devices"))
    a.add(Msg("devices", 0, 0), Ev(1), now_s=0)
    a.add(Msg("devices", 1, 0), Ev(1), now_s=0)
    assert [h.msg.partition for h in a.drop(lambda p: p == 0)] == [1]
    assert a.count() == 1 and list(a.partitions()) == [0]


async def test_a_partition_is_caught_up_only_once_processed_to_the_high_watermark_on_every_topic() -> None:
    ends = {("payments", 0): 10, ("devices", 0): 4}
    starts = {("payments", 0): 3, ("devices", 0): 4}
    asked: list[TP] = []

    async def start(tp: TP) -> int:
        asked.append(tp)
        return starts[tp]

    processed: dict[TP, int] = {}
    c = CatchUp(highwater=ends.get, start=start, processed=processed, topics=("payments", "devices"))
    assert not await c.caught_up(0)  # payments resumes at 3 of 10
    processed[("payments", 0)] = 10
    assert await c.caught_up(0)  # devices: nothing new since its committed offset
    assert not await c.caught_up(1)  # no fetch has reported an end yet
    asked.clear()
    assert await c.caught_up(0) and asked == []  # a start at the end is remembered
    c.reset()
    assert await c.caught_up(0) and asked == [("devices", 0)]


async def test_events_put_back_wait_again_and_a_flag_read_later_goes_first() -> None:
    """After an event that sent a flag to a linked account, the customer agent puts the rest of the release back;
    they go again only once the flags topic is read past them, so the flag (earlier in event time) goes first."""
    a = Aligner(max_hold_s=60, max_held=100, topics=("payments", "account-flags"))
    a.add(Msg("payments", 0, 0), Ev(100), now_s=0)  # a verdict that flags a linked account
    a.add(Msg("payments", 1, 0), Ev(300), now_s=0)  # the linked account's later claim
    everything = {("payments", 0), ("payments", 1), ("account-flags", 0), ("account-flags", 1)}
    first, *rest = await a.release(reader(everything), now_s=0)
    assert first.at == 100 and [h.at for h in rest] == [300]
    a.put_back(rest)
    assert a.count() == 1 and a.lowest_held(("payments", 1)) == 0, "held again: its offset is not done"
    flags_sent = everything - {("account-flags", 1)}  # the flag is delivered, not read back yet
    assert await a.release(reader(flags_sent), now_s=1) == []
    a.add(Msg("account-flags", 1, 0), Ev(100), now_s=1)
    out = await a.release(reader(everything), now_s=1)
    assert [(h.msg.topic, h.at) for h in out] == [("account-flags", 100), ("payments", 300)]


async def test_a_topic_still_bringing_its_backlog_is_waited_for_however_long_that_takes() -> None:
    """The hold is cut short for a stalled topic, not for one a busy worker is still reading (a long backlog)."""
    a = Aligner(max_hold_s=5, max_held=100, topics=("payments", "devices"))
    a.add(Msg("devices", 0, 0), Ev(500), now_s=0)
    for n, now in enumerate((3, 6, 9, 12)):  # payments keeps bringing earlier events, below the device's time
        a.add(Msg("payments", 0, n), Ev(100 + n), now_s=now)
        assert [h.msg.topic for h in await a.release(reader(set()), now_s=now + 1)] == ["payments"]
    assert await a.release(reader(set()), now_s=16.9) == []  # payments last brought an event at 12
    assert [h.msg.topic for h in await a.release(reader(set()), now_s=17)] == ["devices"]  # stalled for 5 s
