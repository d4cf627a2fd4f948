"""`journey`: the command line. Every command has --help.

  journey demo       the main job: embedded broker, a worker, simulated traffic, a summary of what was decided and why
  journey worker     run a worker (embedded broker unless KAFKA_BOOTSTRAP_SERVERS is set or `journey broker` runs)
  journey broker     run the embedded Tansu broker alone, for the other commands in other terminals
  journey simulate   publish (or write with --out) realistic traffic for a few hundred customers
  journey publish    publish JSON lines {"topic", "type", "value"} onto the live topics
  journey topics     list the topics with their records, key, and who writes and reads each
  journey tail       print decoded records of a topic as JSON lines
  journey replay     run the rules over a JSON-lines event file without a broker; --compare another policy
  journey erase      erase customers: a tombstone on `customers` for each; the worker confirms on `erasures`
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from importlib.metadata import version
from io import StringIO
from pathlib import Path

from agents.rules.policy import PolicyError
from pipeline import console
from pipeline.errors import BrokerUnreachable, JourneyError
from pipeline.settings import ENV_VARS, Settings, env_default


def _settings_epilog() -> str:
    """The settings table of pipeline/settings.py, as `journey --help` ends."""
    rows = [(var, env_default(name), meaning) for name, (var, meaning) in ENV_VARS.items()]
    buf = StringIO()
    console.show(console.console(buf), console.table(("variable", "default", "meaning"), rows,
                                                     title="Settings, from the environment (pipeline/settings.py)"))
    return buf.getvalue()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="journey", description=__doc__, epilog=_settings_epilog(),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"%(prog)s {version('payment-journey')}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="run the whole pipeline on simulated traffic and summarise the decisions")
    d.add_argument("--customers", type=int, default=300, help="simulated customers (default 300)")
    d.add_argument("--seed", type=int, default=7, help="simulation seed (default 7)")
    d.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for every decision (default 240)")
    d.add_argument("--explore", action="store_true",
                   help="after the summary, print the explorer's URL and keep the worker up until Enter or Ctrl-C")

    sub.add_parser("worker", help="run a worker: consume the input topics and emit decisions")
    sub.add_parser("broker", help="run the embedded Tansu broker until Ctrl-C")

    s = sub.add_parser("simulate", help="publish simulated traffic (or write it as JSON lines with --out)")
    s.add_argument("--customers", type=int, default=300)
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--days", type=int, default=30, help="days of history to simulate, ending a day ago")
    s.add_argument("--out", type=Path, help="write JSON lines here instead of publishing")

    pub = sub.add_parser("publish", help='publish a JSON-lines file of {"topic", "type", "value"} records')
    pub.add_argument("file", type=Path, help="JSON-lines file, or - for standard input")
    pub.add_argument("--skip-invalid", action="store_true", help="publish the valid lines even if some are invalid")

    sub.add_parser("topics", help="list the topics with their records, key, and who writes and reads each")

    t = sub.add_parser("tail", help="print decoded records of a topic as JSON lines (headers included)")
    t.add_argument("topic")
    t.add_argument("--from-beginning", action="store_true", help="start at the oldest record, not the newest")
    t.add_argument("--follow", action="store_true", help="keep waiting for new records")
    t.add_argument("--max", type=int, default=0, help="stop after this many records")

    r = sub.add_parser("replay", help="run the rules over an event file in event-time order, without a broker")
    r.add_argument("events", type=Path, help='JSON-lines file of {"topic", "type", "value"} input events')
    r.add_argument("--policy", type=Path, help="policy TOML (default: policies/default.toml)")
    r.add_argument("--out", type=Path, help="write output records here (default: standard output, except with "
                                             "--compare, which then writes none)")
    r.add_argument("--compare", type=Path, metavar="OTHER_POLICY",
                   help="print how decisions change under it: an outcome matrix and every change")
    r.add_argument("--limit", type=int, default=0, metavar="N", help="with --compare, list at most N changes")
    r.add_argument("--until", help="fire pending retries/reminders up to this ISO-8601 UTC time (default: all)")

    e = sub.add_parser("erase", help="erase customers: their state, due actions and identity-index entries",
                       description="Publish a tombstone (null value) keyed by each customer id on `customers`. The "
                                   "worker deletes the customer's state and due actions, takes them off the identity "
                                   "index and emits a CustomerErased on `erasures`. The raw events already on the "
                                   "input topics stay until those topics' retention removes them.")
    e.add_argument("customer_ids", nargs="+", metavar="CUSTOMER_ID")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(COMMANDS[args.command](Settings.from_env(), args) or 0)
    except BrokerUnreachable as err:
        print(f"journey {args.command}: {err}", file=sys.stderr)
        return 1
    except (JourneyError, PolicyError) as err:
        print(f"journey {args.command}: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _worker(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.worker.run import run_worker

    return run_worker(settings)


def _broker(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.worker.run import run_broker

    return run_broker(settings)


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.demo import run_demo

    return run_demo(settings, customers=args.customers, seed=args.seed, timeout_s=args.timeout,
                    explore=args.explore)


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline import sim as simulation
    from pipeline.cli.commands import publish_records
    from pipeline.sim import simulation_start

    labelled = simulation.generate(args.seed, args.customers, simulation_start(args.days), args.days)
    if args.out:
        with open(args.out, "w") as fh:
            for line in simulation.to_jsonl(labelled):
                fh.write(line + "\n")
        print(f"wrote {len(labelled)} events to {args.out}", file=sys.stderr)
        return 0
    n = publish_records(settings, [x.event for x in labelled])
    print(f"published {n} events", file=sys.stderr)
    return 0


def _publish(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.cli.commands import publish_file

    return publish_file(settings, args.file, skip_invalid=args.skip_invalid)


def _topics(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.cli.commands import list_topics

    return list_topics()


def _tail(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.cli.commands import tail

    return asyncio.run(tail(settings, args.topic, args.from_beginning, args.follow, args.max))


def _replay(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.cli.commands import run_replay

    return run_replay(settings, args.events, args.policy, args.out, args.compare, args.until, args.limit)


def _erase(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.cli.commands import erase_customers

    return erase_customers(settings, args.customer_ids)


COMMANDS = {
    "demo": _demo, "worker": _worker, "broker": _broker, "simulate": _simulate,
    "publish": _publish, "topics": _topics, "tail": _tail, "replay": _replay, "erase": _erase,
}

