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
    assert await a.release(reader(set()), now_s=0) == []  # the batch that read it: payments is seen behind
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
        # released by the batch that read it (the stall is timed from when payments is seen behind after that)
        assert [h.msg.topic for h in await a.release(reader(set()), now_s=now)] == ["payments"]
    assert await a.release(reader(set()), now_s=16.9) == []  # payments last brought an event at 12
    assert [h.msg.topic for h in await a.release(reader(set()), now_s=17)] == ["devices"]  # stalled for 5 s


async def test_a_quiet_topic_that_gets_a_new_record_is_not_stalled_while_the_record_comes_in() -> None:
    """Issue 10: an event held long (waiting for the other worker's marks) while account-flags was read up and quiet;
    then the other worker flags a linked account on this partition. The consumer knows the flag's offset (the high
    watermark moved) a few ms before the customer agent gets it. That is no stalled topic, but the hold was cut short at
    once (the flags topic had 'brought nothing' for as long as it had been quiet), releasing the whole backlog held
    out of order. The stall is timed from when the topic is seen behind, after it was last seen read up."""
    a = Aligner(max_hold_s=5, max_held=100, topics=("payments", "account-flags"))
    everything = {("payments", 0), ("account-flags", 0)}
    a.add(Msg("account-flags", 0, 0), Ev(50), now_s=0)
    a.add(Msg("payments", 0, 0), Ev(300), now_s=0)

    def gate(at: int) -> bool:
        return at < 100  # the other worker's marks have passed 100, not 300 yet

    assert [h.at for h in await a.release(reader(everything), now_s=0, gate=gate)] == [50]
    for now in (1, 10, 19.99):
        assert await a.release(reader(everything), now_s=now, gate=gate) == []  # the gate's wait: not timed here
    flag_known = {("payments", 0)}  # a new flag on account-flags[0]: its offset is known, it is not read yet
    assert await a.release(reader(flag_known), now_s=20, gate=gate) == [], "not stalled: behind for 0 s"
    a.add(Msg("account-flags", 0, 1), Ev(200), now_s=20.01)
    out = await a.release(reader(everything), now_s=20.01, gate=lambda at: True)
    assert [(h.msg.topic, h.at) for h in out] == [("account-flags", 200), ("payments", 300)]


async def test_a_topic_behind_that_brings_nothing_is_stalled_after_the_hold_from_when_it_fell_behind() -> None:
    forced: list[str] = []
    a = Aligner(max_hold_s=5, max_held=100, topics=("payments", "account-flags"), on_forced=forced.append)
    everything = {("payments", 0), ("account-flags", 0)}
    a.add(Msg("payments", 0, 0), Ev(300), now_s=0)
    assert await a.release(reader(everything), now_s=10, gate=lambda at: False) == []
    flag_known = {("payments", 0)}  # a flag the consumer knows of, which never arrives
    assert await a.release(reader(flag_known), now_s=10, gate=lambda at: False) == []
    assert await a.release(reader(flag_known), now_s=14.9, gate=lambda at: False) == []
    assert [h.at for h in await a.release(reader(flag_known), now_s=15, gate=lambda at: False)] == [300]
    assert forced == ["hold_timeout"]
    a.add(Msg("payments", 0, 1), Ev(400), now_s=16)  # seen behind again only from the next release on
    assert await a.release(reader(flag_known), now_s=16, gate=lambda at: False) == []
    assert await a.release(reader(flag_known), now_s=20.9, gate=lambda at: False) == []
