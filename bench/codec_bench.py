"""How fast the wire codec encodes and decodes (no broker; a local registry in a temporary directory).

    .venv/bin/python -m bench.codec_bench [--n 20000]

Prints microseconds per call and calls per second: encode, decode, the JSON form `journey tail` prints, and the
record <-> plain dict conversions (agents.rules.records) that encode and decode include.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from agents.rules.events import PaymentAttempted, PaymentDecision, Reason
from pipeline.wire.codec import Codec
from pipeline.wire.jsonio import record_to_json
from pipeline.wire.registry import LocalRegistry

ATTEMPT = PaymentAttempted(
    event_id="evt-000123", customer_id="cust-42", occurred_at=1_793_527_200_000, payment_id="pay-1",
    order_id="ord-1", amount_minor=12_500, currency="EUR", method="card", initiator="customer",
    device_id="dev-9", ip="203.0.113.9", ip_country="NL", shipping_address_id="addr-3",
    card_fingerprint="fp-7", card_issuer="issuer-1", card_country="FR", customer_country="SE",
    sca_applies=True, network="visa",
)
DECISION = PaymentDecision(
    event_id="evt-000123:decision", customer_id="cust-42", occurred_at=1_793_527_200_000, payment_id="pay-1",
    source_event_id="evt-000123", outcome="challenge", sca_strategy="challenge", exemption=None,
    risk_score=41, recommended_method="klarna", method_ranking=("klarna", "card", "ideal"),
    perks=("free_shipping",),
    reasons=(Reason(code="KNOWN_DEVICE", detail="The customer's usual device."),
             Reason(code="ISSUER_PREFERS_CHALLENGE", detail="This issuer rarely accepts exemptions.")),
    policy_version="2026-11-01",
)


def per_call(fn: Callable[[], Any], n: int) -> float:
    """Best of three runs, in microseconds per call."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - started)
    return best / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="calls per measurement")
    n = parser.parse_args().n
    with tempfile.TemporaryDirectory() as tmp:
        codec = Codec(LocalRegistry(Path(tmp) / "schema-registry.json"))
        for rec in (ATTEMPT, DECISION):
            data = codec.encode(rec)
            plain = rec.to_record()
            type(rec).from_record(plain)  # the first call compiles the converter and installs it on the class
            rows = [("encode", per_call(partial(codec.encode, rec), n)),
                    ("decode", per_call(partial(codec.decode, data), n)),
                    ("to JSON", per_call(partial(record_to_json, rec), n)),
                    ("to_rec", per_call(rec.to_record, n)),
                    ("from_rec", per_call(partial(type(rec).from_record, plain), n))]
            for label, us in rows:
                print(f"{type(rec).__name__:<17} {label:<8} {len(data):>4} bytes  {us:7.2f} us"
                      f"  {1e6 / us:>10,.0f}/s")


if __name__ == "__main__":
    main()
