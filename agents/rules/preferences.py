"""A customer's contact preferences, as last stated by CustomerPreferencesUpdated.

Owned here so that dunning and refund notifications read the same picture. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from agents.rules.events import Channel, CustomerPreferencesUpdated


@dataclass(frozen=True, slots=True)
class Preferences:
    """How and when a customer wants to be reached. Defaults apply until the customer says otherwise."""

    locale: str = "en-GB"
    timezone: str = "UTC"
    channels: tuple[Channel, ...] = ("email",)
    quiet_hours_start: int | None = None  # minutes after local midnight
    quiet_hours_end: int | None = None
    marketing_consent: bool = False
    transactional_consent: bool = True
    has_name: bool = False  # the notifier holds the name; we only know whether it can greet by name
    updated_at: int = 0


def apply_preferences(prefs: Preferences, event: CustomerPreferencesUpdated) -> Preferences:
    """The newer statement wins; an older (late) event changes nothing."""
    if event.occurred_at < prefs.updated_at:
        return prefs
    return Preferences(
        locale=event.locale,
        timezone=event.timezone,
        channels=event.channels or ("email",),
        quiet_hours_start=event.quiet_hours_start,
        quiet_hours_end=event.quiet_hours_end,
        marketing_consent=event.marketing_consent,
        transactional_consent=event.transactional_consent,
        has_name=bool(event.name.strip()),
        updated_at=event.occurred_at,
    )
