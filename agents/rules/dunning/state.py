"""The per-customer dunning state: open cases with their scheduled retries and reminders, and the bounded
memory that keeps dunning honest (cases already closed, declined attempts per card, reminders and offers
sent).

Only frozen dataclasses, tuples, str, int, bool and None, so the generic JSON state codec can store it. Every
collection is capped. The functions here answer lookups and build new values; the transitions live in
dunning.py. `Turn` carries one call's fixed inputs and builds its DunningStep records, with ids derived from
the input's id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.rules.dataclass_replace import replace
from agents.rules.dunning.offers import OfferGrant
from agents.rules.dunning.policy import DunningPolicy
from agents.rules.dunning.retries import CardAttempt
from agents.rules.events import DueAction, DunningStep, Notification, PaymentRecovered
from agents.rules.ledger import PaymentRef
from agents.rules.preferences import Preferences

MAX_OPEN_CASES = 10
MAX_CLOSED = 50
MAX_ORDERS = 20
MAX_PAYMENTS_PER_CASE = 20
MAX_REMINDER_LOG = 20

Output = DunningStep | Notification | PaymentRecovered


@dataclass(frozen=True, slots=True)
class Scheduled:
    """A retry, reminder or window end waiting for its time; `seq` is unique within the case."""

    seq: int
    action: str  # retry, reminder or close
    due_at: int


@dataclass(frozen=True, slots=True)
class Case:
    """One failed order (or payment, when there is no order) being recovered."""

    case_id: str
    order_id: str | None
    opened_at: int
    ends_at: int
    amount_minor: int
    currency: str
    items: int
    card: str  # card fingerprint, or a stand-in that keeps the limits per payment when there is none
    network: str
    initiator: str
    decline_class: str  # of the latest decline; the class the case opened with is on its case_opened step
    reason_code: str
    wording: str
    retryable: bool
    variant: str
    payment_ids: tuple[str, ...] = ()
    failures: int = 1
    retries_fired: int = 0
    reminders_sent: int = 0
    asked_new_method: bool = False
    offer: OfferGrant | None = None
    pending: tuple[Scheduled, ...] = ()
    next_seq: int = 1

    def schedule(self, action: str, due_at: int) -> Case:
        entry = Scheduled(seq=self.next_seq, action=action, due_at=due_at)
        return replace(self, pending=(*self.pending, entry), next_seq=self.next_seq + 1)

    def cancel(self, action: str) -> Case:
        return replace(self, pending=tuple(p for p in self.pending if p.action != action))

    def pending_entry(self, seq: int, action: str) -> Scheduled | None:
        return next((p for p in self.pending if p.seq == seq and p.action == action), None)

    def has_pending(self, action: str) -> bool:
        return any(p.action == action for p in self.pending)


@dataclass(frozen=True, slots=True)
class Closed:
    """A case (or paid order) that must never be dunned again: paid, lapsed, disputed or fraud-blocked."""

    case_id: str
    why: str
    at: int


@dataclass(frozen=True, slots=True)
class OrderNote:
    """What a reminder may say about an order: its size, never its contents."""

    order_id: str
    items: int
    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class DunningState:
    cases: tuple[Case, ...] = ()
    closed: tuple[Closed, ...] = ()  # newest first
    attempts: tuple[CardAttempt, ...] = ()  # declined attempts per card, for the network limits
    reminders: tuple[int, ...] = ()  # send times of recent reminders, newest first, for the per-window cap
    offers: tuple[OfferGrant, ...] = ()  # offers made, newest first, for the budget
    orders: tuple[OrderNote, ...] = ()  # recent orders, newest first
    blocked_until: int = 0  # after a chargeback or fraud block no new case opens before this time
    card_holds: tuple[tuple[str, int], ...] = ()  # (card, until): Mastercard said never retry it (advice 03/21)

    def card_held_until(self, card: str, now: int) -> int | None:
        """Until when retries of this card are forbidden, if they are at `now`."""
        until = max((u for c, u in self.card_holds if c == card), default=0)
        return until if until > now else None

    @classmethod
    def empty(cls) -> DunningState:
        return cls()

    def case(self, case_id: str) -> Case | None:
        return next((c for c in self.cases if c.case_id == case_id), None)

    def find_case(self, payment_id: str, order_id: str | None) -> Case | None:
        """The open case a payment belongs to: the same payment, or another payment for the same order (a
        retry or a new payment method)."""
        for c in self.cases:
            if payment_id in c.payment_ids or c.case_id == payment_id:
                return c
            if order_id and c.order_id == order_id:
                return c
        return None

    def is_closed(self, case_id: str) -> bool:
        return any(c.case_id == case_id for c in self.closed)

    def order(self, order_id: str | None) -> OrderNote | None:
        return next((o for o in self.orders if o.order_id == order_id), None) if order_id else None

    def with_case(self, case: Case) -> DunningState:
        if self.case(case.case_id) is None:
            return replace(self, cases=(*self.cases, case))
        return replace(self, cases=tuple(case if c.case_id == case.case_id else c for c in self.cases))

    def without_case(self, case_id: str, why: str, at: int) -> DunningState:
        return replace(self, cases=tuple(c for c in self.cases if c.case_id != case_id)).remember_closed(
            case_id, why, at)

    def remember_closed(self, case_id: str, why: str, at: int) -> DunningState:
        rest = tuple(c for c in self.closed if c.case_id != case_id)
        return replace(self, closed=(Closed(case_id=case_id, why=why, at=at), *rest)[:MAX_CLOSED])

    def remember_order(self, note: OrderNote) -> DunningState:
        rest = tuple(o for o in self.orders if o.order_id != note.order_id)
        return replace(self, orders=(note, *rest)[:MAX_ORDERS])

    def remember_reminder(self, send_at: int) -> DunningState:
        return replace(self, reminders=(send_at, *self.reminders)[:MAX_REMINDER_LOG])


@dataclass(frozen=True, slots=True)
class DunningContext:
    """What dunning needs from outside the event: who the customer is and how to reach them, the payment
    behind the event (from the ledger), whether they may get offers, the link-signing secret and their
    experiment variant."""

    customer_id: str
    prefs: Preferences
    payment: PaymentRef | None = None
    in_good_standing: bool = True  # false for refund abusers and risky customers: no offers
    link_secret: bytes = field(default=b"", repr=False)
    variant: str = "control"


@dataclass(frozen=True, slots=True)
class Turn:
    """One call's fixed inputs: who, under which policy, when, and the id every output id derives from."""

    ctx: DunningContext
    policy: DunningPolicy
    now: int
    source: str

    def step(self, case: Case, action: str, reason_code: str, detail: str, due_at: int | None = None,
             attempt: int = 0) -> DunningStep:
        # A due entry's id already names its case; an input event's id does not, and may touch several cases.
        own = self.source.startswith(f"{case.case_id}:")
        source = self.source if own else f"{self.source}:{case.case_id}"
        return DunningStep(
            event_id=f"{source}:{action}", customer_id=self.ctx.customer_id, occurred_at=self.now,
            case_id=case.case_id, action=action, due_at=due_at, attempt=attempt,
            decline_class=case.decline_class, reason_code=reason_code, detail=detail, variant=case.variant,
        )



def next_due(state: DunningState) -> int | None:
    """When the earliest scheduled entry falls due, for the timer's index; None when nothing is scheduled."""
    return min((p.due_at for c in state.cases for p in c.pending), default=None)


def due_actions(state: DunningState, customer_id: str, now: int) -> list[DueAction]:
    """The entries due at or before `now`, in firing order, with ids derived from the entry: publishing one
    twice yields the same event, and `on_due` fires an entry only while it is still pending."""
    due = sorted((p.due_at, p.seq, c.case_id, p.action) for c in state.cases for p in c.pending
                 if p.due_at <= now)
    return [DueAction(event_id=f"{case_id}:{action}:{seq}", customer_id=customer_id, occurred_at=at,
                      case_id=case_id, action=action, seq=seq) for at, seq, case_id, action in due]
