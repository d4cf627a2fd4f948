"""Dunning reminders as Notification records: channel, locale, template, parameters, signed link, send time.

Owns the rules that keep a reminder safe and welcome: the customer's preferred channel first; never inside
their quiet hours in their own time zone (windows may cross midnight; wall-clock times survive DST); no more
reminders than the policy allows per window; parameters that carry the order, never a name, e-mail address or
card data (the notifier renders the greeting from customer_id); and a link back to payment that is signed and
expires.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agents.rules.dunning.policy import DunningPolicy
from agents.rules.events import Channel, Notification, Offer
from agents.rules.preferences import Preferences
from agents.rules.timeunits import DAY_MS, HOUR_MS, iso_utc

UTC = ZoneInfo("UTC")


# ---------------------------------------------------------------- signed links

@dataclass(frozen=True, slots=True)
class LinkClaims:
    customer_id: str
    case_id: str
    expires_at: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def sign_link(secret: bytes, customer_id: str, case_id: str, expires_at: int, base_url: str = "") -> str:
    """A token `<payload>.<HMAC-SHA256 of payload>`, both base64url; with a base URL, the URL ending in the
    token. The payload names only ids and the expiry, so a forwarded link leaks nothing personal."""
    payload = _b64(json.dumps([customer_id, case_id, expires_at], separators=(",", ":")).encode())
    token = f"{payload}.{_mac(secret, payload)}"
    return f"{base_url.rstrip('/')}/{token}" if base_url else token


def verify_link(secret: bytes, link: str, now: int) -> LinkClaims | None:
    """The claims of a genuine, unexpired link (or bare token); None for anything forged, altered, expired or
    malformed (non-ASCII, bad base64, wrong parts): a link comes from outside and must never raise."""
    payload, _, mac = link.rsplit("/", 1)[-1].partition(".")
    if not payload or not mac or not (payload.isascii() and mac.isascii()):
        return None
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    try:
        claims = json.loads(_unb64(payload))
    except ValueError:  # bad base64 (binascii.Error), not UTF-8, not JSON
        return None
    if not (isinstance(claims, list) and len(claims) == 3):
        return None
    customer_id, case_id, expires_at = claims
    if not (isinstance(customer_id, str) and isinstance(case_id, str)):
        return None
    if isinstance(expires_at, bool) or not isinstance(expires_at, int) or now >= expires_at:
        return None
    return LinkClaims(customer_id=customer_id, case_id=case_id, expires_at=expires_at)


# ---------------------------------------------------------------- quiet hours

def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC  # an unknown zone must not stop a reminder; UTC is the documented default


def _instant(day: date, minute: int, tz: tzinfo, after: int) -> int | None:
    """Epoch ms of wall-clock `minute` on `day` in `tz`, the first such instant after `after`. A time skipped
    by a DST jump resolves to just after the jump; a repeated one to its first occurrence unless that is
    already past."""
    for fold in (0, 1):
        wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz).replace(fold=fold)
        at = int(wall.timestamp() * 1000)
        if at > after:
            return at
    return None


def quiet_hours_end(at: int, prefs: Preferences) -> int | None:
    """If `at` falls in the customer's quiet hours, when they end; else None. Windows crossing midnight
    (22:00-07:00) end on the next local day when `at` is before midnight."""
    start, end = prefs.quiet_hours_start, prefs.quiet_hours_end
    if start is None or end is None or start % 1440 == end % 1440:
        return None
    start, end = start % 1440, end % 1440
    tz = _zone(prefs.timezone)
    local = datetime.fromtimestamp(at / 1000, tz=tz)
    second = local.hour * 3600 + local.minute * 60 + local.second
    s, e = start * 60, end * 60
    if start < end:
        quiet, day = s <= second < e, local.date()
    elif second >= s:
        quiet, day = True, local.date() + timedelta(days=1)
    else:
        quiet, day = second < e, local.date()
    return _instant(day, end, tz, at) if quiet else None


def send_time(at: int, prefs: Preferences) -> tuple[int, bool]:
    """When a message decided at `at` may go out, and whether quiet hours moved it."""
    end = quiet_hours_end(at, prefs)
    return (at, False) if end is None else (end, True)


# ---------------------------------------------------------------- reminders

def channels_for(prefs: Preferences) -> tuple[Channel, tuple[Channel, ...]]:
    """The preferred channel first, the customer's other channels as fallback, in their order."""
    ordered = tuple(dict.fromkeys(prefs.channels)) or ("email",)
    return ordered[0], ordered[1:]


def within_reminder_cap(sent_at: tuple[int, ...], now: int, policy: DunningPolicy) -> bool:
    """At most `max_reminders_per_window` reminders to one customer in any trailing window, across all cases.
    """
    since = now - policy.reminder_window_days * DAY_MS
    return sum(1 for t in sent_at if t > since) < policy.max_reminders_per_window


def reminder_template(decline_class: str, retryable: bool, reminder_no: int) -> str:
    """A card that cannot be retried gets the "use another payment method" message, never "try again" wording.
    """
    if not retryable:
        return f"dunning.{decline_class}.update_payment_method"
    return f"dunning.{decline_class}.reminder_{reminder_no}"


@dataclass(frozen=True, slots=True)
class ReminderFacts:
    """What a reminder may say about the case: ids, money, counts and keys; nothing personal."""

    customer_id: str
    case_id: str
    payment_id: str | None  # the case's latest failed payment
    order_id: str | None
    amount_minor: int
    currency: str
    items: int
    pay_by: int  # end of the dunning window
    decline_class: str
    retryable: bool
    wording: str
    reminder_no: int
    variant: str


def build_reminder(facts: ReminderFacts, prefs: Preferences, link_secret: bytes, policy: DunningPolicy,
                   now: int, send_at: int, offer: Offer | None) -> Notification:
    channel, fallbacks = channels_for(prefs)
    link_expires_at = min(send_at + policy.link_ttl_hours * HOUR_MS, max(facts.pay_by, send_at + HOUR_MS))
    return Notification(
        event_id=f"{facts.case_id}:notification:{facts.reminder_no}",
        customer_id=facts.customer_id,
        occurred_at=now,
        send_at=send_at,
        channel=channel,
        fallback_channels=fallbacks,
        template=reminder_template(facts.decline_class, facts.retryable, facts.reminder_no),
        locale=prefs.locale,
        link=sign_link(link_secret, facts.customer_id, facts.case_id, link_expires_at, policy.link_base_url),
        link_expires_at=link_expires_at,
        offer=offer,
        params={
            "order_id": facts.order_id or "",
            "amount_minor": str(facts.amount_minor),
            "currency": facts.currency,
            "status": "awaiting_payment",
            "items": str(facts.items),
            "reminder_no": str(facts.reminder_no),
            "wording": facts.wording,
            "pay_by": iso_utc(facts.pay_by),  # times in params: the one text form, as in JSON output
        },
        variant=facts.variant,
        case_id=facts.case_id,
        payment_id=facts.payment_id,
    )
