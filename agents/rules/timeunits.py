"""Durations in milliseconds, the unit of every event time and every window the rules compute with."""

from __future__ import annotations

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
