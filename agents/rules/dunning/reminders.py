"""Dunning reminders within a case: when to tell the customer, and the reminder itself with any offer.

The first notice goes at the first failure the customer can fix, not after all silent retries; issuer-side
declines get it once the retries have had their chance; a card that turns out dead gets the "use another
payment method" ask at once. Each reminder respects consent, the per-customer cap, quiet hours (via notify.py)
and the offer budget, and schedules the next one. Pure.
"""

from __future__ import annotations

from agents.rules.dataclass_replace import replace
from agents.rules.declines import DeclineInfo
from agents.rules.dunning import notify
from agents.rules.dunning.offers import OfferAsk, OfferGrant, choose_offer, remember_grant
from agents.rules.dunning.state import Case, DunningState, Output, Turn
from agents.rules.timeunits import HOUR_MS

Sent = tuple[DunningState, Case, list[Output]]


def plan_reminder(state: DunningState, case: Case, info: DeclineInfo, retrying: bool, t: Turn) -> Sent:
    """Tell the customer at the first failure they can fix (not after all retries); for issuer-side declines,
    once silent retries have had their chance. A card that turns out dead gets the new-payment-method ask at
    once."""
    variant = t.policy.experiment.params_for(case.variant)
    if not variant.reminders:
        return state, case, []
    started = case.reminders_sent > 0 or case.has_pending("reminder")
    first = not started and (info.customer_fixable or not retrying
                             or case.failures >= t.policy.silent_failures_before_reminder)
    switch = started and not info.retryable and not case.asked_new_method
    if not (first or switch):
        return state, case, []
    case = case.cancel("reminder")
    if first and variant.first_reminder_delay_hours > 0:
        due = t.now + variant.first_reminder_delay_hours * HOUR_MS
        if due >= case.ends_at:
            return state, case, []
        step = t.step(case, "reminder_scheduled", case.reason_code, "First reminder scheduled.", due_at=due,
                      attempt=1)
        return state, case.schedule("reminder", due), [step]
    return send_reminder(state, case, t)


def send_reminder(state: DunningState, case: Case, t: Turn) -> Sent:
    """Send reminder n (with an offer when one is due and affordable) and schedule reminder n+1."""
    prefs, n = t.ctx.prefs, case.reminders_sent + 1
    if not prefs.transactional_consent:
        detail = "The customer does not accept transactional messages."
        return state, case, [t.step(case, "reminder_held", "NO_CONSENT", detail, attempt=n)]
    if not notify.within_reminder_cap(state.reminders, t.now, t.policy):
        detail = "The customer already had as many reminders as the policy allows in this window."
        return state, case, [t.step(case, "reminder_held", "REMINDER_CAP", detail, attempt=n)]
    send_at, quiet = notify.send_time(t.now, prefs)
    grant = _offer(state, case, n, send_at, t)
    facts = notify.ReminderFacts(
        customer_id=t.ctx.customer_id, case_id=case.case_id,
        payment_id=case.payment_ids[-1] if case.payment_ids else None, order_id=case.order_id,
        amount_minor=case.amount_minor, currency=case.currency, items=case.items, pay_by=case.ends_at,
        decline_class=case.decline_class, retryable=case.retryable, wording=case.wording, reminder_no=n,
        variant=case.variant,
    )
    note = notify.build_reminder(facts, prefs, t.ctx.link_secret, t.policy, t.now, send_at,
                                 grant.to_offer() if grant else None)
    detail = (f"Reminder {n} held until the customer's quiet hours end." if quiet
              else f"Reminder {n} sent on {note.channel}.")
    reason = "QUIET_HOURS" if quiet else case.reason_code
    out: list[Output] = [t.step(case, "reminder_sent", reason, detail, due_at=send_at, attempt=n)]
    if grant is not None:
        what = f"{grant.percent_off}% off" if grant.kind == "discount" else f"{grant.instalments} instalments"
        out.append(t.step(case, "offer_made", f"OFFER_{grant.kind.upper()}", f"Time-limited offer: {what}.",
                          due_at=grant.expires_at, attempt=n))
        state = replace(state, offers=remember_grant(state.offers, grant, t.now, t.policy.offers))
    out.append(note)
    case = replace(case, reminders_sent=n, offer=grant or case.offer,
                   asked_new_method=case.asked_new_method or not case.retryable)
    state = state.remember_reminder(send_at)
    gaps = t.policy.experiment.params_for(case.variant).reminder_gap_hours or t.policy.reminder_gap_hours
    due = t.now + gaps[n - 1] * HOUR_MS if n <= len(gaps) else None
    if due is not None and due < case.ends_at:
        case = case.schedule("reminder", due)
        out.append(t.step(case, "reminder_scheduled", case.reason_code, f"Reminder {n + 1} scheduled.",
                          due_at=due, attempt=n + 1))
    return state, case, out


def _offer(state: DunningState, case: Case, reminder_no: int, send_at: int, t: Turn) -> OfferGrant | None:
    ask = OfferAsk(
        case_id=case.case_id, amount_minor=case.amount_minor, wording=case.wording, reminder_no=reminder_no,
        in_good_standing=t.ctx.in_good_standing,
        variant_offers=t.policy.experiment.params_for(case.variant).offers, has_offer=case.offer is not None,
    )
    return choose_offer(ask, state.offers, t.policy.offers, t.now, send_at)
