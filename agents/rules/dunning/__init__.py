"""Dunning: recovering failed payments, as a pure per-customer state machine.

`on_event` folds a payment event into the customer's DunningState: a PaymentFailed opens or extends a case
(keyed by order, else payment), plans a silent retry within the decline's spacing and the card networks'
limits, and tells the customer at the first failure they can fix; a PaymentSucceeded for the case's order
(whatever the payment method) closes it with one PaymentRecovered; a Chargeback or a fraud block stops
everything. Scheduled retries, reminders and the window end live in the state; a timer publishes them as
DueAction and `on_due` fires each at most once. Outputs are DunningStep (topic `dunning`), Notification
(`notifications`) and PaymentRecovered (`recovery`).
"""

from __future__ import annotations

from agents.rules.dataclass_replace import replace
from agents.rules.declines import NETWORK_ALIASES, DeclineInfo
from agents.rules.dunning.policy import DunningPolicy
from agents.rules.dunning.reminders import plan_reminder, send_reminder
from agents.rules.dunning.retries import CardAttempt, earliest_within_limits, record_attempt, retry_delay_ms
from agents.rules.dunning.state import (
    MAX_OPEN_CASES,
    MAX_PAYMENTS_PER_CASE,
    Case,
    DunningContext,
    DunningState,
    OrderNote,
    Output,
    Turn,
    due_actions,
    next_due,
)
from agents.rules.events import (
    Chargeback,
    DueAction,
    InputEvent,
    OrderPlaced,
    PaymentFailed,
    PaymentRecovered,
    PaymentSucceeded,
)
from agents.rules.timeunits import DAY_MS

__all__ = ["DunningContext", "DunningPolicy", "DunningState", "Output", "due_actions", "next_due", "on_due",
           "on_event"]

NO_CURRENCY = "XXX"  # ISO 4217 "no currency", when neither the failure nor the ledger says
MOVED = "Retry moved later to stay within the card network's retry limit."
Result = tuple[DunningState, list[Output]]


def on_event(state: DunningState, event: InputEvent, ctx: DunningContext, policy: DunningPolicy,
             now: int, decline: DeclineInfo | None = None) -> Result:
    """Fold one input event into the dunning state. Events other than payments, chargebacks and orders change
    nothing. A case whose window has ended is closed first, exactly as its own due `close` would close it.
    A PaymentFailed comes with `decline`, what it means (`classify(event, policy.declines)`)."""
    if isinstance(event, PaymentFailed) and decline is None:
        raise ValueError(f"PaymentFailed {event.event_id} needs its DeclineInfo")
    state, out = _close_lapsed(state, ctx, policy, now)
    t = Turn(ctx=ctx, policy=policy, now=now, source=event.event_id)
    if isinstance(event, PaymentFailed) and decline is not None:
        state, more = _on_failed(state, event, decline, t)
    elif isinstance(event, PaymentSucceeded):
        state, more = _on_succeeded(state, event, t)
    elif isinstance(event, Chargeback):
        state, more = _stop_all(state, t, "CHARGEBACK", f"Chargeback on payment {event.payment_id}.")
        if ctx.payment is not None:
            state = state.remember_closed(ctx.payment.order_id, "CHARGEBACK", now)
    elif isinstance(event, OrderPlaced):
        note = OrderNote(order_id=event.order_id, items=len(event.items), amount_minor=event.amount_minor,
                         currency=event.currency)
        state, more = state.remember_order(note), []
    else:
        more = []
    return state, out + more


def on_due(state: DunningState, due: DueAction, ctx: DunningContext, policy: DunningPolicy,
           now: int) -> Result:
    """Fire a scheduled entry if, and only if, it is still pending: a repeated, stale or unknown DueAction
    changes nothing and emits nothing, which makes firing exactly-once across timer restarts."""
    case = state.case(due.case_id)
    entry = case.pending_entry(due.seq, due.action) if case else None
    if case is None or entry is None:
        return state, []
    t = Turn(ctx=ctx, policy=policy, now=now, source=due.event_id)
    case = replace(case, pending=tuple(p for p in case.pending if p.seq != entry.seq))
    if entry.action == "close":
        return _stop(state, case, t, "WINDOW_END", "The dunning window ended without payment.")
    if entry.action == "retry":
        case, out = _fire_retry(state, case, entry.due_at, t)
        return state.with_case(case), out
    state, case, out = send_reminder(state, case, t)
    return state.with_case(case), out


# ---------------------------------------------------------------- failures

NO_RETRY_ADVICE = frozenset({"MC_ADVICE_03", "MC_ADVICE_21"})
MAX_CARD_HOLDS = 20


def _on_failed(state: DunningState, failed: PaymentFailed, info: DeclineInfo, t: Turn) -> Result:
    pay = t.ctx.payment
    order_id = failed.order_id or (pay.order_id if pay else None)
    case_key = order_id or failed.payment_id
    # Without a card fingerprint the limits are kept per order: the best stand-in for "this card".
    card = failed.card_fingerprint or (pay.card_fingerprint if pay else None) or f"order:{case_key}"
    network = NETWORK_ALIASES.get(failed.network.strip().lower(), failed.network.strip().lower())
    # The network saw this attempt whatever we do next: it counts toward the card's retry limits.
    attempt = CardAttempt(card=card, network=network, initiator=failed.initiator, at=t.now)
    state = replace(state, attempts=record_attempt(state.attempts, attempt))
    if info.reason_code in NO_RETRY_ADVICE:
        until = t.now + t.policy.networks.mastercard_no_retry_days * DAY_MS
        holds = tuple((c, u) for c, u in state.card_holds if c != card and u > t.now)
        state = replace(state, card_holds=((card, until), *holds)[:MAX_CARD_HOLDS])
    case = state.find_case(failed.payment_id, order_id)
    if case is None and state.is_closed(case_key):
        return state, []  # paid, lapsed or stopped: never dun it again
    if case is None and pay is not None and pay.checkout_outcome == "decline":
        return state, []  # our own checkout declined it as fraud or card testing: nobody to ask to pay again
    out: list[Output] = []
    if case is None:
        case = _new_case(state, failed, info, order_id, card, network, t)
        if info.fraud or t.now < state.blocked_until:
            return _refuse(state, case, info, t)
        if len(state.cases) >= MAX_OPEN_CASES:
            oldest = min(state.cases, key=lambda c: (c.opened_at, c.case_id))
            state, out = _stop(state, oldest, t, "CASE_LIMIT", "Too many open cases; the oldest is closed.")
        case = case.schedule("close", case.ends_at)
        detail = f"Payment {failed.payment_id} failed: {info.detail}"
        out.append(t.step(case, "case_opened", info.reason_code, detail))
    elif info.fraud:
        return _stop_all(state, t, "FRAUD_BLOCK", info.detail)
    else:
        case = _extend(case, failed, info, card, network)
    case, retry_out, retrying = _plan_retry(state, case.cancel("retry"), info, t)
    state, case, reminder_out = plan_reminder(state, case, info, retrying, t)
    return state.with_case(case), out + retry_out + reminder_out


def _new_case(state: DunningState, failed: PaymentFailed, info: DeclineInfo, order_id: str | None, card: str,
              network: str, t: Turn) -> Case:
    pay, note = t.ctx.payment, state.order(order_id)
    amount = failed.amount_minor if failed.amount_minor is not None else (
        pay.amount_minor if pay else note.amount_minor if note else 0)
    currency = failed.currency or (pay.currency if pay else note.currency if note else NO_CURRENCY)
    return Case(
        case_id=order_id or failed.payment_id, order_id=order_id, opened_at=t.now,
        ends_at=t.now + t.policy.window_ms, amount_minor=amount, currency=currency,
        items=note.items if note else 0, card=card, network=network, initiator=failed.initiator,
        decline_class=info.decline_class, reason_code=info.reason_code, wording=info.wording,
        retryable=info.retryable, variant=t.ctx.variant, payment_ids=(failed.payment_id,),
    )


def _extend(case: Case, failed: PaymentFailed, info: DeclineInfo, card: str, network: str) -> Case:
    """The latest decline governs what happens next (a retry that comes back "stolen card" is dead)."""
    seen = failed.payment_id in case.payment_ids
    ids = case.payment_ids if seen else (*case.payment_ids, failed.payment_id)
    return replace(case, payment_ids=ids[-MAX_PAYMENTS_PER_CASE:], failures=case.failures + 1, card=card,
                   network=network, initiator=failed.initiator, decline_class=info.decline_class,
                   reason_code=info.reason_code, wording=info.wording, retryable=info.retryable)


def _refuse(state: DunningState, case: Case, info: DeclineInfo, t: Turn) -> Result:
    """A fraud block, or a customer blocked by an earlier one or by a chargeback: no case, no retry, no
    message."""
    if info.fraud:
        state, out = _stop_all(state, t, "FRAUD_BLOCK", info.detail)
        return state.remember_closed(case.case_id, "FRAUD_BLOCK", t.now), [
            *out, t.step(case, "stopped", "FRAUD_BLOCK", f"Not dunned: {info.detail}")]
    detail = "Not dunned: the customer is blocked after a chargeback or fraud block."
    return state.remember_closed(case.case_id, "CUSTOMER_BLOCKED", t.now), [
        t.step(case, "stopped", "CUSTOMER_BLOCKED", detail)]


# ---------------------------------------------------------------- retries

def _plan_retry(state: DunningState, case: Case, info: DeclineInfo,
                t: Turn) -> tuple[Case, list[Output], bool]:
    """Schedule the next silent retry, or say why not. Returns whether a retry is now scheduled."""
    n = case.retries_fired + 1
    if not info.retryable:
        held = t.step(case, "retry_held", info.reason_code, f"Never retried: {info.detail}", attempt=n)
        return case, [held], False
    if n > t.policy.max_retries:
        return case, [t.step(case, "retry_held", "MAX_RETRIES",
                             f"All {t.policy.max_retries} retries of the policy are used.", attempt=n)], False
    held_until = state.card_held_until(case.card, t.now)
    if held_until is not None:
        return case, [t.step(case, "retry_held", "MC_NO_RETRY", "Mastercard advised not to retry this card (merchant "
                             f"advice 03 or 21): no retry for {t.policy.networks.mastercard_no_retry_days} days, "
                             "for any order.", attempt=n)], False
    at = t.now + retry_delay_ms(info, n, t.policy)
    when, limit = earliest_within_limits(state.attempts, case.card, case.network, case.initiator, at,
                                         t.policy.networks)
    if when >= case.ends_at:
        why = "the card's network retry limit" if limit else "the decline's spacing"
        return case, [t.step(case, "retry_held", limit or "WINDOW_END",
                             f"No retry fits before the dunning window ends, given {why}.", attempt=n)], False
    out: list[Output] = []
    if limit:
        out.append(t.step(case, "retry_held", limit, MOVED, due_at=when, attempt=n))
    out.append(t.step(case, "retry_scheduled", info.reason_code, f"Silent retry {n}: {info.detail}",
                      due_at=when, attempt=n))
    return case.schedule("retry", when), out, True


def _fire_retry(state: DunningState, case: Case, due_at: int, t: Turn) -> tuple[Case, list[Output]]:
    """Check the limits again at firing time: other attempts on the card may have come since scheduling."""
    n = case.retries_fired + 1
    if state.card_held_until(case.card, t.now) is not None:
        return case, [t.step(case, "retry_held", "MC_NO_RETRY", "Mastercard advised not to retry this card (merchant "
                             "advice 03 or 21) since this retry was scheduled.", attempt=n)]
    when, limit = earliest_within_limits(state.attempts, case.card, case.network, case.initiator, t.now,
                                         t.policy.networks)
    if limit is None:
        detail = "The retry is due; the payment service performs it and reports the outcome."
        return replace(case, retries_fired=n), [
            t.step(case, "retry_due", case.reason_code, detail, due_at=due_at, attempt=n)]
    if when >= case.ends_at:
        detail = "The card network's retry limit leaves no retry in the dunning window."
        return case, [t.step(case, "retry_held", limit, detail, attempt=n)]
    return case.schedule("retry", when), [t.step(case, "retry_held", limit, MOVED, due_at=when, attempt=n)]


# ---------------------------------------------------------------- success and stops

def _on_succeeded(state: DunningState, ok: PaymentSucceeded, t: Turn) -> Result:
    pay = t.ctx.payment
    order_id = ok.order_id or (pay.order_id if pay else None)
    case = state.find_case(ok.payment_id, order_id)
    # Remembered even without a case: a late failure for a paid order must never dun the customer.
    state = state.remember_closed(order_id or ok.payment_id, "PAID", t.now)
    if case is None:
        return state, []
    recovered = _recovery(case, ok, t)
    state, out = _stop(state, case, t, "PAID", f"Paid by {recovered.recovered_by.replace('_', ' ')}.")
    return state, [recovered, *out]


def _recovery(case: Case, ok: PaymentSucceeded, t: Turn) -> PaymentRecovered:
    """Credit the recovery: an honoured offer, else the last reminder, else a silent retry on the same card,
    else the customer on their own."""
    offer = case.offer if case.offer is not None and case.offer.honoured_at(t.now) else None
    new_method = ok.card_fingerprint is not None and ok.card_fingerprint != case.card
    if offer is not None:
        by = "offer"
    elif case.reminders_sent:
        by = "reminder"
    elif case.retries_fired and not new_method:
        by = "silent_retry"
    else:
        by = "customer"
    amount = ok.amount_minor if ok.amount_minor is not None else case.amount_minor - (
        offer.discount_minor if offer else 0)
    return PaymentRecovered(
        event_id=f"{case.case_id}:recovered", customer_id=t.ctx.customer_id, occurred_at=t.now,
        case_id=case.case_id, order_id=case.order_id, payment_id=ok.payment_id, amount_minor=amount,
        currency=ok.currency or case.currency, time_to_recover_ms=t.now - case.opened_at, recovered_by=by,
        reminder_no=case.reminders_sent or None, offer_id=offer.offer_id if offer else None,
        decline_class=case.decline_class, variant=case.variant,
    )


def _stop(state: DunningState, case: Case, t: Turn, reason: str, detail: str) -> Result:
    cancelled = sum(1 for p in case.pending if p.action != "close")
    note = f" {cancelled} scheduled retries/reminders cancelled." if cancelled else ""
    return state.without_case(case.case_id, reason, t.now), [t.step(case, "stopped", reason, detail + note)]


def _stop_all(state: DunningState, t: Turn, reason: str, detail: str) -> Result:
    """A chargeback or fraud block ends every open case and keeps new ones from opening for a while."""
    out: list[Output] = []
    for case in state.cases:
        state, more = _stop(state, case, t, reason, detail)
        out += more
    return replace(state, blocked_until=max(state.blocked_until, t.now + t.policy.block_days * DAY_MS)), out


def _close_lapsed(state: DunningState, ctx: DunningContext, policy: DunningPolicy, now: int) -> Result:
    out: list[Output] = []
    for due in due_actions(state, ctx.customer_id, now):
        if due.action == "close":
            state, more = on_due(state, due, ctx, policy, due.occurred_at)
            out += more
    return state, out
