"""The demo's closing summary: what was decided, for whom, and why, as rich tables (pipeline/console.py)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.rule import Rule
from rich.text import Text

from agents.rules.dunning.experiments import REPORT_HEADERS, recovery_report
from pipeline.console import bar, table
from pipeline.sim import Labelled

SEED_STORIES = ("traveller_usual_device", "swedish_french_card", "dutch_klarna", "store_first_online",
                "serial_empty_box", "late_payer")


def summarise(labelled: Sequence[Labelled], outputs: Sequence[Any], dead: Sequence[tuple[str, Mapping[str, str]]],
              expected: Mapping[str, int], metrics: Mapping[str, float], elapsed_s: float) -> list[RenderableType]:
    by_id = {x.event.event_id: x for x in labelled}
    kinds: dict[str, list[Any]] = defaultdict(list)
    for o in outputs:
        kinds[type(o).__name__].append(o)
    parts: list[RenderableType | None] = [
        Rule(f"payment-journey demo: {len(labelled):,} events in {elapsed_s:.0f} s"),
        _totals(kinds, dead, expected, metrics),
        _checkout(kinds["PaymentDecision"], by_id),
        _stories(kinds["PaymentDecision"], kinds["RefundDecision"], by_id),
        _dunning(kinds["DunningStep"], kinds["PaymentRecovered"], kinds["Notification"]),
        _refunds(kinds["RefundDecision"], by_id),
        _dead(dead),
    ]
    return [p for p in parts if p is not None]


def _check(ok: bool) -> str:
    return "ok" if ok else "MISSING"


def _totals(kinds: Mapping[str, list[Any]], dead: Sequence[Any], expected: Mapping[str, int],
            metrics: Mapping[str, float]) -> RenderableType:
    decisions = len(kinds["PaymentDecision"])
    unique = len({d.payment_id for d in kinds["PaymentDecision"]})
    rows = [
        ("checkout decisions", decisions, f"{expected['decisions']:,} attempts, {unique:,} distinct: "
         + _check(decisions == unique == expected["decisions"])),
        ("refund decisions", len(kinds["RefundDecision"]), f"{expected['refund-decisions']:,} requests: "
         + _check(len(kinds["RefundDecision"]) == expected["refund-decisions"])),
        ("dunning steps", len(kinds["DunningStep"]), ""),
        ("notifications", len(kinds["Notification"]), "no names, e-mails or card data in them"),
        ("payments recovered", len(kinds["PaymentRecovered"]), ""),
        ("dead-lettered", len(dead),
         f"{expected['dlq']} broken messages sent: " + _check(len(dead) == expected["dlq"])),
        ("duplicates skipped", int(metrics.get("journey_duplicate_events_total", 0)), "same event_id seen again"),
    ]
    return table(("output", "count", "check"), rows, title="What came out")


def _checkout(decisions: Sequence[Any], by_id: Mapping[str, Labelled]) -> RenderableType:
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for d in decisions:
        lab = by_id.get(d.source_event_id)
        per[lab.actor if lab else "?"][d.outcome] += 1
    rows = []
    for actor, c in sorted(per.items(), key=lambda kv: -sum(kv[1].values())):
        total = sum(c.values())
        rows.append((actor, total, c["approve"], c["challenge"], c["decline"], bar(c["approve"] / total, 12)))
    legit = [d for d in decisions if (lab := by_id.get(d.source_event_id)) and not lab.fraud]
    fraud = [d for d in decisions if (lab := by_id.get(d.source_event_id)) and lab.fraud]
    false_declines = sum(d.outcome == "decline" for d in legit)
    stopped = sum(d.outcome != "approve" for d in fraud)
    head = table(("who (simulation label)", "attempts", "approve", "challenge", "decline", "approved"), rows,
                 title="Checkout decisions by who really made the attempt")
    sca = Counter(d.sca_strategy for d in decisions)
    reasons = Counter(r.code for d in decisions for r in d.reasons[:1])
    return _blocks(
        head,
        Text(f"False declines: {false_declines} of {len(legit)} legitimate attempts "
             f"({_pct(false_declines, len(legit))}); fraud stopped or challenged: {stopped} of {len(fraud)} "
             f"({_pct(stopped, len(fraud))})."),
        table(("SCA strategy", "decisions"), sca.most_common(), title="How SCA was handled"),
        table(("leading reason", "decisions"), reasons.most_common(8), title="Most common leading reasons"),
    )


def _stories(decisions: Sequence[Any], refunds: Sequence[Any], by_id: Mapping[str, Labelled]) -> RenderableType | None:
    """Each seed story's last decision (the one its history leads up to), with its reasons."""
    last: dict[str, Any] = {}
    for d in [*decisions, *refunds]:
        lab = by_id.get(d.source_event_id)
        newer = lab is not None and (lab.story not in last or d.occurred_at >= last[lab.story].occurred_at)
        if lab and lab.story in SEED_STORIES and newer:
            last[lab.story] = d
    blocks = []
    for story in SEED_STORIES:
        d = last.get(story)
        if d is None:
            continue
        if type(d).__name__ == "PaymentDecision":
            extra = f", offer {d.recommended_method} first" + (f", perks {', '.join(d.perks)}" if d.perks else "")
        else:
            extra = f", {d.return_window_days}-day window, {d.linked_claims} linked claims"
        rows = [(r.code, r.detail) for r in d.reasons[:6]]
        blocks.append(table(("reason", "why"), rows, title=f"* {story}: {d.outcome}{extra}"))
    head = Text("Seed stories from DOMAIN.md: the decision each story leads up to", style="bold")
    return _blocks(head, *blocks) if blocks else None


def _dunning(steps: Sequence[Any], recovered: Sequence[Any], notes: Sequence[Any]) -> RenderableType | None:
    if not steps:
        return None
    actions = Counter(s.action for s in steps)
    cases = {(s.customer_id, s.case_id): s.decline_class for s in steps}
    by_class: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for cls in cases.values():
        by_class[cls][0] += 1
    for r in recovered:
        by_class[r.decline_class][1] += 1
    rows = [(cls, n, rec, rec / n if n else 0.0, bar(rec / n if n else 0, 12))
            for cls, (n, rec) in sorted(by_class.items())]
    experiment = recovery_report([*steps, *recovered])
    ab = table(REPORT_HEADERS, [r.as_tuple()[:4] + (r.rate,) for r in experiment if r.decline_class == "all"],
               title="Dunning experiment: recovery rate by variant (holdout gets silent retries only)")
    how = Counter(r.recovered_by for r in recovered)
    channels = Counter(n.channel for n in notes if n.template.startswith("dunning"))
    return _blocks(
        table(("dunning step", "count"), actions.most_common(), title="Failed payments: what dunning did"),
        table(("decline class", "cases", "recovered", "rate", ""), rows, title="Recovery by decline class"),
        ab,
        table(("recovered by", "count"), how.most_common()) if how else None,
        table(("reminder channel", "count"), channels.most_common()) if channels else None,
    )


def _refunds(decisions: Sequence[Any], by_id: Mapping[str, Labelled]) -> RenderableType | None:
    per: dict[str, Counter[str]] = defaultdict(Counter)
    for d in decisions:
        lab = by_id.get(d.source_event_id)
        per[lab.actor if lab else "?"][d.outcome] += 1
    outcomes = ("instant_refund", "refund_on_return", "manual_review", "deny")
    rows = [(actor, *(c[o] for o in outcomes)) for actor, c in sorted(per.items())]
    return table(("claimant (label)", *outcomes), rows, title="Refund decisions") if rows else None


def _dead(dead: Sequence[tuple[str, Mapping[str, str]]]) -> RenderableType | None:
    rows = [(topic, h.get("error.reason", "?"), h.get("error.message", "")[:60]) for topic, h in dead]
    return table(("dead-letter topic", "reason", "message"), rows, title="Parked, not lost") if rows else None


def _blocks(*parts: RenderableType | None) -> RenderableType:
    """Renderables one below the other, a blank line between them."""
    spaced: list[RenderableType] = []
    for p in parts:
        if p is not None:
            spaced += [Text(""), p] if spaced else [p]
    return Group(*spaced)


def _pct(n: int, d: int) -> str:
    return f"{n / d:.1%}" if d else "n/a"
