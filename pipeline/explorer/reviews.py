"""The review queue over HTTP: the open cases every worker can list, and a reviewer's verdict published as an event.

Faust-free: the worker's composition root (pipeline/worker/app.py) hands over the `review-queue` table (customer id
-> their open cases as OpenReviews bytes, written by the customer agent: agents/customer_events.py) and a send
function; this module reads the table, builds ReviewVerdict records and adds two aiohttp routes to the worker's web
server, behind the same bearer-token guard as every page but /metrics:

- `GET /api/reviews` -> 200 `{"reviews": [{"case_id", "case_kind", "customer", "opened_at", "amount", "currency",
  "reasons": [...]}]}`, oldest first. `customer` is masked (its first three characters and a keyed hash), never the
  id; `opened_at` is ISO-8601 UTC; `amount` is a decimal string in the currency's major unit ("25.00"); `reasons`
  are the decision's leading reasons in words.
- `POST /api/reviews/{case_id}/verdict` with `{"verdict": "confirmed_fraud" | "legitimate" | "abuse" |
  "not_abuse", "note": "..."}` (optional `"reviewer"`, else the `X-Reviewer` header, else "explorer") -> 202
  `{"event_id": ...}` once the broker has the verdict on `reviews`; 400 `{"error": ...}` for a bad body or verdict,
  404 for a case not in the queue, 409 when two customers have an open case of that id.

The verdict reaches the customer's state through the same pure step as every event, so the case leaves the queue
once the worker owning the customer has processed it (a moment later, not within the request). The note travels
only inside the ReviewVerdict on `reviews`: it is never logged, stored in state, or put in a notification.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from agents.rules.events import ReviewVerdict
from agents.rules.reviews import OpenReviews, ReviewCase, ReviewPolicy
from agents.rules.timeunits import iso_utc
from agents.rules.validation import CURRENCIES
from agents.runtime import Runtime
from pipeline.errors import StateSchemaError
from pipeline.wire import state_codec
from pipeline.wire.headers import cloudevent_headers, event_source

VERDICTS = ("confirmed_fraud", "legitimate", "abuse", "not_abuse")
MAX_NOTE_CHARS = 2_000
MAX_REVIEWER_CHARS = 64
MAX_LISTED = 500
DEFAULT_REVIEWER = "explorer"
MASK_CONTEXT = b"payment-journey explorer customer mask|"

Headers = list[tuple[str, bytes]]
Send = Callable[[str, bytes, bytes, Headers | None, int | None], Awaitable[Awaitable[Any]]]
"""send(topic, key, value, headers, partition) -> a future that resolves once the broker has the record (aiokafka's
contract); partition None: the key's."""


@dataclass(frozen=True, slots=True)
class QueuedCase:
    customer_id: str
    case: ReviewCase


def mask_customer(customer_id: str, key: bytes) -> str:
    """`cus…1a2b3c4d`: enough for a reviewer to tell cases of one customer apart, nothing to look the customer up by.
    Keyed (the worker passes JOURNEY_LINK_SECRET, with a context of its own), so the hash cannot be recomputed from
    a guessed id."""
    digest = hmac.new(key, MASK_CONTEXT + customer_id.encode(), hashlib.sha256).hexdigest()[:8]
    return f"{customer_id[:3]}…{digest}"


def major_units(amount_minor: int, currency: str) -> str:
    digits = CURRENCIES.get(currency, 2)
    if digits == 0:
        return str(amount_minor)
    sign, value = ("-", -amount_minor) if amount_minor < 0 else ("", amount_minor)
    return f"{sign}{value // 10**digits}.{value % 10**digits:0{digits}d}"


def open_cases(values: Iterable[tuple[str, bytes | None]], policy: ReviewPolicy, now_ms: int) -> list[QueuedCase]:
    """Every case in the queue table's (key, value) pairs that has not expired by `now_ms`, oldest first. A value
    that does not decode is skipped (a newer worker's schema during a rolling upgrade): the queue is a view."""
    found: list[QueuedCase] = []
    for _key, data in values:
        if not data:
            continue
        try:
            entry = state_codec.loads(OpenReviews, data)
        except StateSchemaError:
            continue
        found += [QueuedCase(entry.customer_id, c) for c in entry.cases
                  if now_ms - c.opened_at <= policy.case_expiry_ms]
    return sorted(found, key=lambda q: (q.case.opened_at, q.case.case_id, q.customer_id))


def describe(q: QueuedCase, mask_key: bytes) -> dict[str, Any]:
    c = q.case
    return {"case_id": c.case_id, "case_kind": c.case_kind, "customer": mask_customer(q.customer_id, mask_key),
            "opened_at": iso_utc(c.opened_at), "amount": major_units(c.amount_minor, c.currency),
            "currency": c.currency, "reasons": [r.detail for r in c.reasons]}


def list_reviews(values: Iterable[tuple[str, bytes | None]], policy: ReviewPolicy, now_ms: int, mask_key: bytes,
                 limit: int = MAX_LISTED) -> list[dict[str, Any]]:
    """The open cases as the review page shows them, oldest first, at most `limit`."""
    return [describe(q, mask_key) for q in open_cases(values, policy, now_ms)[:limit]]


def verdict_record(case: QueuedCase, verdict: str, note: str | None, reviewer: str, now: int) -> ReviewVerdict:
    """The ReviewVerdict for a case; its id derives from what was decided, by whom and when."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}")
    seed = "|".join((case.customer_id, case.case.case_kind, case.case.case_id, verdict, reviewer, str(now)))
    return ReviewVerdict(
        event_id="review-" + hashlib.sha256(seed.encode()).hexdigest()[:32], customer_id=case.customer_id,
        occurred_at=now, case_id=case.case.case_id, case_kind=case.case.case_kind,  # type: ignore[arg-type]
        verdict=verdict, reviewer=reviewer, note=note or None,  # type: ignore[arg-type]
    )


async def publish_verdict(send: Send, encode: Callable[[Any], bytes], source: str, record: ReviewVerdict) -> None:
    """Send the verdict to `reviews`, keyed by the customer id, and return once the broker has it."""
    delivered = await send(record.TOPIC, record.customer_id.encode(), encode(record),
                           cloudevent_headers(record, source), None)  # None: the partition of the key
    await delivered


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class ReviewApi:
    """The two handlers, over one queue table and one way to send."""

    def __init__(self, queue: Any, send: Send, encode: Callable[[Any], bytes], policy: ReviewPolicy, mask_key: bytes,
                 source: str, clock: Callable[[], int] = wall_clock_ms) -> None:
        self.queue, self.send, self.encode, self.policy = queue, send, encode, policy
        self.mask_key, self.source, self.clock = mask_key, source, clock

    def _values(self) -> Iterable[tuple[str, bytes | None]]:
        items: Callable[[], Iterable[tuple[str, bytes | None]]] = self.queue.items
        return items()

    async def list_handler(self, request: web.Request) -> web.Response:
        reviews = list_reviews(self._values(), self.policy, self.clock(), self.mask_key)
        return web.json_response({"reviews": reviews})

    async def verdict_handler(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, Mapping):
            return _error(400, "the body must be a JSON object with a verdict")
        verdict, note = body.get("verdict"), body.get("note")
        if verdict not in VERDICTS:
            return _error(400, f"verdict must be one of {', '.join(VERDICTS)}")
        if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE_CHARS):
            return _error(400, f"note must be text of at most {MAX_NOTE_CHARS} characters")
        reviewer = body.get("reviewer") or request.headers.get("X-Reviewer") or DEFAULT_REVIEWER
        if not isinstance(reviewer, str) or len(reviewer) > MAX_REVIEWER_CHARS:
            return _error(400, f"reviewer must be an id of at most {MAX_REVIEWER_CHARS} characters")
        case_id = request.match_info["case_id"]
        found = [q for q in open_cases(self._values(), self.policy, self.clock()) if q.case.case_id == case_id]
        if not found:
            return _error(404, "no open case with this id")
        if len({(q.customer_id, q.case.case_kind) for q in found}) > 1:
            return _error(409, "more than one open case has this id")
        record = verdict_record(found[0], str(verdict), note, reviewer, self.clock())
        try:
            await publish_verdict(self.send, self.encode, self.source, record)
        except Exception:  # noqa: BLE001 - the broker refused or is unreachable: the reviewer may try again
            return _error(503, "the verdict could not be published; try again")
        return web.json_response({"event_id": record.event_id}, status=202)


async def _json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"null")
    except (ValueError, UnicodeDecodeError):
        return None


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def register_review_routes(app: Any, rt: Runtime, queue: Any, send: Send) -> ReviewApi:
    """Add GET /api/reviews and POST /api/reviews/{case_id}/verdict to the worker's web server (`app` is the Faust
    app: its aiohttp application, so the app's middlewares, the bearer-token guard among them, apply)."""
    api = ReviewApi(queue, send, rt.codec.encode, rt.policy.reviews, rt.settings.link_secret,
                    event_source(rt.settings.app_id))
    router = app.web.web_app.router
    router.add_get("/api/reviews", api.list_handler)
    router.add_post("/api/reviews/{case_id}/verdict", api.verdict_handler)
    return api
