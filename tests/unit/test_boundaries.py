"""The layout is the architecture: dependencies point one way, and the pure core stays pure.

Layers, lowest first (a module may import its own package and the layers below it, never a peer or anything above):

    agents.rules                          pure decisions: no Kafka, no metrics, no I/O, no files, no clock
    pipeline (settings, errors, topics, metrics)   shared leaves
    pipeline.wire | pipeline.kafka | pipeline.sim  wire format, Kafka plumbing, simulator (peers: never each other)
    agents                                the Faust agents and what they share (runtime)
    pipeline.explorer                     what the worker's web server shows people (Faust-free)
    pipeline.worker                       the worker's composition root: the Faust app with the agents registered
    pipeline.demo                         `journey demo`
    pipeline.cli                          `journey`
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "agents" / "rules"
FORBIDDEN = {"faust", "aiokafka", "mode", "prometheus_client", "kafka", "confluent_kafka", "socket", "requests",
             "urllib", "subprocess", "asyncio", "pipeline", "random", "uuid", "logging",
             # files are read at the edge (pipeline.policies) and passed in parsed
             "os", "io", "pathlib", "tomllib", "importlib", "shutil", "tempfile", "glob"}
WALL_CLOCK = {("time", "time"), ("time", "time_ns"), ("datetime", "now"), ("datetime", "utcnow"), ("date", "today")}
FILE_CALLS = {"open", "read_text", "read_bytes", "write_text", "write_bytes"}

LAYERS: list[set[str]] = [
    {"agents.rules"},
    {"pipeline"},
    {"pipeline.wire", "pipeline.kafka", "pipeline.sim"},
    {"agents"},
    {"pipeline.explorer"},
    {"pipeline.worker"},
    {"pipeline.demo"},
    {"pipeline.cli"},
]
PACKAGES = {p for layer in LAYERS for p in layer}


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def _top(names: set[str]) -> set[str]:
    return {n.split(".")[0] for n in names}


def package_of(module: str) -> str | None:
    """The layered package a dotted module name belongs to: the longest prefix in PACKAGES."""
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        if ".".join(parts[:i]) in PACKAGES:
            return ".".join(parts[:i])
    return None


def _layer(package: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if package in layer)


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def upward_imports(module: str, imported: set[str]) -> list[str]:
    """Imports of `module` that reach a peer or a layer above its own."""
    own = package_of(module)
    if own is None:
        return []
    bad = []
    for name in imported:
        target = package_of(name)
        if target is None or target == own:
            continue
        if _layer(target) >= _layer(own):
            bad.append(f"{module} -> {name}")
    return bad


def _sources() -> list[Path]:
    return [p for top in ("agents", "pipeline") for p in (ROOT / top).rglob("*.py")]


def test_no_module_imports_a_peer_or_upwards() -> None:
    offenders = []
    for path in _sources():
        offenders += upward_imports(_module_name(path), _imports(ast.parse(path.read_text())))
    assert sorted(offenders) == []


def test_every_module_belongs_to_a_layer() -> None:
    assert [p for p in _sources() if package_of(_module_name(p)) is None] == []


def test_rules_import_no_kafka_faust_metrics_or_io() -> None:
    offenders = {str(p.relative_to(RULES)): sorted(_top(_imports(ast.parse(p.read_text()))) & FORBIDDEN)
                 for p in RULES.rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_rules_read_no_files() -> None:
    calls = []
    for p in RULES.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in FILE_CALLS:
                    calls.append(f"{p.relative_to(RULES)}:{node.lineno}")
    assert calls == []


def test_rules_never_read_the_wall_clock() -> None:
    calls = []
    for p in RULES.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Name) and (node.func.value.id, node.func.attr) in WALL_CLOCK:
                calls.append(f"{p.name}:{node.lineno}")
    assert calls == []


def test_the_boundary_checks_would_catch_an_offender() -> None:
    assert _top(_imports(ast.parse("import faust\nfrom aiokafka import X"))) & FORBIDDEN == {"faust", "aiokafka"}
    assert upward_imports("pipeline.wire.codec", {"pipeline.cli.commands"}) == [
        "pipeline.wire.codec -> pipeline.cli.commands"]
    assert upward_imports("pipeline.kafka.admin", {"pipeline.sim"}) != []  # peers never import each other
    assert upward_imports("agents.rules.journey", {"agents.runtime"}) != []
    assert upward_imports("pipeline.worker.app", {"agents.topology", "pipeline.wire.codec"}) == []
