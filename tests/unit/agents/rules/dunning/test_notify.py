"""Reminder mechanics: signed expiring links, quiet hours in the customer's zone, channels, reminder cap."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import string
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from agents.rules.dunning.notify import (
    ReminderFacts,
    build_reminder,
    channels_for,
    quiet_hours_end,
    reminder_template,
    send_time,
    sign_link,
    verify_link,
    within_reminder_cap,
)
from agents.rules.dunning.policy import DunningPolicy
from agents.rules.preferences import Preferences
from agents.rules.timeunits import DAY_MS, HOUR_MS

SECRET = b"link-secret"
AMS = ZoneInfo("Europe/Amsterdam")


def ms(year: int, month: int, day: int, hour: int, minute: int, tz: ZoneInfo = AMS) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=tz).timestamp() * 1000)


def nights(tz: str = "Europe/Amsterdam", start: int = 22 * 60, end: int = 7 * 60) -> Preferences:
    return Preferences(timezone=tz, quiet_hours_start=start, quiet_hours_end=end)


def test_a_signed_link_verifies_until_it_expires() -> None:
    link = sign_link(SECRET, "c1", "o1", expires_at=1_000, base_url="https://pay.example.com/r/")
    assert link.startswith("https://pay.example.com/r/") and "//" not in link.removeprefix("https://")
    claims = verify_link(SECRET, link, now=999)
    assert claims is not None
    assert (claims.customer_id, claims.case_id, claims.expires_at) == ("c1", "o1", 1_000)
    assert verify_link(SECRET, link, now=1_000) is None


def test_a_link_with_another_secret_or_an_altered_payload_does_not_verify() -> None:
    token = sign_link(SECRET, "c1", "o1", expires_at=10_000)
    assert verify_link(b"other", token, now=0) is None
    forged_payload = sign_link(SECRET, "c2", "o1", expires_at=10_000).split(".")[0]
    assert verify_link(SECRET, f"{forged_payload}.{token.split('.')[1]}", now=0) is None
    assert verify_link(SECRET, "not-a-token", now=0) is None


def _signed(payload: str) -> str:
    """A token whose MAC is genuine for an arbitrary payload, so verification reaches the payload's parsing."""
    mac = hmac.new(SECRET, payload.encode("ascii"), hashlib.sha256).digest()
    return f"{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


ALPHABETS = [string.printable, string.ascii_letters + string.digits + "-_.=/", "ÄéΩ€✓\x00\ud7ff漢字.-_/", "."]


def test_no_string_whatever_its_characters_makes_link_verification_raise() -> None:
    rnd = random.Random(11)
    genuine = sign_link(SECRET, "c1", "o1", expires_at=10_000)
    for _ in range(3_000):
        alphabet = rnd.choice(ALPHABETS)
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 60)))
        cut = rnd.randrange(len(genuine) + 1)
        for candidate in (text, genuine[:cut] + text + genuine[cut:], genuine[:cut] + text):
            claims = verify_link(SECRET, candidate, now=0)
            assert claims is None or candidate.rsplit("/", 1)[-1] == genuine  # a URL prefix is fine


def test_a_genuinely_signed_but_malformed_payload_is_invalid() -> None:
    rnd = random.Random(12)
    shapes = [b"[]", b'["c1","o1"]', b'["c1","o1",10000,4]', b'{"a":1,"b":2,"c":3}', b'"c1"', b"10000", b"null",
              b'[1,"o1",10000]', b'["c1",null,10000]', b'["c1","o1","10000"]', b'["c1","o1",true]',
              b'["c1","o1",1e9]', b"\xff\xfe[", b"not json"]
    payloads = [_b64(raw) for raw in shapes] + ["!!!", "a", "ab=c", "====", "_-_-_"]
    payloads += ["".join(rnd.choice(string.ascii_letters + "-_=") for _ in range(rnd.randrange(1, 40)))
                 for _ in range(2_000)]
    for payload in payloads:
        assert verify_link(SECRET, _signed(payload), now=0) is None, payload
    assert verify_link(SECRET, _signed(_b64(b'["c1","o1",10000]')), now=0) is not None


def test_quiet_hours_crossing_midnight_end_the_next_morning() -> None:
    assert quiet_hours_end(ms(2026, 11, 23, 23, 30), nights()) == ms(2026, 11, 24, 7, 0)
    assert quiet_hours_end(ms(2026, 11, 24, 6, 59), nights()) == ms(2026, 11, 24, 7, 0)
    assert quiet_hours_end(ms(2026, 11, 24, 7, 0), nights()) is None
    assert quiet_hours_end(ms(2026, 11, 23, 21, 59), nights()) is None


def test_quiet_hours_are_read_in_the_customers_zone_not_utc() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    at = ms(2026, 11, 23, 23, 0, tz=tokyo)  # 15:00 in Amsterdam
    assert quiet_hours_end(at, nights("Asia/Tokyo")) == ms(2026, 11, 24, 7, 0, tz=tokyo)
    assert quiet_hours_end(at, nights("Europe/Amsterdam")) is None


def test_quiet_hours_within_one_day() -> None:
    lunch = nights(start=12 * 60, end=13 * 60 + 30)
    assert quiet_hours_end(ms(2026, 11, 23, 12, 15), lunch) == ms(2026, 11, 23, 13, 30)
    assert quiet_hours_end(ms(2026, 11, 23, 13, 30), lunch) is None


def test_quiet_hours_that_end_inside_the_spring_forward_gap_end_when_the_clock_jumps() -> None:
    ends_at_half_past_two = nights(start=22 * 60, end=2 * 60 + 30)  # 02:30 does not exist on 29 March 2026
    end = quiet_hours_end(ms(2026, 3, 29, 1, 0), ends_at_half_past_two)
    assert end is not None and datetime.fromtimestamp(end / 1000, tz=AMS).hour == 3
    assert end > ms(2026, 3, 29, 1, 0)


def test_no_quiet_hours_or_an_unknown_zone_never_blocks_sending() -> None:
    at = ms(2026, 11, 23, 23, 30)
    assert send_time(at, Preferences()) == (at, False)
    assert send_time(at, nights(start=60, end=60)) == (at, False)
    assert send_time(at, nights("Mars/Olympus_Mons", start=0, end=1)) == (at, False)  # 22:30 UTC is not quiet


def test_the_preferred_channel_goes_first_and_the_rest_are_fallbacks() -> None:
    assert channels_for(Preferences(channels=("push", "sms", "push", "email"))) == ("push", ("sms", "email"))
    assert channels_for(Preferences(channels=())) == ("email", ())


def test_reminders_are_capped_per_trailing_window() -> None:
    policy = replace(DunningPolicy(), max_reminders_per_window=2, reminder_window_days=14)
    now = 100 * DAY_MS
    assert within_reminder_cap((now - DAY_MS,), now, policy)
    assert not within_reminder_cap((now - DAY_MS, now - 2 * DAY_MS), now, policy)
    assert within_reminder_cap((now - DAY_MS, now - 15 * DAY_MS), now, policy)


def test_a_card_that_cannot_be_retried_never_gets_try_again_wording() -> None:
    assert reminder_template("soft", True, 2) == "dunning.soft.reminder_2"
    assert reminder_template("hard", False, 2) == "dunning.hard.update_payment_method"


def test_a_reminder_carries_a_signed_link_that_never_outlives_the_case_and_no_personal_data() -> None:
    facts = ReminderFacts(customer_id="c1", case_id="o1", payment_id="p2", order_id="o1", amount_minor=4_200,
                          currency="EUR",
                          items=2, pay_by=10 * HOUR_MS, decline_class="soft", retryable=True,
                          wording="insufficient_funds", reminder_no=1, variant="control")
    note = build_reminder(facts, Preferences(channels=("sms",)), SECRET, DunningPolicy(), now=0, send_at=0,
                          offer=None)
    assert note.link is not None
    assert note.link_expires_at == 10 * HOUR_MS  # the policy's 72 h are cut short by the end of the case
    claims = verify_link(SECRET, note.link, now=HOUR_MS)
    assert claims is not None and claims.case_id == "o1"
    assert note.params == {"order_id": "o1", "amount_minor": "4200", "currency": "EUR",
                           "status": "awaiting_payment", "items": "2", "reminder_no": "1",
                           "wording": "insufficient_funds", "pay_by": "1970-01-01T10:00:00.000Z"}
    assert (note.case_id, note.payment_id) == ("o1", "p2")
