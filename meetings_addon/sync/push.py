"""Provider push notifications: check the secret, queue a deduplicated sync, answer fast.

- Google watch channels: an empty POST with X-Goog-Channel-ID / -Token / -Resource-ID /
  -Resource-State. The channel's id and secret token are on the calendar's row
  (channel_id, channel_token); a wrong or missing token is refused (403), the first
  `sync` message only acknowledged.
- Graph subscriptions: `?validationToken=` is answered 200 text/plain with the token
  (the handshake); notifications carry `clientState`, checked against channel_token, and
  `subscriptionId` (channel_id). Lifecycle notifications: `reauthorizationRequired`
  queues a renewal (channels.refresh_channel), `subscriptionRemoved` queues a new
  subscription and a sync, `missed` queues a sync.

The stored secret is a digest (channels.seal); a plain value is still accepted.
Both return (status, content type, body) for the host to send. Opening and renewing
channels/subscriptions: channels.py.
"""

from __future__ import annotations

import hmac
from typing import Any, Mapping, Optional

from ..ports import Services
from .channels import digest, enqueue_refresh, unseal
from .jobs import enqueue_sync
from .service import CONNECTION

Answer = tuple[int, str, Any]


def _channel(services: Services, channel_id: str) -> Optional[tuple[str, dict]]:
    """(connection name, calendar row) of the channel, one query."""
    if not channel_id:
        return None
    rows = services.store.list(
        "Calendar Connection Calendar", {"channel_id": channel_id, "parenttype": CONNECTION},
        fields=("parent", "calendar_id", "channel_token"), limit=1,
    )
    return (rows[0]["parent"], rows[0]) if rows else None


def _same(secret: Optional[str], given: Optional[str]) -> bool:
    """The notification's secret against the stored one: a `sha256:` digest (channels.py
    never stores the secret itself) or, for rows set before that, the plain value."""
    if not secret or not given:
        return False
    hexdigest, _ = unseal(str(secret))
    if hexdigest is not None:
        return hmac.compare_digest(hexdigest, digest(str(given)))
    return hmac.compare_digest(str(secret), str(given))


def google_notification(services: Services, headers: Mapping[str, str]) -> Answer:
    h = {k.lower(): v for k, v in headers.items()}
    found = _channel(services, h.get("x-goog-channel-id", ""))
    if found is None or not _same(found[1].get("channel_token"), h.get("x-goog-channel-token")):
        return 403, "application/json", {"message": "Unknown channel or wrong channel token"}
    if h.get("x-goog-resource-state") != "sync":
        enqueue_sync(services, found[0], found[1]["calendar_id"])
    return 200, "application/json", {"message": "ok"}


def graph_notification(services: Services, query: Mapping[str, str], body: Optional[Mapping[str, Any]]) -> Answer:
    if query.get("validationToken") is not None:
        return 200, "text/plain", query["validationToken"]
    items = (body or {}).get("value") or []
    if not items:
        return 400, "application/json", {"message": "No notifications"}
    accepted = 0
    for item in items:
        found = _channel(services, item.get("subscriptionId", ""))
        if found is None or not _same(found[1].get("channel_token"), item.get("clientState")):
            continue
        event = item.get("lifecycleEvent")
        if event in ("reauthorizationRequired", "subscriptionRemoved"):
            enqueue_refresh(services, found[0], found[1]["calendar_id"], event)
        if event != "reauthorizationRequired":  # a change, `missed` or a removed subscription: sync
            enqueue_sync(services, found[0], found[1]["calendar_id"])
        accepted += 1
    if not accepted:
        return 403, "application/json", {"message": "Unknown subscription or wrong clientState"}
    return 202, "application/json", {"message": "ok"}
