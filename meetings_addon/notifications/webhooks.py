"""Outgoing webhooks: a signed JSON POST per "Meetings Webhook" when a booking is booked,
rescheduled or cancelled (CONTRACT.md, "Outgoing webhooks").

booking.service._after_change calls queue_webhooks() inside the booking's transaction;
each delivery is a job queued after the commit (job id per webhook, booking, change and
sequence), so a receiver that is down never touches the booking. The job raises on a
connection error or a non-2xx answer and the host's job runner retries it with backoff,
at least the receiver's Retry-After. The delivery id is derived from the same four
values: every attempt (and any second queueing of the same change) carries the same
X-Meetings-Delivery, so the receiver can drop what it already processed.

Plain Python over the ports, the same on both hosts; `requests` is the HTTP client.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from datetime import datetime, timezone
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

from ..calendars.retry import parse_retry_after
from ..ports import Services

log = logging.getLogger(__name__)

WEBHOOK = "Meetings Webhook"
EVENTS = {"booked": "booking.booked", "rescheduled": "booking.rescheduled", "cancelled": "booking.cancelled"}
SUBSCRIPTION = {"booked": "on_booked", "rescheduled": "on_rescheduled", "cancelled": "on_cancelled"}
BOOKING_FIELDS = (
    "name", "status", "start", "end", "timezone", "duration", "meeting_link", "host", "first_name", "last_name",
    "email", "answers", "contact", "source", "rescheduled_from",
)
TIMEOUT = (5, 15)  # seconds to connect, to read the answer
USER_AGENT = "meetings-addon-webhooks/1"
_NAMESPACE = uuid.UUID("6f1d0a52-3c1e-4f4e-9a55-0d7f2b9c8e31")


class DeliveryFailed(Exception):
    """The receiver answered with a non-2xx status: the job runner retries
    (no sooner than `retry_after` seconds when the receiver sent Retry-After)."""

    def __init__(self, message: str, *, status: int, retry_after: Optional[float] = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def check_url(url: Any) -> str:
    """The URL, stripped, when it is an absolute http(s) URL with a host; ValueError otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("is required")
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url[:80]!r} is not an http:// or https:// address")
    if any(ch.isspace() for ch in url):
        raise ValueError("must not contain spaces")
    return url


def delivery_id(webhook: str, booking: str, change: str, sequence: int) -> str:
    """Stable for one change of one booking to one webhook: the receiver's idempotency key."""
    return str(uuid.uuid5(_NAMESPACE, f"{webhook}:{booking}:{change}:{sequence}"))


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def booking_payload(booking: Mapping[str, Any]) -> dict[str, Any]:
    """The booking as a delivery shows it: JSON values, datetimes as ISO 8601 in UTC."""
    out: dict[str, Any] = {}
    for field in BOOKING_FIELDS:
        value = booking.get(field)
        if isinstance(value, datetime):
            value = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).isoformat()
        elif field == "answers" and isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else None
            except ValueError:
                pass
        elif field == "duration" and value is not None:
            value = int(value)
        out[field] = value if value != "" else None
    return out


def queue_webhooks(services: Services, booking: Mapping[str, Any], change: str) -> int:
    """Queue one delivery per enabled webhook subscribed to `change`; returns how many.

    The booking is captured now (the state this change produced); the job adds sent_at."""
    subscription = SUBSCRIPTION.get(change)
    if subscription is None:
        return 0
    hooks = services.store.list(WEBHOOK, {"enabled": 1, subscription: 1}, fields=("name",))
    if not hooks:
        return 0
    sequence = int(booking.get("sequence") or 0)
    snapshot = booking_payload(booking)
    for hook in hooks:
        services.jobs.enqueue(
            "meetings_addon.notifications.webhooks.deliver",
            job_id=f"webhook:{hook['name']}:{booking['name']}:{change}:{sequence}",
            webhook=hook["name"],
            change=change,
            delivery=delivery_id(hook["name"], booking["name"], change, sequence),
            booking=snapshot,
        )
    return len(hooks)


def _secret(services: Services, webhook: str) -> Optional[str]:
    if services.secrets is not None:
        return services.secrets.get(WEBHOOK, webhook, "secret")
    getter = getattr(services.store, "get_password", None)
    return getter(WEBHOOK, webhook, "secret") if getter else None


def deliver(services: Services, webhook: str, change: str, delivery: str, booking: Mapping[str, Any]) -> Optional[int]:
    """The job: POST one delivery. Returns the receiver's status, or None when the
    webhook was deleted or disabled meanwhile. Raises to be retried."""
    import requests

    hook = services.store.get(WEBHOOK, webhook)
    if not hook or not hook.get("enabled"):
        log.info("webhook %s gone or disabled: delivery %s dropped", webhook, delivery)
        return None
    body = json.dumps(
        {
            "event": EVENTS[change],
            "delivery": delivery,
            "booking": dict(booking),
            "sent_at": services.clock.now().astimezone(timezone.utc).isoformat(),
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Meetings-Event": EVENTS[change],
        "X-Meetings-Delivery": delivery,
    }
    secret = _secret(services, webhook)
    if secret:
        headers["X-Meetings-Signature"] = sign(secret, body)
    # No redirects: a POST redirected would be replayed as a GET or to another host.
    response = requests.post(hook["url"], data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False)
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(
            f"webhook {webhook} answered {response.status_code} to delivery {delivery}",
            status=response.status_code,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    return response.status_code
