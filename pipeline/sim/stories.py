"""The stories: the seed stories of shared/DOMAIN.md and the fraud actors, one builder per story.

Every builder has the signature `(world, start, end) -> None`, makes its own customers and emits their events under
its story slug. The seed stories play out within 30 days of `start`; the fraud actors fit themselves before `end`.
Cross-customer causes come at least a day before their effects (a chargeback before the attempt it should inform).
"""

from __future__ import annotations

from pipeline.sim.events import (
    Purchase,
    Visit,
    at_home,
    attempt,
    chargeback,
    claim,
    decline,
    order,
    prefs,
    purchase,
    seen,
    settle,
)
from pipeline.sim.life import everyday_life, hotel
from pipeline.sim.world import BIG_ITEMS, DAY, HOUR, MINUTE, SOFT_DECLINES, TESTING_DECLINES, Card, Person, World, price

SEED_STORIES = ("traveller_usual_device", "swedish_french_card", "dutch_klarna", "store_first_online",
                "serial_empty_box", "late_payer")


def traveller_usual_device(w: World, start: int, end: int) -> None:
    """A known customer on their usual device, abroad, shipping to a hotel that another customer charged back."""
    s, actor = "traveller_usual_device", "traveller"
    t = w.person("DE", favourite="card", loyalty=1.0, devices=1)
    prefs(w, t, start + HOUR, actor, s)
    seen(w, t, start + 2 * HOUR, at_home(t), actor, s)
    for day in (1, 4, 8, 12):
        purchase(w, t, w.daytime(t, start + day * DAY), actor, s)
    address, country = hotel(w, 0)
    _hotel_chargeback(w, start, address, country)
    abroad = Visit(t.device, w.ip(), country)
    at = w.daytime(t, start + 18 * DAY)
    seen(w, t, at, abroad, actor, s)
    purchase(w, t, at + 20 * MINUTE, actor, s, visit=abroad, address=address, ship_country=country)


def _hotel_chargeback(w: World, start: int, address: str, country: str) -> None:
    """Someone else, on their own device and a stolen card, had goods sent to the hotel; charged back later."""
    s, actor = "hotel_chargeback", "stolen_card"
    o = w.person()
    visit = Visit(f"dev-{w.seed}-{o.index}-hotel", w.ip(), country)
    at = w.daytime(o, start + 2 * DAY)
    prefs(w, o, at, actor, s, fraud=True)
    seen(w, o, at + 2 * MINUTE, visit, actor, s, fraud=True)
    bought = purchase(w, o, at + 10 * MINUTE, actor, s, visit=visit, method="card", card=w.strangers_card("US"),
                      address=address, ship_country=country, amount=price(w, o.country.currency, (180, 420)),
                      fraud=True)
    _charged_back(w, bought, 7, 9, start + 14 * DAY, actor, s)


def swedish_french_card(w: World, start: int, end: int) -> None:
    """A Swedish customer's French-issued card: the issuer rejects every exemption; the customer passes 3DS."""
    s = "swedish_french_card"
    p = w.person("SE", favourite="card", loyalty=1.0)
    p.card = w.new_card(f"card-{w.seed}-{p.index}-fr", "FR", issuer="bank-fr-7", acceptance=0.0)
    prefs(w, p, start + HOUR, "legit", s)
    seen(w, p, start + 2 * HOUR, at_home(p), "legit", s)
    for day in (2, 7, 12, 17, 22):  # every one under EUR 30, so the shop asks for the low-value exemption
        purchase(w, p, w.daytime(p, start + day * DAY), "legit", s, amount=price(w, "SEK", (8, 27)))


def dutch_klarna(w: World, start: int, end: int) -> None:
    """A customer in the Netherlands who always pays with Klarna and never chose iDEAL."""
    s = "dutch_klarna"
    p = w.person("NL", favourite="klarna", loyalty=1.0)
    prefs(w, p, start + HOUR, "legit", s)
    seen(w, p, start + 2 * HOUR, at_home(p), "legit", s)
    for day in (1, 5, 10, 15, 21):
        purchase(w, p, w.daytime(p, start + day * DAY), "legit", s)


def store_first_online(w: World, start: int, end: int) -> None:
    """Three store purchases, then the customer's first online order."""
    s = "store_first_online"
    p = w.person("DE", devices=1)
    prefs(w, p, start + HOUR, "legit", s)
    for day in (2, 6, 11):
        purchase(w, p, w.daytime(p, start + day * DAY), "legit", s, channel="store")
    at = w.daytime(p, start + 16 * DAY)
    seen(w, p, at, at_home(p), "legit", s)
    purchase(w, p, at + 6 * MINUTE, "legit", s)


def serial_empty_box(w: World, start: int, end: int) -> None:
    """One actor, five accounts with their own names and e-mails, one device and one address: five empty-box
    claims within a month. Every claim is abusive; the shop refunded the first two before it noticed."""
    s, actor = "serial_empty_box", "refund_abuser"
    device, address, ip = f"dev-{w.seed}-boxer", f"addr-{w.seed}-boxer", w.ip()
    for k, day in enumerate((1, 7, 13, 19, 24)):
        p = w.person("NL")
        p.devices, p.address, p.ip = [device], address, ip
        join = w.daytime(p, start + day * DAY)
        prefs(w, p, join, actor, s)
        seen(w, p, join + 5 * MINUTE, at_home(p), actor, s)
        bought = purchase(w, p, join + HOUR, actor, s, amount=price(w, "EUR", (60, 240)))
        claim(w, p, join + 5 * DAY, bought, "empty_box", actor, s, fraud=True,
              issue="original_method" if k < 2 else None)


def late_payer(w: World, start: int, end: int) -> None:
    """A soft decline (insufficient funds); the customer pays a day later, after the reminder."""
    s = "late_payer"
    p = w.person("FR", favourite="card", loyalty=1.0, devices=1)
    prefs(w, p, start + HOUR, s, s)
    seen(w, p, start + 2 * HOUR, at_home(p), s, s)
    purchase(w, p, w.daytime(p, start + 3 * DAY), s, s)
    purchase(w, p, w.daytime(p, start + 10 * DAY), s, s, declined=SOFT_DECLINES[p.card.network][0],
             recover_after=DAY + 5 * HOUR)


def card_testing(w: World, start: int, end: int) -> None:
    """A fresh account on one device runs a burst of tiny payments through many stolen card numbers."""
    s, actor = "card_testing", "card_tester"
    p = w.person()
    at = w.daytime(p, start + w.between(1, max(1, (end - start) // DAY - 2)) * DAY)
    visit = Visit(f"dev-{w.seed}-{p.index}-emulator", w.ip(), w.rng.choice(("US", "BR", "VN", "ID")))
    prefs(w, p, at, actor, s, fraud=True)
    seen(w, p, at + MINUTE, visit, actor, s, fraud=True)
    o = order(w, p, at + 2 * MINUTE, price(w, p.country.currency, (2, 5)), actor, s, items=("e-gift card",),
              fraud=True)
    t = o.occurred_at
    for _ in range(w.between(10, 25)):
        t += w.between(15_000, 90_000)
        card = w.strangers_card(w.rng.choice(("US", "BR", "GB", "FR", "DE", "IT", "CA")))
        a = attempt(w, p, t, o, actor, s, method="card", card=card, visit=visit, fraud=True)
        if w.chance(0.8):
            decline(w, a, t + w.between(800, 3_000), w.rng.choice(TESTING_DECLINES[card.network]), actor, s, True)
        else:
            settle(w, a, card, actor, s, fraud=True, can_authenticate=False)


def account_takeover(w: World, start: int, end: int) -> None:
    """An established customer's account, suddenly on a new device, from a new country, shipping somewhere new
    with a new card: one or two big orders, charged back weeks later by the real cardholder."""
    s = "account_takeover"
    victim = w.person()
    takeover = start + int((end - start) * w.rng.uniform(0.35, 0.5))
    everyday_life(w, victim, start, takeover)
    visit = Visit(f"dev-{w.seed}-{victim.index}-ato", w.ip(), w.rng.choice(("RO", "BR", "US", "NG")))
    at = w.daytime(victim, takeover)
    seen(w, victim, at, visit, s, s, fraud=True)
    card = w.strangers_card("US")
    for k in range(1 if w.chance(0.5) else 2):
        bought = purchase(w, victim, at + (25 + 90 * k) * MINUTE, s, s, visit=visit, method="card", card=card,
                          address=f"addr-{w.seed}-drop-{victim.index}", items=(w.rng.choice(BIG_ITEMS),),
                          amount=price(w, victim.country.currency, (450, 1100)), fraud=True)
        _charged_back(w, bought, 14, 21, end, s, s)


def stolen_card(w: World, start: int, end: int) -> None:
    """A stolen card on one fraud account, charged back; then the same card on a second account, new device."""
    s = "stolen_card"
    card = w.strangers_card("US")
    first = w.person()
    at = w.daytime(first, start + w.between(2, 6) * DAY)
    bought = _fraud_account(w, first, at, card, s)
    cb = _charged_back(w, bought, 5, 9, end, s, s)
    second = w.person()
    _charged_back(w, _fraud_account(w, second, w.daytime(second, cb + w.between(1, 4) * DAY), card, s),
                  7, 12, end, s, s)


def _fraud_account(w: World, p: Person, at: int, card: Card, s: str) -> Purchase:
    """A fresh account on a device never seen before, paying with `card`."""
    visit = Visit(f"dev-{w.seed}-{p.index}-ring", w.ip(), p.country.code)
    prefs(w, p, at, s, s, fraud=True)
    seen(w, p, at + 2 * MINUTE, visit, s, s, fraud=True)
    return purchase(w, p, at + 12 * MINUTE, s, s, visit=visit, method="card", card=card,
                    amount=price(w, p.country.currency, (120, 450)), fraud=True)


def _charged_back(w: World, bought: Purchase, lo_days: int, hi_days: int, end: int, actor: str, s: str) -> int:
    """The cardholder disputes the payment days or weeks later (no later than just before `end`)."""
    if bought.paid is None or bought.paid_at is None:
        return bought.order.occurred_at
    at = bought.paid_at + w.between(lo_days, hi_days) * DAY + w.between(0, 12) * HOUR
    at = max(bought.paid_at + HOUR, min(at, end - HOUR))
    chargeback(w, bought.paid, at, actor, s)
    return at
