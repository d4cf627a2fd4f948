"""System (b), the no-framework ceiling: a plain aiokafka loop running the worker's pure step.

The same `agents.rules.journey.handle` as the live customer agent, with customer states in a dict and identity links
folded into an in-memory index after each event, as `agents/rules/replay.py` does (one process holds every
partition, so the links need not travel through Kafka). Outputs go to PREFIX.<topic> through bench/plain.py. On exit
it writes each customer's state size, in the worker's own table encoding (pipeline.wire.state_codec), to --stats.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from agents.rules.events import AccountFlagged
from agents.rules.identity import IdentityNode, apply
from agents.rules.journey import Context, CustomerState, handle, identifiers_needed
from bench import plain
from pipeline.policies import load_policy
from pipeline.settings import Settings
from pipeline.wire import state_codec


class Journeys:
    """The journey step with the identity index in memory; where the customer states live is the caller's."""

    def __init__(self) -> None:
        self.policy = load_policy(None)
        self.ctx = Context(link_secret=Settings().link_secret)  # the worker's default secret
        self.index: dict[str, IdentityNode] = {}

    def step(self, state: CustomerState | None, event: Any) -> tuple[CustomerState | None, tuple[Any, ...]]:
        """(the customer's new state, or None for a duplicate that changes nothing; the records to emit).

        Flags for linked accounts are left out: the bench systems have no `account-flags` topic to route them to
        the other customer's state (a handful per simulated month; the worker's own run includes them)."""
        links = {i: self.index.get(i) for i in identifiers_needed(event, self.ctx)}
        result = handle(state, event, links, self.policy, self.ctx)
        if result.duplicate:
            return None, ()
        for rec in result.links:
            for ident in rec.identifiers:
                node = apply(self.index.get(ident), ident, rec)
                if node is not None:
                    self.index[ident] = node
        return result.state, tuple(o for o in result.outputs if not isinstance(o, AccountFlagged))


def build(a: argparse.Namespace) -> tuple[plain.Step, Callable[[], None] | None]:
    journeys = Journeys()
    states: dict[str, CustomerState] = {}

    def step(event: Any) -> Iterable[Any]:
        new, outputs = journeys.step(states.get(event.customer_id), event)
        if new is not None:
            states[event.customer_id] = new
        return outputs

    def write_stats() -> None:
        if a.stats:
            Path(a.stats).write_text(json.dumps({cid: len(state_codec.dumps(s)) for cid, s in states.items()}))

    return step, write_stats


if __name__ == "__main__":
    parser = plain.arguments(__doc__ or "")
    parser.add_argument("--stats", help="write {customer_id: state bytes} here on exit")
    plain.main(build, parser)
