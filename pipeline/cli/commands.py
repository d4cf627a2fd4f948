"""What `journey simulate`, `publish`, `topics`, `tail`, `replay` and `erase` do with records: encode, send, decode,
print.

Records go to standard output (or --out) as JSON lines; what is for people (progress, tables, hints) goes through
pipeline/console.py: standard error, except `topics` and `replay --compare`, whose tables are the answer.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from agents.rules.journey import Context
from agents.rules.policy import Policy
from agents.rules.pseudonyms import Pseudonyms
from agents.rules.replay import Change, compare, replay, transitions
from agents.rules.validation import problem
from pipeline import console, topics
from pipeline.errors import DecodeError, InputError, JourneyError
from pipeline.kafka.clients import Outgoing, consume, encode_all, produce
from pipeline.kafka.connect import connect
from pipeline.policies import load_policy
from pipeline.settings import Settings
from pipeline.wire import jsonio
from pipeline.wire.codec import Codec
from pipeline.wire.registry import registry_from_settings


def codec_for(settings: Settings) -> Codec:
    registry = registry_from_settings(settings.schema_registry_url, settings.data_dir)
    return Codec(registry, schemas_dir=settings.schemas_dir)


def publish_records(settings: Settings, records: list[Any]) -> int:
    codec = codec_for(settings)
    with connect(settings, start_embedded=False) as conn, console.progress("published", len(records)) as show:
        return asyncio.run(produce(conn.bootstrap, encode_all(codec, records), show, security=conn.security))


def erase_customers(settings: Settings, customer_ids: list[str]) -> int:
    """`journey erase`: one tombstone per customer on `customers` (ids checked as the worker would: non-empty, at
    most JOURNEY_MAX_ID_CHARS characters)."""
    for cid in customer_ids:
        if not cid.strip() or len(cid) > settings.max_id_chars:
            raise InputError(f"{cid!r} is not a customer id: empty, or over {settings.max_id_chars} characters")
    tombstones = [Outgoing(topics.ERASURE_TOPIC, cid.encode(), None) for cid in dict.fromkeys(customer_ids)]
    with connect(settings, start_embedded=False) as conn:
        n = asyncio.run(produce(conn.bootstrap, tombstones, security=conn.security))
    for cid in dict.fromkeys(customer_ids):
        print(f"erasure of {cid} requested (a tombstone on {topics.ERASURE_TOPIC}); the worker confirms it with a "
              "CustomerErased on erasures", file=sys.stderr)
    return 0 if n == len(tombstones) else 1


def read_events(lines: Iterable[str], schemas_dir: Path) -> tuple[list[Any], list[str]]:
    """Parse JSON lines into records; returns (records, errors naming the line)."""
    records, errors = [], []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            _, rec = jsonio.parse_line(line, n, schemas_dir)
        except InputError as err:
            errors.append(f"line {n}: {err}")
            continue
        broken = problem(rec) if hasattr(rec, "occurred_at") else None
        if broken is not None:  # the same rules the worker dead-letters on (agents/rules/validation.py)
            errors.append(f"line {n}: {type(rec).__name__}.{broken[0]}: invalid value (rule {broken[1]})")
            continue
        records.append(rec)
    return records, errors


def publish_file(settings: Settings, path: Path, skip_invalid: bool) -> int:
    records, errors = _read_path(path, settings.schemas_dir)
    for e in errors:
        print(e, file=sys.stderr)
    if errors and not skip_invalid:
        print(f"{len(errors)} invalid line(s); nothing published (use --skip-invalid to publish the rest)",
              file=sys.stderr)
        return 1
    n = publish_records(settings, records)
    print(f"published {n} record(s)" + (f", skipped {len(errors)} invalid" if errors else ""), file=sys.stderr)
    return 0


def _read_path(path: Path, schemas_dir: Path) -> tuple[list[Any], list[str]]:
    if str(path) == "-":
        return read_events(sys.stdin, schemas_dir)
    try:
        with open(path) as fh:
            return read_events(fh, schemas_dir)
    except OSError as err:
        raise JourneyError(f"cannot read {path}: {err.strerror}") from err


def list_topics(out: TextIO = sys.stdout) -> int:
    """`journey topics`: every topic with its records, key, and who writes and reads it (pipeline/topics.py)."""
    rows = [(t.name, t.kind, "\n".join(topics.records_on(t.name) or topics.DLQ_RECORDS.split(", ")), t.written_by,
             t.read_by)
            for t in topics.TOPICS]
    title = f"Topics, every one keyed by {topics.KEY} (docs/asyncapi.yaml has their schemas)"
    console.show(console.console(out), console.table(("topic", "kind", "records", "written by", "read by"), rows,
                                                     title=title, whole=("topic", "records")))
    return 0


async def tail(settings: Settings, topic: str, from_beginning: bool, follow: bool, limit: int,
               out: TextIO = sys.stdout) -> int:
    codec = codec_for(settings)
    count = 0
    with connect(settings, start_embedded=False) as conn:
        try:
            stream = consume(conn.bootstrap, [topic], from_beginning=from_beginning, follow=follow,
                             security=conn.security)
            async with contextlib.aclosing(stream):
                async for t, p, offset, key, value, headers in stream:
                    out.write(json.dumps(describe(codec, t, p, offset, key, value, headers)) + "\n")
                    out.flush()
                    count += 1
                    if limit and count >= limit:
                        break
        except LookupError as err:
            raise JourneyError(f"{err} (journey topics lists them)") from err
    if not count and not from_beginning:
        print(f"no new records on {topic}; to read what it already holds: journey tail {topic} --from-beginning",
              file=sys.stderr)
    return 0


def describe(codec: Codec, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None,
             headers: list[tuple[str, bytes]]) -> dict[str, Any]:
    """One consumed message as JSON: the decoded record, or why it does not decode; its headers either way (a parked
    message whose payload decodes still carries the `error.*` headers saying why it was parked)."""
    meta = {"topic": topic, "partition": partition, "offset": offset, "key": (key or b"").decode(errors="replace")}
    kept = {"headers": {k: v.decode(errors="replace") for k, v in headers}} if headers else {}
    try:
        return {**meta, **jsonio.record_to_json(codec.decode(value or b""), codec.schemas_dir), **kept}
    except DecodeError as err:
        return {**meta, "undecodable": err.reason, **kept, "value_base64": base64.b64encode(value or b"").decode()}


def run_replay(settings: Settings, events_path: Path, policy_path: Path | None, out_path: Path | None,
               compare_path: Path | None, until: str | None, limit: int = 0) -> int:
    """Replay the events; write the records to --out, or to standard output unless comparing (then the comparison
    is the output and records are written only with --out)."""
    records, errors = _read_path(events_path, settings.schemas_dir)
    if errors:
        for e in errors:
            print(e, file=sys.stderr)
        raise JourneyError(f"{len(errors)} invalid line(s) in {events_path}")
    base_path = policy_path or settings.policy_path
    policy = load_policy(base_path, settings.declines_path)
    ctx = Context(link_secret=settings.link_secret, pseudonyms=Pseudonyms(settings.pseudonym_secret))
    until_ms = jsonio.parse_timestamp(until, "--until") if until else None
    outputs = list(replay(records, policy, ctx, until_ms))
    if out_path:
        with open(out_path, "w") as sink:
            _write_records(sink, outputs, settings.schemas_dir)
    elif not compare_path:
        _write_records(sys.stdout, outputs, settings.schemas_dir)
    if compare_path:
        other_policy = load_policy(compare_path, settings.declines_path)
        other = list(replay(records, other_policy, ctx, until_ms))
        _print_comparison((policy, base_path), (other_policy, compare_path), outputs, other, limit)
    return 0


def _write_records(sink: TextIO, outputs: list[Any], schemas_dir: Path) -> None:
    for rec in outputs:
        sink.write(json.dumps({"topic": rec.TOPIC, **jsonio.record_to_json(rec, schemas_dir)}) + "\n")


def _print_comparison(base: tuple[Policy, Path], other: tuple[Policy, Path], outputs: list[Any], others: list[Any],
                      limit: int) -> None:
    (p1, path1), (p2, path2) = base, other
    total, changes = compare(outputs, others)
    moved = transitions(outputs, others)
    out = console.console()
    parts: list[Any] = [f"{len(changes)} of {total} decisions change under {p2.version} ({path2}), compared with "
                        f"{p1.version} ({path1})"]
    for kind in sorted({k for k, _, _ in moved}):
        parts.append(_matrix(kind, {(b, a): n for (k, b, a), n in moved.items() if k == kind}, p1, p2))
    if changes:
        shown = changes[:limit] if limit else changes
        title = "Every change" if len(shown) == len(changes) else f"The first {len(shown)} of {len(changes)} changes"
        parts.append(_changes(shown, p1, p2, title))
        if len(shown) < len(changes):
            parts.append(f"{len(changes) - len(shown)} more change(s) left out by --limit {limit}")
    console.show(out, *parts)


def _matrix(kind: str, counts: dict[tuple[str, str], int], p1: Policy, p2: Policy) -> Any:
    """Rows: the outcome under the first policy; columns: under the other; cells: how many decisions."""
    befores = sorted({b for b, _ in counts})
    afters = sorted({a for _, a in counts})
    rows = [(b, *(counts.get((b, a), 0) for a in afters), sum(counts.get((b, a), 0) for a in afters))
            for b in befores]
    return console.table((f"{p1.version} \\ {p2.version}", *afters, "total"), rows,
                         title=f"{kind}: outcome before (rows) -> after (columns)")


def _changes(changes: list[Change], p1: Policy, p2: Policy, title: str) -> Any:
    rows = [(c.kind, c.key, c.before, c.after) for c in changes]
    return console.table(("decision", "id", p1.version, p2.version), rows, title=title, whole=("id",))
