"""Push channels: Google watch channels and Graph subscriptions, opened, renewed and stopped.

`ensure_channels` is a scheduled job (Frappe: hourly, hooks.py; standalone: the serve
thread, hosts/standalone/scheduler.py, or `meetings sync` from cron). For every checked
calendar of a connected Google or Microsoft account it keeps one channel open:

- Google (events.watch): no renewal exists, so when the channel is missing or expires
  within RENEW_BEFORE a NEW channel is opened (fresh id, fresh secret) and saved, and only
  then the old one is stopped (channels.stop{id, resourceId}): no gap without pushes.
- Graph (POST /subscriptions, which Graph validates with the validationToken handshake
  against <site_url>/api/method/meetings_addon.api.sync.graph_push): renewed with PATCH
  when it expires within RENEW_BEFORE; recreated when Graph no longer has it (or on a
  `subscriptionRemoved` lifecycle notification, see `lifecycle`).

The secret (Google's channel token, Graph's clientState) is random per channel and is
never stored in the clear nor returned by any API: the row's `channel_token` holds
`sha256:<hex digest>` (push.py compares digests), followed by `:<resourceId>` for
Google, which channels.stop needs. A failing calendar or provider is logged and skipped:
the poll stays the fallback.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any, Mapping, Optional

from ..ports import Doc, Services
from .service import CONNECTION, _row, _set_row

log = logging.getLogger(__name__)

PROVIDERS = ("Google", "Microsoft")
RENEW_BEFORE = timedelta(days=1)
GOOGLE_TTL = timedelta(days=7)
GRAPH_LIFETIME = timedelta(days=2)  # Graph caps event subscriptions at 4230 minutes
GOOGLE_PUSH = "/api/method/meetings_addon.api.sync.google_push"
GRAPH_PUSH = "/api/method/meetings_addon.api.sync.graph_push"
JOB = "meetings_addon.sync.channels.refresh_channel"
PREFIX = "sha256:"


# --- the stored secret ---------------------------------------------------------------------


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def seal(secret: str, resource_id: Optional[str] = None) -> str:
    """What the row stores for a channel secret (and Google's resourceId)."""
    return PREFIX + digest(secret) + (f":{resource_id}" if resource_id else "")


def unseal(stored: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    """(digest, resource id) of a stored channel_token; (None, None) for a legacy plain one."""
    if not stored or not stored.startswith(PREFIX):
        return None, None
    hexdigest, _, resource_id = stored[len(PREFIX):].partition(":")
    return hexdigest, resource_id or None


# --- the job ---------------------------------------------------------------------------------


def _provider(services: Services, connection: Doc):
    from ..connections.registry import FACTORIES

    factory = FACTORIES.get(connection.get("provider"))
    return factory(services, connection) if factory else None


def _save(services: Services, connection_name: str, calendar_id: str, values: dict[str, Any]) -> None:
    with services.store.atomic():
        services.store.lock(CONNECTION, [connection_name])
        _set_row(services, connection_name, calendar_id, values)


def _url(services: Services, path: str) -> str:
    return services.site_url.rstrip("/") + path


def ensure_channels(services: Services) -> list[tuple[str, str, str]]:
    """Open or renew the push channel of every checked calendar that needs it.
    Returns (connection, calendar id, action) for each calendar acted on."""
    done: list[tuple[str, str, str]] = []
    for item in services.store.list(CONNECTION, {"status": "Connected", "provider": ["in", list(PROVIDERS)]}):
        connection = services.store.get(CONNECTION, item["name"]) or {}
        for row in connection.get("calendars") or []:
            if not row.get("check_availability") or row.get("status") == "Failing":
                continue
            action = ensure_channel(services, connection["name"], row["calendar_id"])
            if action:
                done.append((connection["name"], row["calendar_id"], action))
    return done


def ensure_channel(services: Services, connection_name: str, calendar_id: str, *, force: bool = False,
                   renew: bool = False) -> Optional[str]:
    """Keep one calendar's channel open: 'opened', 'renewed', or None (nothing needed, or
    the provider failed: logged). force: open a new one whatever the state; renew: renew
    now (Graph) whatever the expiry."""
    connection = services.store.get(CONNECTION, connection_name)
    row = _row(connection, calendar_id)
    if not connection or row is None or connection.get("provider") not in PROVIDERS:
        return None
    now = services.clock.now()
    expires = row.get("channel_expires")
    fresh = bool(row.get("channel_id")) and expires is not None and expires > now + RENEW_BEFORE
    if fresh and not force and not renew:
        return None
    try:
        provider = _provider(services, connection)
        if provider is None:
            return None
        if connection["provider"] == "Google":
            return _google(services, provider, connection_name, row, now)
        return _graph(services, provider, connection_name, row, now, force=force)
    except Exception:  # noqa: BLE001 - one calendar's failure never stops the others; the poll covers it
        log.warning("push channel of %s in %s could not be opened", calendar_id, connection_name, exc_info=True)
        return None


def _google(services: Services, provider, connection_name: str, row: Mapping[str, Any], now: datetime) -> str:
    old_id, (_, old_resource) = row.get("channel_id"), unseal(row.get("channel_token"))
    channel_id, secret = uuid.uuid4().hex, secrets.token_urlsafe(32)
    opened = provider.watch(row["calendar_id"], channel_id, secret, _url(services, GOOGLE_PUSH), int(GOOGLE_TTL.total_seconds()))
    _save(services, connection_name, row["calendar_id"], {
        "channel_id": opened["id"], "channel_token": seal(secret, opened.get("resource_id")),
        "channel_expires": opened.get("expires") or now + GOOGLE_TTL,
    })
    if old_id:  # only now, with the new channel saved
        _stop(provider, old_id, old_resource)
    return "opened"


def _graph(services: Services, provider, connection_name: str, row: Mapping[str, Any], now: datetime, *,
           force: bool) -> str:
    old_id = row.get("channel_id")
    until = now + GRAPH_LIFETIME
    expires = row.get("channel_expires")
    if old_id and not force and expires is not None and expires > now:
        renewed = provider.renew(old_id, until)
        if renewed is not None:
            _save(services, connection_name, row["calendar_id"], {"channel_expires": renewed["expires"]})
            return "renewed"
    secret = secrets.token_urlsafe(32)
    created = provider.subscribe(row["calendar_id"], _url(services, GRAPH_PUSH), secret, until)
    _save(services, connection_name, row["calendar_id"], {
        "channel_id": created["id"], "channel_token": seal(secret), "channel_expires": created["expires"],
    })
    if old_id:
        _stop(provider, old_id, None)
    return "opened"


def _stop(provider, channel_id: str, resource_id: Optional[str]) -> None:
    try:
        provider.stop_watch(channel_id, resource_id)
    except Exception:  # noqa: BLE001 - an old channel left open expires by itself
        log.warning("stopping push channel %s failed", channel_id, exc_info=True)


def stop_channels(services: Services, connection: Mapping[str, Any]) -> int:
    """Stop every channel of the connection (disconnect); best effort. Returns how many."""
    if connection.get("provider") not in PROVIDERS:
        return 0
    rows = [row for row in connection.get("calendars") or [] if row.get("channel_id")]
    if not rows:
        return 0
    try:
        provider = _provider(services, connection)
    except Exception:  # noqa: BLE001
        return 0
    for row in rows:
        _stop(provider, row["channel_id"], unseal(row.get("channel_token"))[1])
    return len(rows)


# --- Graph lifecycle notifications (queued by push.py) ----------------------------------------


def refresh_channel(services: Services, connection: str, calendar_id: str, event: str = "reauthorizationRequired") -> Optional[str]:
    """The job for a Graph lifecycle notification: reauthorizationRequired renews the
    subscription (recreating it when Graph lost it); subscriptionRemoved recreates it."""
    if event == "subscriptionRemoved":
        return ensure_channel(services, connection, calendar_id, force=True)
    return ensure_channel(services, connection, calendar_id, renew=True)


def enqueue_refresh(services: Services, connection: str, calendar_id: str, event: str) -> None:
    services.jobs.enqueue(JOB, job_id=f"meetings-channel::{connection}::{calendar_id}::{event}",
                          connection=connection, calendar_id=calendar_id, event=event)
