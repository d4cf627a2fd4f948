"""What reviewers and linked accounts say about a customer at one moment, as the reasons the rules then give.

`standing(reviews, policy, now)` reads the verdicts and flags in force at `now`:

- fraud: a reviewer confirmed fraud within [reviews] flag_days, and has not since confirmed the customer
  legitimate (the latest word on the account's payments wins): checkout declines;
- abuse: confirmed fraud as above, or a reviewer confirmed refund abuse within flag_days: every claim goes to a
  person, no offers;
- legitimate: a reviewer confirmed the customer legitimate within legitimate_trust_days, with no later fraud
  verdict: trusted at checkout;
- linked: an account sharing a device, card or e-mail was judged within linked_flag_days, and no reviewer has
  cleared this customer since: no instant refunds, no offers.

A verdict on one case replaces an earlier verdict on the same case (state.apply_verdict), so "not abuse" after
"abuse" on a claim clears it. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.rules.events import Reason
from agents.rules.reviews.policy import ReviewPolicy
from agents.rules.reviews.state import Flag, ReviewState, VerdictMark
from agents.rules.timeunits import iso_utc

CONFIRMED_FRAUD = "CONFIRMED_FRAUD"
CONFIRMED_ABUSE = "CONFIRMED_ABUSE"
REVIEWED_LEGITIMATE = "REVIEWED_LEGITIMATE"
LINKED_ACCOUNT_FLAGGED = "LINKED_ACCOUNT_FLAGGED"

CAUSE_WORDS = {"serial_refund_abuse": "serial refund abuse", "confirmed_fraud": "fraud confirmed by a reviewer",
               "confirmed_abuse": "refund abuse confirmed by a reviewer"}
KIND_WORDS = {"device": "a device", "card": "a card", "email": "an e-mail address"}


@dataclass(frozen=True, slots=True)
class Standing:
    """Each is the reason to give, or None when it does not apply."""

    fraud: Reason | None = None
    abuse: Reason | None = None
    legitimate: Reason | None = None
    linked: Reason | None = None

    @property
    def withholding(self) -> Reason | None:
        """Why this customer gets no offers, perks or instant refunds (None: nothing withholds them)."""
        return self.fraud or self.abuse or self.linked


NO_STANDING = Standing()


def standing(r: ReviewState, policy: ReviewPolicy, now: int) -> Standing:
    if not r.verdicts and not r.flags:
        return NO_STANDING
    live = [m for m in r.verdicts if now >= m.at]  # newest first
    word = next((m for m in live if m.verdict in ("confirmed_fraud", "legitimate")), None)
    fraud = word if word is not None and word.verdict == "confirmed_fraud" and now - word.at <= policy.flag_ms \
        else None
    legitimate = word if word is not None and word.verdict == "legitimate" \
        and now - word.at <= policy.legitimate_trust_ms else None
    abuse = fraud or next((m for m in live if m.verdict == "abuse" and now - m.at <= policy.flag_ms), None)
    cleared = max((m.at for m in live if m.verdict in ("legitimate", "not_abuse")), default=None)
    linked = next((f for f in r.flags if 0 <= now - f.at <= policy.linked_flag_ms
                   and (cleared is None or f.at > cleared)), None)
    return Standing(
        fraud=_fraud(fraud) if fraud else None,
        abuse=_abuse(abuse, policy) if abuse else None,
        legitimate=_legitimate(legitimate) if legitimate else None,
        linked=linked_reason(linked, policy) if linked else None,
    )


def _case(m: VerdictMark) -> str:
    return f"{m.case_kind} {m.case_id}, {iso_utc(m.at)[:10]}"


def _fraud(m: VerdictMark) -> Reason:
    return Reason(code=CONFIRMED_FRAUD, detail=f"A reviewer confirmed fraud on this account ({_case(m)}).")


def _abuse(m: VerdictMark, policy: ReviewPolicy) -> Reason:
    what = "fraud" if m.verdict == "confirmed_fraud" else "refund abuse"
    until = iso_utc(m.at + policy.flag_ms)[:10]
    return Reason(code=CONFIRMED_ABUSE, detail=f"A reviewer confirmed {what} on this account ({_case(m)}): no "
                                               f"instant refunds or offers, a person checks every claim, until "
                                               f"{until}.")


def _legitimate(m: VerdictMark) -> Reason:
    return Reason(code=REVIEWED_LEGITIMATE,
                  detail=f"A reviewer confirmed this customer legitimate ({_case(m)}): trusted more.")


def linked_reason(f: Flag, policy: ReviewPolicy) -> Reason:
    """'Shares a device with an account flagged for serial refund abuse ...': the link, the cause, how long."""
    via = " and ".join(KIND_WORDS.get(k, k) for k in f.via) or "an identifier"
    cause = CAUSE_WORDS.get(f.cause, f.cause.replace("_", " "))
    until = iso_utc(f.at + policy.linked_flag_ms)[:10]
    return Reason(code=LINKED_ACCOUNT_FLAGGED,
                  detail=f"Shares {via} with an account flagged for {cause} on {iso_utc(f.at)[:10]}: no instant "
                         f"refunds or offers until {until}.")
