"""What a failed card payment means: the decline-code knowledge base and `classify`.

Owns the meaning of a parsed policies/declines.toml (processor decline codes, Visa response codes with their
decline categories, Mastercard merchant advice codes) as `DeclineInfo`: hard or soft, whether and when a retry may
succeed, who can fix it, the customer-facing wording key and a stable reason code. The table is data so that adding
a code never needs a new branch here. Pure: pipeline.policies reads the file and the Policy carries the parsed
`KnowledgeBase` (`policy.declines`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agents.rules.dataclass_replace import replace
from agents.rules.events import PaymentFailed
from agents.rules.timeunits import HOUR_MS

CLASSES = frozenset({"hard", "soft", "unknown"})
FIXERS = frozenset({"issuer", "customer", "merchant"})
NETWORK_ALIASES = {"visa": "visa", "mastercard": "mastercard", "mc": "mastercard",
                   "master_card": "mastercard"}


@dataclass(frozen=True, slots=True)
class DeclineInfo:
    """The knowledge base's answer for one failed payment."""

    code: str  # the code that decided, e.g. "insufficient_funds", "visa:04", "mastercard_advice:25"
    source: str  # processor, visa, mastercard_advice or unknown
    decline_class: str  # hard, soft or unknown
    retryable: bool  # may the merchant retry this card silently at all
    retry_after_ms: int  # earliest sensible retry after the failure
    issuer_advised: bool  # the delay is the issuer's own instruction (Mastercard advice 24-30), not our guess
    fixable_by: str  # issuer, customer or merchant
    wording: str  # key of the customer-facing sentence
    fraud: bool  # a fraud block: never dun this customer for it
    reason_code: str  # VISA_CATEGORY_1, MC_ADVICE_03, HARD_DECLINE, SOFT_DECLINE, FRAUD_BLOCK, UNKNOWN_...
    detail: str

    @property
    def customer_fixable(self) -> bool:
        """Only the customer can move this on: tell them at once rather than after silent retries."""
        return self.fixable_by == "customer" or not self.retryable


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    processor: Mapping[str, DeclineInfo]
    visa: Mapping[str, DeclineInfo]
    mastercard_advice: Mapping[str, DeclineInfo]
    unknown: DeclineInfo


def _reason_code(source: str, code: str, entry: Mapping[str, Any]) -> str:
    if entry.get("fraud", False):
        return "FRAUD_BLOCK"
    if source == "visa":
        return f"VISA_CATEGORY_{int(entry['category'])}"
    if source == "mastercard_advice":
        return f"MC_ADVICE_{code}"
    if source == "unknown":
        return "UNKNOWN_DECLINE"
    return f"{str(entry['class']).upper()}_DECLINE"


def _entry(source: str, code: str, entry: Mapping[str, Any]) -> DeclineInfo:
    cls, fixer = str(entry["class"]), str(entry["fixable_by"])
    if cls not in CLASSES or fixer not in FIXERS:
        raise ValueError(f"declines.toml [{source}.{code}]: unknown class {cls!r} or fixable_by {fixer!r}")
    if source == "visa" and "category" not in entry:
        raise ValueError(f"declines.toml [visa.{code}] has no Visa decline category")
    return DeclineInfo(
        code=code if source in ("processor", "unknown") else f"{source}:{code}",
        source=source,
        decline_class=cls,
        retryable=bool(entry["retry"]),
        retry_after_ms=int(entry["retry_after_h"]) * HOUR_MS,
        issuer_advised=bool(entry.get("advised", False)),
        fixable_by=fixer,
        wording=str(entry["wording"]),
        fraud=bool(entry.get("fraud", False)),
        reason_code=_reason_code(source, code, entry),
        detail=str(entry["detail"]),
    )


def parse_knowledge_base(doc: Mapping[str, Any]) -> KnowledgeBase:
    """Validate and index a parsed declines.toml; a malformed entry fails loudly at load, not at 3 a.m."""
    tables = {src: {code: _entry(src, code, e) for code, e in doc.get(src, {}).items()}
              for src in ("processor", "visa", "mastercard_advice")}
    return KnowledgeBase(
        processor=tables["processor"],
        visa=tables["visa"],
        mastercard_advice=tables["mastercard_advice"],
        unknown=_entry("unknown", "unknown", doc["unknown"]),
    )


def _network_code(code: str | None) -> str | None:
    """Network codes travel as strings; "5" and "05" are the same code."""
    if code is None or not code.strip():
        return None
    code = code.strip().upper()
    return code.zfill(2) if code.isdigit() else code


def _stricter(a: DeclineInfo, b: DeclineInfo) -> bool:
    """Is `a` stricter than `b`: a fraud block beats a dead card, which beats a retryable one."""
    def rank(i: DeclineInfo) -> int:
        return 2 if i.fraud else 0 if i.retryable else 1

    return rank(a) > rank(b)


def classify(failed: PaymentFailed, kb: KnowledgeBase) -> DeclineInfo:
    """Network-specific codes override the processor's code, unless the processor's is stricter: a card any
    source calls dead or fraudulent is never retried because another source was vaguer. Unknown codes are
    soft, spaced conservatively, class "unknown"."""
    network = NETWORK_ALIASES.get(failed.network.strip().lower(), failed.network.strip().lower())
    processor = kb.processor.get(failed.decline_code.strip().lower())
    specific: DeclineInfo | None = None
    if network == "mastercard" and (advice := _network_code(failed.merchant_advice_code)):
        specific = kb.mastercard_advice.get(advice)
    if specific is None and network == "visa" and (response := _network_code(failed.network_response_code)):
        specific = kb.visa.get(response)
    if specific is not None and processor is not None and _stricter(processor, specific):
        return processor
    found = specific or processor
    return found if found is not None else replace(kb.unknown, code=f"unknown:{failed.decline_code}")
