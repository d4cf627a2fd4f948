"""The [reviews] section of the policy: how long a case waits in the review queue, how long a reviewer's verdict
counts, and how far and how long a flag reaches the accounts linked to a flagged one.

Built by agents.rules.policy's loader; decides nothing. Durations are days in the file, milliseconds here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.rules.policy import from_key
from agents.rules.timeunits import DAY_MS


@dataclass(frozen=True, slots=True)
class ReviewPolicy:
    # an open case nobody judged leaves the queue after this
    case_expiry_ms: int = field(metadata=from_key("case_expiry_days", scale=DAY_MS))
    # a reviewer's "legitimate" counts as trust at checkout this long
    legitimate_trust_ms: int = field(metadata=from_key("legitimate_trust_days", scale=DAY_MS))
    # a confirmed fraud or abuse verdict flags the customer this long
    flag_ms: int = field(metadata=from_key("flag_days", scale=DAY_MS))
    # an account sharing a device, card or e-mail with a flagged one loses instant refunds and offers this long
    linked_flag_ms: int = field(metadata=from_key("linked_flag_days", scale=DAY_MS))
    linked_flag_max_accounts: int  # linked accounts flagged per judgement, at most

    def validate(self) -> None:
        if min(self.case_expiry_ms, self.legitimate_trust_ms, self.flag_ms, self.linked_flag_ms) <= 0:
            raise ValueError("every duration must be positive")
        if self.linked_flag_max_accounts < 0:
            raise ValueError("linked_flag_max_accounts must be >= 0")
