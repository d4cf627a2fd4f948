"""Decision quality on a labelled synthetic population, side by side with naive baselines.

Runs `journey replay`'s engine (the same step as the live worker) over pipeline.sim's population and compares
every decision with the ground-truth label of the attempt or claim:
- checkout: false declines (legitimate attempts declined), legitimate attempts challenged, fraud stopped (declined or
  sent to a 3-D Secure challenge the fraudster cannot pass) and fraud approved, against a per-transaction baseline
  that declines whenever the IP country differs from the card's (or the customer's) country;
- refunds: abusive claims not refunded instantly, and good customers delayed (not refunded instantly), against a
  one-rule-for-all baseline.
`make report` writes docs/quality-report.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agents.rules.events import PaymentAttempted, RefundRequested
from agents.rules.journey import Context
from agents.rules.refunds import baseline_refund
from agents.rules.replay import replay
from bench.text_table import table
from pipeline.policies import load_policy
from pipeline.sim import Labelled, generate, label_index

START = 1_760_000_000_000


def baseline_checkout(a: PaymentAttempted) -> str:
    """The naive per-transaction rule many shops start with."""
    expected = a.card_country or a.customer_country
    return "decline" if a.ip_country and a.ip_country != expected else "approve"


@dataclass(frozen=True)
class CheckoutScore:
    legit: int
    fraud: int
    false_declines: int
    legit_challenged: int
    fraud_declined: int
    fraud_challenged: int

    @property
    def fraud_stopped(self) -> int:
        return self.fraud_declined + self.fraud_challenged

    def row(self, name: str) -> tuple[object, ...]:
        return (name, self.false_declines, _rate(self.false_declines, self.legit), self.legit_challenged,
                self.fraud_declined, self.fraud_challenged, _rate(self.fraud_stopped, self.fraud),
                self.fraud - self.fraud_stopped)


def score_checkout(pairs: Iterable[tuple[Labelled, str]]) -> CheckoutScore:
    counts = dict.fromkeys(("legit", "fraud", "fd", "lc", "fdec", "fch"), 0)
    for lab, outcome in pairs:
        if lab.fraud:
            counts["fraud"] += 1
            counts["fdec"] += outcome == "decline"
            counts["fch"] += outcome == "challenge"
        else:
            counts["legit"] += 1
            counts["fd"] += outcome == "decline"
            counts["lc"] += outcome == "challenge"
    return CheckoutScore(counts["legit"], counts["fraud"], counts["fd"], counts["lc"], counts["fdec"], counts["fch"])


def score_refunds(pairs: Iterable[tuple[Labelled, str]]) -> tuple[int, int, int, int]:
    """(abusive claims, abusive not refunded instantly, good claims, good claims delayed)."""
    abusive = caught = good = delayed = 0
    for lab, outcome in pairs:
        if lab.fraud:
            abusive += 1
            caught += outcome != "instant_refund"
        else:
            good += 1
            delayed += outcome in ("manual_review", "deny")
    return abusive, caught, good, delayed


def _rate(n: int, d: int) -> str:
    return f"{n / d:.1%}" if d else "n/a"


def evaluate(seed: int, customers: int, policy_path: Path | None = None) -> dict[str, Any]:
    population = generate(seed, customers, START, 30)
    labels = label_index(population)
    policy = load_policy(policy_path)
    outputs = list(replay([x.event for x in population], policy, Context(link_secret=b"report")))
    ours = [(labels[d.source_event_id], d.outcome) for d in outputs if type(d).__name__ == "PaymentDecision"]
    naive = [(x, baseline_checkout(x.event)) for x in population if isinstance(x.event, PaymentAttempted)]
    refunds = [(labels[d.source_event_id], d.outcome) for d in outputs if type(d).__name__ == "RefundDecision"]
    naive_refunds = [(x, baseline_refund(x.event)) for x in population if isinstance(x.event, RefundRequested)]
    return {"population": population, "policy": policy.version, "ours": score_checkout(ours),
            "naive": score_checkout(naive), "refunds": score_refunds(refunds),
            "naive_refunds": score_refunds(naive_refunds), "by_story": _by_story(ours)}


def _by_story(pairs: Sequence[tuple[Labelled, str]]) -> list[tuple[object, ...]]:
    stories: dict[tuple[str, bool], dict[str, int]] = {}
    for lab, outcome in pairs:
        c = stories.setdefault((lab.story, lab.fraud), {"approve": 0, "challenge": 0, "decline": 0})
        c[outcome] += 1
    return [(s, "fraud" if f else "legit", c["approve"], c["challenge"], c["decline"])
            for (s, f), c in sorted(stories.items())]


def render(result: dict[str, Any], seed: int, customers: int) -> str:
    heads = ("rules", "false declines", "rate", "legit challenged", "fraud declined", "fraud challenged",
             "fraud stopped", "fraud approved")
    ours, naive = result["ours"], result["naive"]
    checkout = table(heads, [ours.row(f"payment-journey ({result['policy']})"),
                             naive.row("baseline: IP country != card country")])
    a, caught, g, delayed = result["refunds"]
    na, ncaught, ng, ndelayed = result["naive_refunds"]
    refund_rows = [("payment-journey", a, caught, _rate(caught, a), g, delayed, _rate(delayed, g)),
                   ("baseline: one rule for all", na, ncaught, _rate(ncaught, na), ng, ndelayed, _rate(ndelayed, ng))]
    refunds = table(("rules", "abusive claims", "not refunded instantly", "rate", "good claims",
                     "sent to review or denied", "rate"), refund_rows)
    stories = table(("story", "label", "approve", "challenge", "decline"), result["by_story"])
    return "\n".join([
        "# Decision quality on a labelled synthetic population",
        "",
        f"Population: `pipeline.sim.generate(seed={seed}, customers={customers}, days=30)`: "
        f"{len(result['population']):,} events, {ours.legit + ours.fraud:,} payment attempts "
        f"({ours.fraud} abusive). Rules: `policies/default.toml` through `journey replay`'s engine, the same step "
        "the live worker runs. Regenerate with `make report`.",
        "",
        "A challenge stops a fraudster who cannot complete 3-D Secure, and costs a legitimate customer a step.",
        "",
        "## Checkout", "", "```", checkout, "```", "",
        "## Refunds", "", "```", refunds, "```", "",
        "## Checkout outcomes by story", "", "```", stories, "```", "",
    ])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--customers", type=int, default=1000)
    p.add_argument("--policy", type=Path)
    p.add_argument("--out", type=Path)
    a = p.parse_args()
    text = render(evaluate(a.seed, a.customers, a.policy), a.seed, a.customers)
    if a.out:
        a.out.write_text(text)
        print(f"wrote {a.out}", file=sys.stderr)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
