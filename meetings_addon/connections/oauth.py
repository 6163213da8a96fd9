"""What the Google and Microsoft OAuth flows share: the pending flow kept server-side
(keyed by its state, for ten minutes, used once) and saving the connection that a
callback produced — one per provider per user, tokens through the Secrets port, the
account's calendars listed with the user's earlier choices kept.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Mapping, Optional, Sequence

from ..errors import InvalidInput, MeetingsError
from ..ports import Doc, Services
from . import health

CONNECTION = "Calendar Connection"
FLOW_TTL = 600  # seconds a user has to come back from the provider's consent screen
CALLBACK = "/api/method/meetings_addon.api.connections.{provider}_callback"

# Without a Cache port (a bare test), pending flows live in this process.
_local: dict[str, tuple[float, Any]] = {}
_local_lock = threading.Lock()


class NotConfigured(MeetingsError):
    """The site has no OAuth client for that provider."""

    http_status = 417


def redirect_uri(services: Services, provider: str) -> str:
    return services.site_url.rstrip("/") + CALLBACK.format(provider=provider)


def _key(state: str) -> str:
    return f"meetings:oauth-flow:{state}"


def keep_flow(services: Services, state: str, flow: Mapping[str, Any]) -> None:
    if services.cache is not None:
        services.cache.set(_key(state), dict(flow), FLOW_TTL)
        return
    with _local_lock:
        now = time.monotonic()
        for key in [k for k, (expires, _) in _local.items() if expires < now]:
            del _local[key]
        _local[_key(state)] = (now + FLOW_TTL, dict(flow))


def take_flow(services: Services, state: Any, provider: str) -> dict[str, Any]:
    """The pending flow of this state, once; InvalidInput("state") when unknown or used."""
    if not isinstance(state, str) or not state or len(state) > 200:
        raise InvalidInput("state", "missing: start connecting the calendar again")
    flow: Optional[dict[str, Any]] = None
    if services.cache is not None:
        flow = services.cache.get(_key(state))
        if flow:
            services.cache.set(_key(state), None, 1)
    else:
        with _local_lock:
            expires, flow = _local.pop(_key(state), (0.0, None))
            if expires < time.monotonic():
                flow = None
    if not flow or flow.get("provider") != provider:
        raise InvalidInput("state", "this sign-in has expired or was used already: start connecting the calendar again")
    return flow


def merge_calendars(old: Sequence[Mapping[str, Any]], listed: Sequence[Mapping[str, Any]]) -> list[Doc]:
    """The listed calendars, keeping the user's earlier choices (default, availability)
    for those still there; exactly one default, the provider's primary when the earlier
    default is gone."""
    before = {row.get("calendar_id"): row for row in old}
    rows: list[Doc] = []
    for calendar in listed:
        row: Doc = {
            "calendar_id": calendar["calendar_id"],
            "calendar_name": calendar.get("calendar_name"),
            "access_role": calendar.get("access_role"),
            "is_default": int(bool(calendar.get("is_default"))),
            "check_availability": int(bool(calendar.get("check_availability"))),
            "status": "OK",
            "error": None,
        }
        earlier = before.get(calendar["calendar_id"])
        if earlier is not None:
            row["is_default"] = int(bool(earlier.get("is_default")))
            row["check_availability"] = int(bool(earlier.get("check_availability")))
            row["sync_token"] = earlier.get("sync_token")
        rows.append(row)
    defaults = [row for row in rows if row["is_default"]]
    if len(defaults) != 1:
        primary = next((c["calendar_id"] for c in listed if c.get("is_default")), None)
        keep = defaults[0]["calendar_id"] if defaults else primary
        for row in rows:
            row["is_default"] = int(row["calendar_id"] == keep)
    return rows


def save_connection(
    services: Services,
    user: str,
    provider: str,
    account: Optional[str],
    secrets: Mapping[str, Optional[str]],
    calendars: Sequence[Mapping[str, Any]],
) -> Doc:
    """Create or update the user's one connection of this provider, store its tokens and
    calendars, and mark it working (booking comes back at once)."""
    if services.secrets is None:
        raise MeetingsError("This site has no secrets storage: calendar tokens cannot be saved")
    now = services.clock.now()
    with services.store.atomic():
        existing = services.store.list(CONNECTION, {"user": user, "provider": provider}, fields=("name",), order_by="creation asc", limit=1)
        if existing:
            name = existing[0]["name"]
            doc = services.store.get(CONNECTION, name) or {}
            same_account = (doc.get("account") or "").lower() == (account or "").lower()
            rows = merge_calendars(doc.get("calendars") or [] if same_account else [], calendars)
            services.store.update(
                CONNECTION, name,
                {"account": account, "status": "Connected", "error": None, "connected_on": now, "calendars": rows},
            )
        else:
            rows = merge_calendars([], calendars)
            doc = services.store.insert(
                CONNECTION,
                {"user": user, "owner": user, "provider": provider, "account": account, "status": "Connected",
                 "connected_on": now, "calendars": rows},
            )
            name = doc["name"]
        for field, value in secrets.items():
            if value is not None:
                services.secrets.set(CONNECTION, name, field, value)
        connection = services.store.get(CONNECTION, name)
        health.mark_ok(services, connection)
    return services.store.get(CONNECTION, name)
