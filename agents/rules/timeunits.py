"""Durations in milliseconds, the unit of every event time and every window the rules compute with, and the
one text form of a time: ISO-8601 UTC with milliseconds and `Z` (`2026-11-01T10:00:00.000Z`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS


def iso_utc(ms: int) -> str:
    """Epoch milliseconds -> `2026-11-01T10:00:00.000Z`. OverflowError outside years 1-9999."""
    return (EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
