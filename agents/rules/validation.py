"""Business values an input event must hold before the journey step decides anything on it. Pure.

The wire format only says a field is a `long` or a `string`; these rules say what the values may mean:

- `empty`: a required identifier (`*_id`, ...) is an empty string (an empty customer id would act as one customer
  shared by everyone who sends one);
- `negative`: a `*_minor` amount below zero (no record here means a negative amount);
- `too_large`: a `*_minor` amount over MAX_AMOUNT_MAJOR major units of its currency;
- `unknown_currency`: `currency` is not an active ISO 4217 code (upper case) in CURRENCIES;
- `implausible_time`: `occurred_at` outside [EARLIEST_MS, LATEST_MS) (years 0 or 9999).

`problem(event)` returns the first (field, rule) an event breaks, or None. The worker parks such an event on the
dead-letter topic with reason `invalid_value` and headers `error.field` and `error.rule`; `journey publish` and
`journey replay` report the same with the line number.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from agents.rules.limits import is_identifier_field

CURRENCIES: dict[str, int] = {
    # ISO 4217 code -> minor units (digits after the decimal point)
    "AED": 2, "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0, "CNY": 2, "CZK": 2, "DKK": 2,
    "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0,
    "KWD": 3, "MXN": 2, "MYR": 2, "NOK": 2, "NZD": 2, "OMR": 3, "PHP": 2, "PLN": 2, "RON": 2, "SAR": 2, "SEK": 2,
    "SGD": 2, "THB": 2, "TND": 3, "TRY": 2, "TWD": 2, "UAH": 2, "USD": 2, "VND": 0, "ZAR": 2,
}
MAX_AMOUNT_MAJOR = 10_000_000
"""Ten million major units (EUR 10 000 000, JPY 10 000 000): above any single shop payment or refund."""
EARLIEST_MS = 946_684_800_000  # 2000-01-01T00:00:00Z
LATEST_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z


def problem(event: Any) -> tuple[str, str] | None:
    """The first (field, rule) this input event breaks, or None when every value is plausible."""
    currency = getattr(event, "currency", None)
    for name, required_id, minor, is_currency, is_time in _checked_fields(type(event)):
        value = getattr(event, name)
        if required_id and value == "":
            return name, "empty"
        if minor and isinstance(value, int):
            if value < 0:
                return name, "negative"
            digits = CURRENCIES.get(currency, 2) if isinstance(currency, str) else 2
            if value > MAX_AMOUNT_MAJOR * 10**digits:
                return name, "too_large"
        if is_currency and value is not None and value not in CURRENCIES:
            return name, "unknown_currency"
        if is_time and not EARLIEST_MS <= value < LATEST_MS:
            return name, "implausible_time"
    return None


Checked = tuple[str, bool, bool, bool, bool]
_CHECKED: dict[type, tuple[Checked, ...]] = {}


def _checked_fields(cls: type) -> tuple[Checked, ...]:
    """The fields of an event class some rule above applies to, in field order, with which rules: (name, required
    identifier, `*_minor` amount, currency, occurred_at). Worked out once per class."""
    known = _CHECKED.get(cls)
    if known is None:
        found: list[Checked] = []
        for f in dataclasses.fields(cls):
            checks = (is_identifier_field(f.name) and _required(f), f.name.endswith("_minor"), f.name == "currency",
                      f.name == "occurred_at")
            if any(checks):
                found.append((f.name, *checks))
        known = _CHECKED[cls] = tuple(found)
    return known


def _required(f: dataclasses.Field[Any]) -> bool:
    return f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
