"""The simulator's event builders: one function per thing that happens, and `purchase`, which strings them together.

Outcomes are consistent with the rules of the game: a card payment in SCA scope either gets the exemption the shop
asked for (low value under EUR 30 within 5 payments / EUR 100 since the last authentication, or TRA up to EUR 250)
or goes through a 3-D Secure challenge, and an AuthenticationResult says which; wallets and bank redirects
authenticate in their own flow; merchant-initiated and non-EEA payments are out of scope. Declines carry codes that
match the card's network. Every outcome, delivery, refund and chargeback follows the attempt or order it refers to.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.rules.events import (
    Authentication,
    AuthenticationResult,
    ChallengeOutcome,
    Chargeback,
    CustomerPreferencesUpdated,
    DeviceSeen,
    Initiator,
    OrderChannel,
    OrderDelivered,
    OrderPlaced,
    PaymentAttempted,
    PaymentFailed,
    PaymentSucceeded,
    RefundIssued,
    RefundRequested,
)
from pipeline.sim.world import (
    AUTHENTICATION_REQUIRED,
    CHANNELS,
    DAY,
    EEA,
    HOUR,
    ITEMS,
    Card,
    Decline,
    Person,
    World,
    eur_cents,
    price,
)

LOW_VALUE_LIMIT_EUR_CENTS = 3_000  # RTS Art. 16
LOW_VALUE_MAX_COUNT = 5
LOW_VALUE_MAX_CUMULATIVE_EUR_CENTS = 10_000
TRA_LIMIT_EUR_CENTS = 25_000  # the band this shop's fraud rate allows (RTS Art. 18)


@dataclass(frozen=True, slots=True)
class Visit:
    """Where a payment comes from. No device or IP for a store terminal or an off-session (merchant) charge."""

    device: str | None
    ip: str | None
    ip_country: str | None


OFF_SESSION = Visit(None, None, None)


def at_home(p: Person, device: str | None = None) -> Visit:
    return Visit(device or p.device, p.ip, p.country.code)


@dataclass(frozen=True, slots=True)
class Purchase:
    order: OrderPlaced
    attempts: tuple[PaymentAttempted, ...]
    paid: PaymentAttempted | None  # the attempt that succeeded, if any
    paid_at: int | None
    delivered_at: int | None


def prefs(w: World, p: Person, at: int, actor: str, story: str, fraud: bool = False) -> None:
    quiet = w.chance(0.3)
    start, end = w.rng.choice(((22 * 60, 7 * 60), (23 * 60, 8 * 60), (21 * 60 + 30, 7 * 60 + 30)))
    w.emit(CustomerPreferencesUpdated(
        event_id=w.eid(), customer_id=p.cid, occurred_at=at, name=p.name, locale=p.country.locale,
        timezone=p.country.timezone, channels=w.rng.choice(CHANNELS), quiet_hours_start=start if quiet else None,
        quiet_hours_end=end if quiet else None, marketing_consent=w.chance(0.4),
        transactional_consent=w.chance(0.96)), actor, story, fraud)


def seen(w: World, p: Person, at: int, visit: Visit, actor: str, story: str, fraud: bool = False) -> None:
    assert visit.device and visit.ip and visit.ip_country, "a device sighting needs a device, an IP and a country"
    agent = "Mozilla/5.0 (Linux; Android 14) Mobile" if "phone" in visit.device else "Mozilla/5.0 (X11; Linux)"
    w.emit(DeviceSeen(event_id=w.eid(), customer_id=p.cid, occurred_at=at, device_id=visit.device, ip=visit.ip,
                      ip_country=visit.ip_country, user_agent=agent), actor, story, fraud)


def order(w: World, p: Person, at: int, amount: int, actor: str, story: str, *, channel: OrderChannel = "online",
          address: str | None = None, ship_country: str | None = None, items: tuple[str, ...] | None = None,
          fraud: bool = False) -> OrderPlaced:
    online = channel == "online"
    o = OrderPlaced(event_id=w.eid(), customer_id=p.cid, occurred_at=at, order_id=w.ref("ord"), channel=channel,
                    amount_minor=amount, currency=p.country.currency,
                    shipping_address_id=(address or p.address) if online else None,
                    shipping_country=(ship_country or p.country.code) if online else None,
                    items=items or tuple(w.rng.sample(ITEMS, w.rng.choice((1, 1, 2, 3)))))
    w.emit(o, actor, story, fraud)
    return o


def attempt(w: World, p: Person, at: int, o: OrderPlaced, actor: str, story: str, *, method: str,
            card: Card | None, visit: Visit, initiator: Initiator = "customer",
            fraud: bool = False) -> PaymentAttempted:
    used = card if method == "card" else None
    a = PaymentAttempted(
        event_id=w.eid(), customer_id=p.cid, occurred_at=at, payment_id=w.ref("pay"), order_id=o.order_id,
        amount_minor=o.amount_minor, currency=o.currency, method=method, initiator=initiator,
        channel=o.channel, device_id=visit.device, ip=visit.ip, ip_country=visit.ip_country,
        shipping_address_id=o.shipping_address_id,
        card_fingerprint=used.fingerprint if used else None, card_issuer=used.issuer if used else None,
        card_country=used.country if used else None, customer_country=p.country.code,
        sca_applies=p.country.code in EEA and (used is None or used.country in EEA),
        network=used.network if used else None)
    w.emit(a, actor, story, fraud)
    return a


def _in_sca_scope(a: PaymentAttempted) -> bool:
    """A remote, customer-initiated card payment with issuer and shop in the EEA needs SCA or an exemption."""
    return (a.method == "card" and a.initiator == "customer" and a.channel == "online" and a.device_id is not None
            and a.sca_applies)


def _exemption_to_ask(w: World, card: Card, eur: int) -> str | None:
    count, total = w.low_value.get(card.fingerprint, (0, 0))
    if (eur < LOW_VALUE_LIMIT_EUR_CENTS and count < LOW_VALUE_MAX_COUNT
            and total + eur <= LOW_VALUE_MAX_CUMULATIVE_EUR_CENTS):
        return "low_value"
    return "tra" if eur <= TRA_LIMIT_EUR_CENTS and w.chance(0.5) else None


def settle(w: World, a: PaymentAttempted, card: Card | None, actor: str, story: str, *, fraud: bool = False,
           can_authenticate: bool = True) -> int | None:
    """Authenticate as SCA demands, then succeed (returns when) or fail a challenge the payer cannot pass (None)."""
    t = a.occurred_at + w.between(2_000, 6_000)
    if card is None or not _in_sca_scope(a):
        out_of_scope = a.method == "card" and a.device_id is not None or a.initiator == "merchant"
        _succeed(w, a, t, "none", "out_of_scope" if out_of_scope else None, actor, story, fraud)
        return t
    eur = eur_cents(a.amount_minor, a.currency)
    asked = _exemption_to_ask(w, card, eur)
    if asked and w.chance(card.exemption_acceptance):
        _authenticated(w, a, card, t, asked, True, "not_challenged", actor, story, fraud)
        if asked == "low_value":
            count, total = w.low_value.get(card.fingerprint, (0, 0))
            w.low_value[card.fingerprint] = (count + 1, total + eur)
        _succeed(w, a, t + 1_500, "frictionless", asked, actor, story, fraud)
        return t + 1_500
    t += w.between(20_000, 90_000)  # the issuer asks for a challenge; the payer opens the bank app
    outcome: ChallengeOutcome = "passed" if can_authenticate else "failed"
    _authenticated(w, a, card, t, asked, False if asked else None, outcome, actor, story, fraud)
    if not can_authenticate:
        decline(w, a, t + 1_500, AUTHENTICATION_REQUIRED[card.network], actor, story, fraud)
        return None
    w.low_value.pop(card.fingerprint, None)  # strong authentication resets the low-value counters
    _succeed(w, a, t + 1_500, "challenge", None, actor, story, fraud)
    return t + 1_500


def _authenticated(w: World, a: PaymentAttempted, card: Card, at: int, asked: str | None, accepted: bool | None,
                   outcome: ChallengeOutcome, actor: str, story: str, fraud: bool) -> None:
    w.emit(AuthenticationResult(
        event_id=w.eid(), customer_id=a.customer_id, occurred_at=at, payment_id=a.payment_id,
        exemption_requested=asked, exemption_accepted=accepted, challenge_outcome=outcome, card_issuer=card.issuer,
        card_fingerprint=card.fingerprint), actor, story, fraud)


def _succeed(w: World, a: PaymentAttempted, at: int, how: Authentication, exemption: str | None, actor: str,
             story: str, fraud: bool) -> None:
    w.emit(PaymentSucceeded(
        event_id=w.eid(), customer_id=a.customer_id, occurred_at=at, payment_id=a.payment_id, authentication=how,
        exemption=exemption, order_id=a.order_id, method=a.method, card_fingerprint=a.card_fingerprint,
        amount_minor=a.amount_minor, currency=a.currency), actor, story, fraud)


def decline(w: World, a: PaymentAttempted, at: int, d: Decline, actor: str, story: str, fraud: bool = False) -> None:
    w.emit(PaymentFailed(
        event_id=w.eid(), customer_id=a.customer_id, occurred_at=at, payment_id=a.payment_id, decline_code=d.code,
        network=a.network or "other", network_response_code=d.response,
        merchant_advice_code=d.advice, initiator=a.initiator,
        order_id=a.order_id, card_fingerprint=a.card_fingerprint, amount_minor=a.amount_minor,
        currency=a.currency), actor, story, fraud)


def deliver(w: World, o: OrderPlaced, at: int, actor: str, story: str, fraud: bool = False) -> int:
    w.emit(OrderDelivered(event_id=w.eid(), customer_id=o.customer_id, occurred_at=at, order_id=o.order_id),
           actor, story, fraud)
    return at


def claim(w: World, p: Person, at: int, bought: Purchase, reason: str, actor: str, story: str, *,
          fraud: bool = False, device: str | None = None, issue: str | None = None,
          issue_after: int = 2 * DAY) -> RefundRequested:
    """A refund request in the claimant's own name and e-mail, and (if `issue`) the refund the shop then pays."""
    o, paid = bought.order, bought.paid
    partial = len(o.items) > 1 and w.chance(0.5)
    r = RefundRequested(
        event_id=w.eid(), customer_id=p.cid, occurred_at=at, refund_id=w.ref("ref"), order_id=o.order_id,
        amount_minor=o.amount_minor // len(o.items) if partial else o.amount_minor, currency=o.currency,
        reason=reason, claimant_name=p.name, claimant_email=p.email, device_id=device or p.device,
        shipping_address_id=o.shipping_address_id, card_fingerprint=paid.card_fingerprint if paid else None)
    w.emit(r, actor, story, fraud)
    if issue:
        w.emit(RefundIssued(event_id=w.eid(), customer_id=p.cid, occurred_at=at + issue_after,
                            refund_id=r.refund_id, destination=issue), actor, story, fraud)
    return r


def chargeback(w: World, a: PaymentAttempted, at: int, actor: str, story: str, reason: str = "fraud",
               fraud: bool = True) -> None:
    w.emit(Chargeback(event_id=w.eid(), customer_id=a.customer_id, occurred_at=at, payment_id=a.payment_id,
                      reason=reason, amount_minor=a.amount_minor), actor, story, fraud)


def purchase(w: World, p: Person, at: int, actor: str, story: str, *, visit: Visit | None = None,
             amount: int | None = None, channel: OrderChannel = "online", method: str | None = None,
             card: Card | None = None, address: str | None = None, ship_country: str | None = None,
             initiator: Initiator = "customer",
             items: tuple[str, ...] | None = None, declined: Decline | None = None,
             recover_after: int | None = None, new_card: bool = False, fraud: bool = False) -> Purchase:
    """An order and its payment: paid at once, or declined and perhaps paid later (with a new card after a hard
    decline), then delivered a few days after payment if it ships. Declines only happen on cards."""
    store = channel == "store"
    method = "card" if store or declined else (method or w.method_for(p))
    visit = OFF_SESSION if store or initiator == "merchant" else (visit or at_home(p))
    o = order(w, p, at, amount or price(w, p.country.currency), actor, story, channel=channel, address=address,
              ship_country=ship_country, items=items, fraud=fraud)
    first = attempt(w, p, at + w.between(60_000, 240_000), o, actor, story, method=method, card=card or p.card,
                    visit=visit, initiator=initiator, fraud=fraud)
    attempts = [first]
    if declined is None:
        paid, paid_at = first, settle(w, first, card or p.card, actor, story, fraud=fraud)
    else:
        decline(w, first, first.occurred_at + w.between(1_500, 4_000), declined, actor, story, fraud)
        paid, paid_at = None, None
        if new_card:  # the bank replaces a dead card; the customer pays with the new one from now on
            p.card = w.next_card(p)
        if recover_after is not None:
            again = attempt(w, p, first.occurred_at + recover_after, o, actor, story, method="card",
                            card=p.card, visit=at_home(p), fraud=fraud)
            attempts.append(again)
            paid, paid_at = again, settle(w, again, p.card, actor, story, fraud=fraud)
    if paid_at is None:
        return Purchase(o, tuple(attempts), None, None, None)
    delivered = None
    if not store:
        delivered = deliver(w, o, paid_at + w.between(1, 4) * DAY + w.between(0, 8) * HOUR, actor, story, fraud)
    return Purchase(o, tuple(attempts), paid, paid_at, delivered)
