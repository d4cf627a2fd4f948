"""One customer's journey: the single pure step that the live agent and `journey replay` both run.

`handle(state, event, links, policy, ctx)` folds one input event (or a due timer action, or a flag from a linked
account) into the customer's state and returns the records to emit: checkout decisions, dunning steps, notifications,
recoveries, refund decisions, flags for linked accounts (keyed by *their* customer id: AccountFlagged) and identity
links. Time is the event's own time, so a replay of the same events yields the same records.

Before an event at time t is applied, the customer's scheduled retries and reminders due at or before t fire, in
order: a replay and a live worker that had no timer tick in between produce the same timeline.

Identifiers are pseudonymised before anything reads the event (`Context.pseudonyms`, agents/rules/pseudonyms.py), so
the state, the links and every record hold keyed pseudonyms, never raw values; a state written before that, or under
another key, is re-keyed on load (`rekey`). An `ErasureRequested` ends the customer's state (`Step.erased`) and
emits CustomerErased plus an IdentityErased naming every identity-index node their state knows of.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agents.rules import checkout, dunning, erasure, ledger, profile, refunds, reviews
from agents.rules.dataclass_replace import replace
from agents.rules.declines import classify
from agents.rules.dunning import experiments
from agents.rules.erasure import ErasureRequested
from agents.rules.events import (
    AccountFlagged,
    Chargeback,
    CustomerErased,
    CustomerPreferencesUpdated,
    DeviceSeen,
    DueAction,
    IdentityErased,
    IdentityLinked,
    InputEvent,
    LinkKind,
    PaymentAttempted,
    PaymentFailed,
    PaymentSucceeded,
    RefundRequested,
    ReviewVerdict,
)
from agents.rules.identity import IdentityNode, changes, identifier, link
from agents.rules.policy import Policy
from agents.rules.preferences import Preferences, apply_preferences
from agents.rules.pseudonyms import DEV_PSEUDONYMS, Pseudonyms

MAX_REMEMBERED_EVENT_IDS = 256
REMEMBERED_ID_CHARS = 12
MAX_LINKED = 64  # identity-index keys remembered per customer (for erasure), the most recently linked


def remembered_id(event_id: str) -> str:
    """How the deduplication window keeps an event id: as it is when short, else as a 72-bit digest (12 characters)
    (a window of 256 UUIDs was 9.5 KB of every busy customer's state; a false match is about 1 in 10^19 per event)."""
    if len(event_id) <= REMEMBERED_ID_CHARS:
        return event_id
    digest = hashlib.blake2b(event_id.encode(), digest_size=9).digest()
    return base64.urlsafe_b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class CustomerState:
    customer_id: str
    profile: profile.CustomerProfile
    dunning: dunning.DunningState
    refunds: refunds.RefundHistory
    prefs: Preferences
    payments: ledger.Ledger = ledger.Ledger()
    recent_event_ids: tuple[str, ...] = ()  # newest first; the deduplication window (`remembered_id`)
    linked: tuple[str, ...] = ()  # identity-index keys the customer's links named that the ledger does not hold,
    # newest first: erasure finds the customer's nodes from these and the identifiers the rest of the state holds
    pseudonym_key: str = ""  # id of the key its identifiers are pseudonyms under; "": raw (written before them)
    reviews: reviews.ReviewState = reviews.ReviewState()  # open review cases, verdicts, flags from linked accounts

    @classmethod
    def empty(cls, customer_id: str, pseudonym_key: str = "") -> CustomerState:
        return cls(
            customer_id=customer_id,
            profile=profile.CustomerProfile.empty(customer_id),
            dunning=dunning.DunningState.empty(),
            refunds=refunds.RefundHistory.empty(),
            prefs=Preferences(),
            pseudonym_key=pseudonym_key,
        )


@dataclass(frozen=True, slots=True)
class Context:
    """What the step needs from outside the event stream."""

    link_secret: bytes
    pseudonyms: Pseudonyms = DEV_PSEUDONYMS  # JOURNEY_PSEUDONYM_SECRET's


@dataclass(frozen=True, slots=True)
class Step:
    state: CustomerState
    outputs: tuple[Any, ...]  # records from agents.rules.events, each knows its TOPIC; keyed by their customer_id
    links: tuple[IdentityLinked | IdentityErased, ...] = ()  # onto identity-links
    duplicate: bool = False
    unchanged: bool = False  # nothing to store (a due action for a customer with no state, e.g. erased)
    erased: bool = False  # the customer is erased: delete their state instead of storing `state`


Event = InputEvent | DueAction | AccountFlagged | ErasureRequested
"""What the customer agent consumes: the input topics, the timer's dunning-due, linked accounts' account-flags, and
erasures (a tombstone on `customers`)."""


def identifiers_needed(event: Event, ctx: Context, state: CustomerState | None = None) -> tuple[str, ...]:
    """Identity-index keys whose nodes the step reads for this event (fetched by the caller beforehand). A review
    verdict needs the customer's state (`state`, as the step will receive it) to know its case's identifiers."""
    return identifiers_of(ctx.pseudonyms.event(event), state)


def identifiers_of(event: Event, state: CustomerState | None = None) -> tuple[str, ...]:
    """The identity-index keys of an event's identifier fields as they stand (raw values give raw keys: grouping
    events by shared identifiers needs no key; the index is looked up by `identifiers_needed`)."""
    if isinstance(event, PaymentAttempted):
        return ledger.identifiers_of_attempt(event)
    if isinstance(event, RefundRequested):
        return _claim_identifiers(event)
    if isinstance(event, DeviceSeen):
        return _device_identifiers(event)
    if isinstance(event, ReviewVerdict) and state is not None:
        return reviews.case_identifiers(state.reviews, state.payments, event)
    return ()


def _device_identifiers(d: DeviceSeen) -> tuple[str, ...]:
    return tuple(i for i in (identifier("device", d.device_id), identifier("ip", d.ip)) if i)


def _claim_identifiers(r: RefundRequested) -> tuple[str, ...]:
    found = (
        identifier("device", r.device_id),
        identifier("addr", r.shipping_address_id),
        identifier("card", r.card_fingerprint),
        identifier("email", r.claimant_email),
    )
    return tuple(i for i in found if i)


def handle(
    state: CustomerState | None,
    event: Event,
    links: Mapping[str, IdentityNode | None],
    policy: Policy,
    ctx: Context,
) -> Step:
    key_id = ctx.pseudonyms.key_id
    if isinstance(event, ErasureRequested):
        return erase(state, event, ctx)
    if state is None and isinstance(event, DueAction):
        return Step(state=CustomerState.empty(event.customer_id, key_id), outputs=(), unchanged=True)
    state = CustomerState.empty(event.customer_id, key_id) if state is None else rekey(state, ctx.pseudonyms)
    seen = remembered_id(event.event_id)
    if seen in state.recent_event_ids or event.event_id in state.recent_event_ids:  # (states of before: raw ids)
        return Step(state=state, outputs=(), duplicate=True)
    state = replace(state, recent_event_ids=(seen, *state.recent_event_ids)[:MAX_REMEMBERED_EVENT_IDS])
    state, fired = fire_due(state, event.occurred_at, policy, ctx)
    if state.reviews.open:
        state = replace(state, reviews=reviews.expire(state.reviews, event.occurred_at, policy.reviews))
    if isinstance(event, DueAction):
        return Step(state=state, outputs=tuple(fired))
    if isinstance(event, AccountFlagged):
        return Step(state=replace(state, reviews=reviews.apply_flag(state.reviews, event)), outputs=tuple(fired))
    known = {k: v for k, v in links.items() if v is not None}
    state, outputs, new_links = _apply(state, ctx.pseudonyms.event(event), known, policy, ctx)
    if new_links:  # the ledger holds an attempt's identifiers already: `linked` keeps only the others (claims, devices)
        held = set(state.payments.identifiers())
        named = tuple(i for i in dict.fromkeys(i for rec in new_links for i in rec.identifiers) if i not in held)
        if named:
            state = replace(state, linked=(*named, *(i for i in state.linked if i not in named))[:MAX_LINKED])
    return Step(state=state, outputs=(*fired, *outputs), links=tuple(new_links))


def erase(state: CustomerState | None, request: ErasureRequested, ctx: Context) -> Step:
    """What erasing a customer emits: CustomerErased always (an erasure processed again says so again, with the same
    id), and an IdentityErased for the identity-index nodes their state knows of, when it knows of any."""
    cid, at = request.customer_id, request.occurred_at
    empty = CustomerState.empty(cid, ctx.pseudonyms.key_id)
    idents = () if state is None else state_identifiers(rekey(state, ctx.pseudonyms))
    done = CustomerErased(event_id=request.event_id, customer_id=cid, occurred_at=at)
    links = (IdentityErased(event_id=f"{request.event_id}|identities", identifiers=idents, customer_id=cid,
                            occurred_at=at),) if idents else ()
    return Step(state=empty, outputs=(done,), links=links, erased=True)


def state_identifiers(state: CustomerState) -> tuple[str, ...]:
    """Every identity-index key the state holds: the nodes an erasure must take the customer off."""
    held = erasure.identifiers_of(state.profile, state.payments, state.dunning)
    cases = (i for c in state.reviews.open for i in c.identifiers)
    return tuple(sorted({*held, *state.linked, *cases}))


def rekey(state: CustomerState, pseudonyms: Pseudonyms) -> CustomerState:
    """The state with its identifiers under `pseudonyms`' key. A state written before pseudonymisation (key id "")
    has raw values: each becomes its pseudonym (e-mails were kept only as unkeyed hashes, which cannot be re-keyed,
    and are dropped). A state under another key (the secret was rotated) cannot be translated: its identifiers are
    forgotten, so its devices, cards and addresses are new to it until seen again; counts and history stay."""
    if state.pseudonym_key == pseudonyms.key_id:
        return state

    def migrate(kind: str, value: str) -> str | None:
        return None if kind == "email" else pseudonyms.of(kind, value)

    def forget(kind: str, value: str) -> str | None:
        return None

    f = migrate if state.pseudonym_key == "" else forget
    return replace(
        state, profile=erasure.remap_profile(state.profile, f), payments=erasure.remap_payments(state.payments, f),
        dunning=erasure.remap_dunning(state.dunning, f), linked=erasure.remap_identifiers(state.linked, f),
        reviews=replace(state.reviews, open=tuple(replace(c, identifiers=erasure.remap_identifiers(c.identifiers, f))
                                                  for c in state.reviews.open)),
        pseudonym_key=pseudonyms.key_id,
    )


def fire_due(state: CustomerState, until: int, policy: Policy, ctx: Context) -> tuple[CustomerState, list[Any]]:
    """Fire every scheduled retry/reminder due at or before `until`, each at its own due time."""
    outputs: list[Any] = []
    for _ in range(1000):  # a schedule is finite; the bound only guards against a rule that reschedules forever
        due = [d for d in dunning.due_actions(state.dunning, state.customer_id, until) if d.occurred_at <= until]
        if not due:
            break
        first = min(due, key=lambda d: (d.occurred_at, d.seq, d.case_id))
        at = first.occurred_at
        new_dunning, out = dunning.on_due(state.dunning, first, _dunning_ctx(state, None, policy, ctx, at),
                                          policy.dunning, at)
        state = replace(state, dunning=new_dunning)
        outputs += out
    return state, outputs


def in_good_standing(state: CustomerState, policy: Policy, now: int) -> bool:
    """Refund abusers, customers with their own bad history, customers a reviewer confirmed as fraud or abuse and
    accounts linked to a flagged one get no offers and no instant refunds."""
    return not (refunds.is_refund_abuser(state.refunds, policy.refunds, now)
                or checkout.has_bad_history(state.profile, policy.checkout, now)
                or standing_of(state, policy, now).withholding is not None)


def standing_of(state: CustomerState, policy: Policy, now: int) -> reviews.Standing:
    return reviews.standing(state.reviews, policy.reviews, now)


def _dunning_ctx(state: CustomerState, payment: ledger.PaymentRef | None, policy: Policy, ctx: Context,
                 now: int) -> dunning.DunningContext:
    """Standing is judged at `now`: an abuser flag or a chargeback counts only while it is in force then."""
    return dunning.DunningContext(
        customer_id=state.customer_id,
        prefs=state.prefs,
        payment=payment,
        in_good_standing=in_good_standing(state, policy, now),
        link_secret=ctx.link_secret,
        variant=experiments.variant_for(state.customer_id, policy.dunning),
    )


def _apply(
    state: CustomerState, event: InputEvent, links: Mapping[str, IdentityNode], policy: Policy, ctx: Context
) -> tuple[CustomerState, list[Any], list[IdentityLinked]]:
    now = event.occurred_at
    outputs: list[Any] = []
    new_links: list[IdentityLinked | None] = []
    payment = state.payments.find(event.payment_id) if hasattr(event, "payment_id") else None

    if isinstance(event, PaymentAttempted):
        verdict = checkout.decide(state.profile, links, event, policy.checkout, now, policy.version,
                                  standing_of(state, policy, now))
        outputs.append(verdict)
        payment = replace(ledger.ref_of(event), checkout_outcome=verdict.outcome)
        state = replace(state, payments=state.payments.remember(payment))
        if checkout.is_grey_zone(verdict):
            opened = reviews.payment_case(verdict, event, payment.identifiers)
            state = replace(state, reviews=reviews.open_case(state.reviews, opened))
        new_links.append(_link(links, payment.identifiers, state.customer_id, now, "seen", event.event_id))
    elif isinstance(event, RefundRequested):
        claimed = _claim_identifiers(event)
        decision, notice = refunds.decide_refund(
            state.refunds, links, event, state.prefs, policy.refunds, now, policy.version,
            standing_of(state, policy, now),
        )
        outputs += [decision, notice]
        if refunds.judged_serial(decision):  # the actor's other accounts lose instant refunds and offers too
            outputs += reviews.flags_for_linked(state.customer_id, links, "serial_refund_abuse", event.event_id,
                                                now, policy.reviews)
        state = replace(state, refunds=refunds.record_decision(state.refunds, decision))
        if (case := reviews.refund_case(decision, event, claimed)) is not None:
            state = replace(state, reviews=reviews.open_case(state.reviews, case))
        new_links.append(_link(links, claimed, state.customer_id, now, "claim", event.event_id,
                               event.reason, event.refund_id))
    elif isinstance(event, ReviewVerdict):
        judged, flags = reviews.on_verdict(state.reviews, event, links, policy.reviews)
        state = replace(state, reviews=judged)
        if event.case_kind == "refund" and event.verdict in reviews.CLEARING:
            state = replace(state, refunds=refunds.clear_claim(state.refunds, event.case_id))
        outputs += flags
    elif isinstance(event, DeviceSeen):
        new_links.append(_link(links, _device_identifiers(event), state.customer_id, now, "seen", event.event_id))
    elif isinstance(event, Chargeback) and payment is not None:
        new_links.append(_link(links, payment.identifiers, state.customer_id, now, "chargeback", event.event_id,
                               event.reason, event.payment_id))
    elif isinstance(event, CustomerPreferencesUpdated):
        state = replace(state, prefs=apply_preferences(state.prefs, event))

    if isinstance(event, PaymentSucceeded | PaymentFailed):
        status: ledger.Status = "succeeded" if isinstance(event, PaymentSucceeded) else "failed"
        state = replace(state, payments=state.payments.mark(event.payment_id, status))

    decline = classify(event, policy.declines) if isinstance(event, PaymentFailed) else None
    new_dunning, dunning_out = dunning.on_event(
        state.dunning, event, _dunning_ctx(state, payment, policy, ctx, now), policy.dunning, now, decline
    )
    outputs += dunning_out
    state = replace(
        state,
        dunning=new_dunning,
        profile=profile.update_profile(state.profile, event, now, payment=payment, decline=decline),
        refunds=refunds.update_refund_history(state.refunds, event, now),
    )
    return state, outputs, [rec for rec in new_links if rec is not None]


def _link(nodes: Mapping[str, IdentityNode], idents: tuple[str, ...], customer_id: str, at: int, kind: LinkKind,
          source_event_id: str, reason: str | None = None, ref: str | None = None) -> IdentityLinked | None:
    """The event's one link, naming only the identifiers whose node it changes (None when it changes nothing)."""
    changed = tuple(i for i in idents if changes(i, nodes.get(i), customer_id, at, kind))
    return link(changed, customer_id, at, kind, source_event_id, reason, ref)
