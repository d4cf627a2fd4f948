"""The pure core stays pure: nothing under agents/rules imports Kafka, Faust, metrics or does I/O."""

from __future__ import annotations

import ast
from pathlib import Path

RULES = Path(__file__).resolve().parents[2] / "agents" / "rules"
FORBIDDEN = {"faust", "aiokafka", "mode", "prometheus_client", "kafka", "confluent_kafka", "socket", "requests",
             "urllib", "subprocess", "asyncio", "pipeline", "random", "uuid", "logging"}
WALL_CLOCK = {("time", "time"), ("time", "time_ns"), ("datetime", "now"), ("datetime", "utcnow"), ("date", "today")}


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_rules_import_no_kafka_faust_metrics_or_io() -> None:
    offenders = {p.name: sorted(_imports(ast.parse(p.read_text())) & FORBIDDEN) for p in RULES.rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_rules_never_read_the_wall_clock() -> None:
    calls = []
    for p in RULES.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Name) and (node.func.value.id, node.func.attr) in WALL_CLOCK:
                calls.append(f"{p.name}:{node.lineno}")
    assert calls == []


def test_the_boundary_check_would_catch_an_offender() -> None:
    assert _imports(ast.parse("import faust\nfrom aiokafka import X")) & FORBIDDEN == {"faust", "aiokafka"}
