"""A labelled synthetic population of shop customers: realistic traffic with ground truth.

Used by `journey demo` and `journey simulate` (published live), by the decision-quality report (run through the
rules and compared with the labels) and by tests. Pure and deterministic for a seed (`random.Random(seed)`, no wall
clock: the start time is an argument) and free of real personal data (names like "Customer 17", e-mails at
example.test, IPs from the documentation ranges).

`generate` plays every seed story of shared/DOMAIN.md once, then fills the population with legitimate customers
(life.py) and a minority of fraud actors (stories.py); given a policy, reviewers then judge every case the rules
queue for review (reviews.py). `story_events` plays one story alone, for tests of other
modules. The building blocks live in world.py and events.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator

from agents.rules.policy import Policy
from pipeline.sim.life import everyday_life
from pipeline.sim.reviews import review_cases
from pipeline.sim.stories import (
    SEED_STORIES,
    account_takeover,
    card_testing,
    dutch_klarna,
    late_payer,
    serial_empty_box,
    stolen_card,
    store_first_online,
    swedish_french_card,
    traveller_usual_device,
)
from pipeline.sim.world import DAY, Labelled, World

__all__ = ["DEFAULT_START_MS", "SEED_STORIES", "STORIES", "Labelled", "generate", "label_index", "story_events",
           "to_jsonl"]

DEFAULT_START_MS = 1_760_000_000_000  # 2025-10-09 08:53 UTC; any instant will do
STORY_DAYS = 30  # the seed stories need this much history


def everyday(w: World, start: int, end: int) -> None:
    """One legitimate customer's month."""
    everyday_life(w, w.person(), start, end)


Builder = Callable[[World, int, int], None]
STORIES: dict[str, Builder] = {
    "traveller_usual_device": traveller_usual_device,
    "swedish_french_card": swedish_french_card,
    "dutch_klarna": dutch_klarna,
    "store_first_online": store_first_online,
    "serial_empty_box": serial_empty_box,
    "late_payer": late_payer,
    "card_testing": card_testing,
    "account_takeover": account_takeover,
    "stolen_card": stolen_card,
    "everyday": everyday,
}
# Share of the remaining customers who are (the victims of) each fraud actor; the rest are legitimate.
FRAUD_MIX: tuple[tuple[str, float, int], ...] = (  # (story, share, accounts it uses)
    ("card_testing", 0.015, 1),
    ("account_takeover", 0.02, 1),
    ("stolen_card", 0.02, 2),
)


def generate(seed: int, customers: int, start_ms: int, days: int = 30,
             reviewed_under: Policy | None = None) -> list[Labelled]:
    """Every event of `customers` accounts (at least the seed stories' 11) from `start_ms` for `days` days (at least
    30, which the seed stories need), sorted by occurred_at; ties keep the order in which they were made. With
    `reviewed_under`, the ReviewVerdicts of the cases the rules queue under that policy are added (reviews.py)."""
    w = World.new(seed)
    horizon = start_ms + max(days, STORY_DAYS) * DAY
    for story in SEED_STORIES:
        STORIES[story](w, start_ms, start_ms + STORY_DAYS * DAY)
    end = start_ms + days * DAY
    while w.people < customers:
        STORIES[_next_story(w, customers - w.people)](w, start_ms, end)
    if reviewed_under is not None:
        review_cases(w, _history(w, horizon), reviewed_under, horizon)
    return _history(w, horizon)


def _next_story(w: World, accounts_left: int) -> str:
    roll = w.rng.random()
    for story, share, accounts in FRAUD_MIX:
        if roll < share and accounts <= accounts_left:
            return story
        roll -= share
    return "everyday"


def story_events(story: str, seed: int = 0, start_ms: int = DEFAULT_START_MS, days: int = STORY_DAYS
                 ) -> list[Labelled]:
    """One story alone (a key of STORIES), sorted by time: for tests of the rules that the story exercises."""
    w = World.new(seed)
    STORIES[story](w, start_ms, start_ms + days * DAY)
    return _history(w, start_ms + max(days, STORY_DAYS) * DAY)


def _history(w: World, horizon: int) -> list[Labelled]:
    """What has happened by `horizon`, in time order (a stable sort: ties stay in the order they were made)."""
    return sorted((x for x in w.labelled if x.event.occurred_at < horizon), key=lambda x: x.event.occurred_at)


def to_jsonl(labelled: Iterable[Labelled]) -> Iterator[str]:
    """The `journey publish` format, one line per event: {"topic", "type", "value"}, timestamps as epoch ms."""
    for x in labelled:
        e = x.event
        yield json.dumps({"topic": e.TOPIC, "type": type(e).__name__, "value": e.to_record()})


def label_index(labelled: Iterable[Labelled]) -> dict[str, Labelled]:
    """event_id -> its label, to score decisions by their source_event_id."""
    return {x.event.event_id: x for x in labelled}


def simulation_start(days: int, now_ms: int | None = None) -> int:
    """Where a simulated history of `days` days starts: at a UTC midnight, so it ends at least 15 days before `now_ms`
    (default: the clock's now; every dunning window in it has closed by then).

    Starting at a midnight makes a seed's population the same whatever the hour it is generated: the simulated
    customers' days are laid out from the start's time of day, and a start at 21:00 and one at 10:00 gave 100
    customers of seed 11 five and eleven chargebacks."""
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    return now - now % DAY - (days + 15) * DAY
