"""System (a), the I/O floor: consume -> decode -> encode -> produce with the project's codec and no state.

Every input event is decoded; each PaymentAttempted is answered with a fixed PaymentDecision. Run as its own process
by bench/e2e.py, like the other systems, so all pay the same process and network costs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from typing import Any

from agents.rules.events import PaymentAttempted, PaymentDecision, Reason
from bench import plain


def decide(a: PaymentAttempted) -> PaymentDecision:
    return PaymentDecision(
        event_id=f"{a.event_id}:decision", customer_id=a.customer_id, occurred_at=a.occurred_at,
        payment_id=a.payment_id, source_event_id=a.event_id, outcome="approve", sca_strategy="not_applicable",
        exemption=None, risk_score=0, recommended_method=a.method,
        reasons=(Reason(code="PASS_THROUGH", detail="Baseline."),), policy_version="bench",
    )


def step(event: Any) -> Iterable[Any]:
    return (decide(event),) if isinstance(event, PaymentAttempted) else ()


def build(_: argparse.Namespace) -> tuple[plain.Step, Callable[[], None] | None]:
    return step, None


if __name__ == "__main__":
    plain.main(build, plain.arguments(__doc__ or ""))
