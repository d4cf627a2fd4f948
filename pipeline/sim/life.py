"""Everyday life of a legitimate customer: what most of the shop's traffic looks like.

A customer sets their preferences, shows up on one or two usual devices and buys a few times a month with their
favourite method. Now and then life happens: a trip abroad (new IP country, a hotel address), a new phone, a store
purchase, a soft decline that is paid later (or never), a dead card replaced by a new one, a subscription renewal
charged off-session, a refund claimed in their own name. Activities run one after another, so a new card or device
is only used after it appeared.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.sim.events import Purchase, Visit, at_home, claim, prefs, purchase, seen
from pipeline.sim.world import DAY, HARD_DECLINES, HOUR, MINUTE, SOFT_DECLINES, Person, World, price

HOTELS = (("PT", "lisboa"), ("ES", "barcelona"), ("IT", "roma"), ("FR", "nice"), ("GR", "athens"),
          ("HR", "split"))  # shared by every traveller in the world, as real hotels are
REFUND_REASONS = ("damaged", "wrong_item", "not_as_described", "changed_mind", "changed_mind")
REFUND_DESTINATIONS = ("original_method", "original_method", "original_method", "store_credit", "exchange")

Activity = Callable[[World, Person, int, str], int]  # (world, person, when, actor) -> when the customer is done


def hotel(w: World, k: int) -> tuple[str, str]:
    """(address id, country) of one of the world's hotels."""
    country, name = HOTELS[k % len(HOTELS)]
    return f"addr-{w.seed}-hotel-{name}", country


def everyday_life(w: World, p: Person, start: int, end: int, actor: str = "legit") -> None:
    """Sign-up, usual devices, then 2-5 purchases (and perhaps a subscription renewal) spread until `end`."""
    join = start + w.between(0, 2 * DAY)
    prefs(w, p, join, actor, "everyday")
    for k, device in enumerate(p.devices):
        seen(w, p, join + (k + 1) * 7 * MINUTE, at_home(p, device), actor, "everyday")
    plan: list[Activity] = [_shopping_trip] * w.between(2, 5)
    if w.chance(0.12):
        plan.insert(w.between(0, len(plan)), _subscription_renewal)
    last = end - 2 * DAY
    gap_days = max(1, 2 * (last - join) // DAY // (len(plan) + 1))
    t = join
    for activity in plan:
        t = w.daytime(p, t + w.between(1, gap_days) * DAY)
        if t >= last:
            return
        t = activity(w, p, t, actor)


def _shopping_trip(w: World, p: Person, at: int, actor: str) -> int:
    roll = w.rng.random()
    network = p.card.network
    if roll < 0.04:
        return _travel(w, p, at, actor)
    if roll < 0.08:
        device = f"dev-{w.seed}-{p.index}-new{len(p.devices)}"
        p.devices.append(device)
        seen(w, p, at, at_home(p, device), actor, "new_device")
        return _done(purchase(w, p, at + 3 * MINUTE, actor, "new_device", visit=at_home(p, device)), at)
    if roll < 0.13:
        later = w.rng.choice((4 * HOUR, 20 * HOUR, 2 * DAY, 5 * DAY)) if w.chance(0.7) else None
        return _done(purchase(w, p, at, actor, "soft_decline", declined=w.rng.choice(SOFT_DECLINES[network]),
                              recover_after=later), at)
    if roll < 0.15:
        later = w.between(1, 3) * DAY if w.chance(0.6) else None
        return _done(purchase(w, p, at, actor, "hard_decline", declined=w.rng.choice(HARD_DECLINES[network]),
                              recover_after=later, new_card=True), at)
    if roll < 0.22:
        return _done(purchase(w, p, at, actor, "store", channel="store"), at)
    bought = purchase(w, p, at, actor, "everyday")
    if bought.delivered_at is not None and w.chance(0.07):
        when = bought.delivered_at + w.between(1, 10) * DAY + w.between(0, 10) * HOUR
        issue = w.rng.choice(REFUND_DESTINATIONS) if w.chance(0.85) else None
        claim(w, p, when, bought, w.rng.choice(REFUND_REASONS), actor, "refund", issue=issue,
              issue_after=w.between(1, 4) * DAY)
    return _done(bought, at)


def _travel(w: World, p: Person, at: int, actor: str) -> int:
    """Abroad on a usual device: a foreign IP and a hotel as the shipping address."""
    address, country = hotel(w, w.between(0, len(HOTELS) - 1))
    abroad = Visit(w.rng.choice(p.devices), w.ip(), country)
    seen(w, p, at, abroad, actor, "travel")
    bought = purchase(w, p, at + 4 * MINUTE, actor, "travel", visit=abroad, address=address, ship_country=country)
    return _done(bought, at)


def _subscription_renewal(w: World, p: Person, at: int, actor: str) -> int:
    """A monthly box charged off-session (merchant-initiated); now and then the card is short of funds."""
    fee = price(w, p.country.currency, (12, 25))
    items = ("monthly coffee box",)
    if w.chance(0.15):
        later = w.rng.choice((1 * DAY, 2 * DAY, 3 * DAY)) if w.chance(0.6) else None
        bought = purchase(w, p, at, actor, "subscription", amount=fee, method="card", initiator="merchant",
                          items=items, declined=SOFT_DECLINES[p.card.network][0], recover_after=later)
    else:
        bought = purchase(w, p, at, actor, "subscription", amount=fee, method="card", initiator="merchant",
                          items=items)
    return _done(bought, at)


def _done(bought: Purchase, at: int) -> int:
    """When the customer is done with this purchase: paid (perhaps days later), or given up."""
    return max(at, bought.paid_at or bought.attempts[-1].occurred_at)
