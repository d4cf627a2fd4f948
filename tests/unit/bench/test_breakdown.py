"""bench/breakdown.py: each call is counted once, for the outermost part, and a small run of the real agents gives
every part its share."""

from __future__ import annotations

from bench.breakdown import PARTS, Parts, measure, rows


class Body:
    def outer(self) -> str:
        return self.inner() + "!"

    def inner(self) -> str:
        return "done"


def test_a_part_called_inside_another_counts_for_the_outer_one() -> None:
    ticks = iter([0.0, 5.0, 10.0, 12.0])
    parts = Parts(clock=lambda: next(ticks))
    body = Body()
    parts.wrap(body, "outer", "pure step")
    parts.wrap(body, "inner", "state written")
    assert body.outer() == "done!"  # outer: clock 0 -> 5; inner runs inside it and reads no clock
    assert body.inner() == "done"  # on its own: 10 -> 12
    assert parts.seconds["pure step"] == 5.0 and parts.seconds["state written"] == 2.0


def test_a_small_run_of_the_real_agents_fills_every_named_part() -> None:
    b = measure(events=300, batch=100, warm=100)
    assert set(b.seconds) == {name for name, _ in PARTS}
    for name in ("decode and checks", "pseudonyms", "pure step", "outputs encoded", "explorer history",
                 "state written", "identity index", "links in flight"):
        assert b.seconds[name] > 0, name
    assert abs(sum(b.seconds.values()) - b.total_s) < 1e-9  # the rest is what the parts leave of the whole
    table = rows(b, worker_ms=0.8, loop_ms=0.3)
    assert [r[0] for r in table[:len(PARTS)]] == [name for name, _ in PARTS]
    assert table[-2][1] == "800" and table[-1][1] == "300"


def test_runs_one_after_another_measure_only_themselves() -> None:
    """Each run puts back what it wrapped: the first run's figures stay as they were while a second one runs."""
    import agents.rules.journey as journey

    handle = journey.handle
    first = measure(events=200, batch=100, warm=100)
    assert journey.handle is handle
    before = dict(first.seconds)
    measure(events=200, batch=100, warm=100)
    assert first.seconds == before
