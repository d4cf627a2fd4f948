"""What `journey simulate`, `publish`, `tail` and `replay` do with records: encode, send, decode, print."""

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
from agents.rules.replay import compare, replay
from agents.rules.validation import problem
from pipeline.demo.tables import table
from pipeline.errors import DecodeError, InputError, JourneyError
from pipeline.kafka.clients import consume, encode_all, produce
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
    with connect(settings, start_embedded=False) as conn:
        return asyncio.run(produce(conn.bootstrap, encode_all(codec, records), _progress("published", len(records)),
                                   security=conn.security))


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
                    out.write(json.dumps(_describe(codec, t, p, offset, key, value, headers)) + "\n")
                    out.flush()
                    count += 1
                    if limit and count >= limit:
                        break
        except LookupError as err:
            raise JourneyError(str(err)) from err
    return 0


def _describe(codec: Codec, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None,
              headers: list[tuple[str, bytes]]) -> dict[str, Any]:
    meta = {"topic": topic, "partition": partition, "offset": offset, "key": (key or b"").decode(errors="replace")}
    try:
        return {**meta, **jsonio.record_to_json(codec.decode(value or b""), codec.schemas_dir)}
    except DecodeError as err:
        return {**meta, "undecodable": err.reason,
                "headers": {k: v.decode(errors="replace") for k, v in headers},
                "value_base64": base64.b64encode(value or b"").decode()}


def run_replay(settings: Settings, events_path: Path, policy_path: Path | None, out_path: Path | None,
               compare_path: Path | None, until: str | None) -> int:
    records, errors = _read_path(events_path, settings.schemas_dir)
    if errors:
        for e in errors:
            print(e, file=sys.stderr)
        raise JourneyError(f"{len(errors)} invalid line(s) in {events_path}")
    policy = load_policy(policy_path or settings.policy_path, settings.declines_path)
    ctx = Context(link_secret=settings.link_secret)
    until_ms = jsonio.parse_timestamp(until, "--until") if until else None
    outputs = list(replay(records, policy, ctx, until_ms))
    sink = open(out_path, "w") if out_path else sys.stdout  # noqa: SIM115
    try:
        for rec in outputs:
            sink.write(json.dumps({"topic": rec.TOPIC, **jsonio.record_to_json(rec, settings.schemas_dir)}) + "\n")
    finally:
        if out_path:
            sink.close()
    if compare_path:
        other = list(replay(records, load_policy(compare_path, settings.declines_path), ctx, until_ms))
        total, changes = compare(outputs, other)
        print(f"{len(changes)} of {total} decisions change under {compare_path}", file=sys.stderr)
        if changes:
            rows = [(c.kind, c.key, c.before, c.after) for c in changes[:50]]
            print(table(("decision", "id", policy.version, "other"), rows), file=sys.stderr)
    return 0


def _progress(label: str, total: int) -> Any:
    tty = sys.stderr.isatty()

    def show(done: int) -> None:
        msg = f"{label} {done:,}/{total:,}"
        if tty:
            print("\r" + msg, end="" if done < total else "\n", file=sys.stderr, flush=True)
        elif done == total or done % 5000 == 0:
            print(msg, file=sys.stderr, flush=True)

    return show
