"""Risk from other customers' identities: stolen cards, card-testing farms and linked fraudsters, without
contaminating innocent customers.

The rule (issue #3): an address, IP or device that appeared on someone else's chargeback counts against a
customer only when a second strong identifier (device, card fingerprint, e-mail) ties the customer to that
same bad actor, or the customer has bad history of their own. A hotel address someone else charged back does
not make a known traveller risky. A card is the payment instrument itself: charged back on another account it
marks a stolen card, unless this customer has paid with it before (then they are the victim, not the thief).

Other customers' chargebacks fade out: one older than [checkout] linked_chargeback_half_lives half-lives
(chargeback_half_life_days) at decision time no longer counts, neither against nor as an explanation.

`links` are the identity-index nodes of the attempt's identifiers as they were before this attempt.
"""

from __future__ import annotations

from collections import defaultdict

from agents.rules.checkout.signals import Facts, Signal, SignalRule, describe_age, has_bad_history, signal
from agents.rules.identity import STRONG_KINDS, IdentityNode, Mark, kind_of

KIND_NAMES = {"addr": "shipping address", "ip": "IP address", "device": "device", "card": "card",
              "email": "e-mail"}


def _names(idents: set[str]) -> str:
    return " and ".join(sorted({KIND_NAMES.get(kind_of(i), kind_of(i)) for i in idents}))


def _card_link(f: Facts) -> tuple[str, IdentityNode] | None:
    card = f.attempt.card_fingerprint
    node = f.links.get(f"card:{card}") if card else None
    return (f"card:{card}", node) if node is not None else None


def _own_card(f: Facts, ident: str) -> bool:
    return kind_of(ident) == "card" and f.paid_with("cards", ident.split(":", 1)[1])


def others_chargebacks(f: Facts, node: IdentityNode) -> list[Mark]:
    """Other customers' chargebacks on this node that still count at decision time (not yet faded out)."""
    horizon = f.policy.linked_chargeback_half_lives * f.policy.chargeback_half_life_ms
    return [m for m in node.chargebacks if m.customer_id != f.attempt.customer_id and 0 <= f.now - m.at <= horizon]


def _latest(f: Facts, marks: list[Mark]) -> str:
    return f"the latest {describe_age(f.now - max(m.at for m in marks))} ago"


def charged_back_by_others(f: Facts) -> dict[str, set[str]]:
    """Other customer -> the identifiers of this attempt on which they had a chargeback that still counts."""
    actors: dict[str, set[str]] = defaultdict(set)
    for ident, node in f.links.items():
        for mark in others_chargebacks(f, node):
            actors[mark.customer_id].add(ident)
    return actors


def strong_ties(f: Facts, actor: str, besides: str) -> set[str]:
    """Strong identifiers of this attempt, other than `besides`, that the actor used too. A card this customer
    has paid with is no tie: whoever else used it stole it from them."""
    return {ident for ident, node in f.links.items()
            if ident != besides and kind_of(ident) in STRONG_KINDS and actor in node.customer_ids()
            and not _own_card(f, ident)}


def linked_actors(f: Facts) -> tuple[dict[str, set[str]], set[str]]:
    """The bad actors whose chargebacks count (actor -> the identifiers of this attempt that link them), and
    the identifiers whose chargebacks do not. An actor counts when a second strong identifier ties them to
    this attempt besides one they charged back (the card aside), or the customer has bad history of their
    own."""
    linked: dict[str, set[str]] = {}
    ignored: set[str] = set()
    own_bad = has_bad_history(f.profile, f.policy, f.now)
    for actor, charged in sorted(charged_back_by_others(f).items()):
        charged = {i for i in charged if kind_of(i) != "card"}  # the card itself: card_charged_back_elsewhere
        ties = set().union(*(strong_ties(f, actor, besides=i) for i in charged))
        if charged and (ties or own_bad):
            linked[actor] = charged | ties
        else:
            ignored |= charged
    return linked, ignored - set().union(*linked.values())


def card_charged_back_elsewhere(f: Facts) -> Signal | None:
    found = _card_link(f)
    if found is None or _own_card(f, found[0]):
        return None
    marks = others_chargebacks(f, found[1])
    others = {m.customer_id for m in marks}
    if others:
        return signal(f, "STOLEN_CARD", f"This card was charged back on {len(others)} other account(s), "
                                        f"{_latest(f, marks)}.")
    return None


def card_used_by_other_accounts(f: Facts) -> Signal | None:
    found = _card_link(f)
    if found is None or _own_card(f, found[0]):
        return None
    others = found[1].customer_ids() - {f.attempt.customer_id}
    if len(others) >= f.policy.accounts_per_card:
        return signal(f, "CARD_ON_OTHER_ACCOUNTS", f"This card was used on {len(others)} other accounts.")
    return None


def device_used_by_many_accounts(f: Facts) -> Signal | None:
    device = f.attempt.device_id
    node = f.links.get(f"device:{device}") if device else None
    if node is None or f.paid_with("devices", device):
        return None
    others = node.customer_ids() - {f.attempt.customer_id}
    if len(others) >= f.policy.accounts_per_device:
        return signal(f, "DEVICE_ON_MANY_ACCOUNTS", f"This device was used by {len(others)} other accounts.")
    return None


def linked_to_someone_elses_chargebacks(f: Facts) -> Signal | None:
    linked, _ = linked_actors(f)
    if not linked:
        return None
    shared = set().union(*linked.values())
    own = "" if any(kind_of(i) in STRONG_KINDS for i in shared) else "; this customer has chargebacks too"
    marks = [m for i in shared for m in others_chargebacks(f, f.links[i]) if m.customer_id in linked]
    return signal(f, "LINKED_FRAUD", f"{len(linked)} account(s) with chargebacks ({_latest(f, marks)}) share "
                                     f"this payment's {_names(shared)}{own}.")


def shared_identifier_ignored(f: Facts) -> Signal | None:
    """No risk: why someone else's chargeback on a shared identifier was not held against the customer."""
    _, ignored = linked_actors(f)
    found = _card_link(f)
    if found is not None and _own_card(f, found[0]) and others_chargebacks(f, found[1]):
        ignored.add(found[0])
    if not ignored:
        return None
    return Signal("SHARED_IDENTIFIER_IGNORED", 0,
                  f"Another account had a chargeback on this payment's {_names(ignored)}, but nothing else "
                  "links it to this customer, so it is not held against them.")


LINKED_SIGNALS: tuple[SignalRule, ...] = (
    card_charged_back_elsewhere, linked_to_someone_elses_chargebacks, card_used_by_other_accounts,
    device_used_by_many_accounts, shared_identifier_ignored,
)
