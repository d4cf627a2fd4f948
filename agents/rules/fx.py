"""Exchange rates to euros: the one [fx] table of the policy, shared by every rule family that compares amounts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Fx:
    eur_cents_per_minor_unit: Mapping[str, float]  # ISO 4217 code -> EUR cents per minor unit of that currency

    def validate(self) -> None:
        bad = sorted(c for c, r in self.eur_cents_per_minor_unit.items()
                     if not (len(c) == 3 and c.isalpha() and c.isupper()) or r <= 0)
        if bad:
            raise ValueError(f"currencies need an upper-case ISO 4217 code and a positive rate: {bad}")

    def eur_cents(self, amount_minor: int, currency: str) -> int | None:
        """The amount in EUR cents, or None for a currency without a rate (no amount rule may then assume)."""
        rate = self.eur_cents_per_minor_unit.get(currency.upper())
        return None if rate is None else round(amount_minor * rate)
