"""A user's calendar connections, as the settings page manages them.

- list: the user's connections with their calendars and each one's status;
- add a CalDAV account (URL, username, app password): checked by listing its calendars
  before anything is stored; what is wrong is named (caldav_url, caldav_username,
  caldav_password);
- connect Google or Office 365: the OAuth flows of google_oauth / microsoft_oauth
  (start -> the provider's consent page -> callback);
- choose the calendars whose busy times block slots (only calendars the account can read,
  from the provider's own list) and exactly one default calendar, which receives the
  bookings (one the account can write to);
- remove a calendar (a failing one, typically: booking comes back at once);
- disconnect: revoke the access where the provider allows it, forget the secrets, delete
  the connection.

One account per provider per user. Every function takes the signed-in user and touches
only that user's connections: someone else's is "not found", whoever asks. Secrets
(passwords, tokens) go in through the Secrets port and never come out: the answers are
built from a list of public fields.

Plain Python over the ports; api/connections.py (Frappe) and the standalone web app call
these, and `list_links` (the meeting-link list with its calendar alerts).
"""

from __future__ import annotations

import importlib
import json
import logging
from typing import Any, Callable, Mapping, Optional

from .. import domains
from ..booking import slot_cache
from ..errors import CalendarUnavailable, InvalidInput, MeetingsError, NotFound
from ..ports import Doc, Services
from . import health, notify

log = logging.getLogger(__name__)

CONNECTION = "Calendar Connection"
LINK = "Meeting Link"
SECRET_FIELDS = ("caldav_password", "access_token", "refresh_token", "token_cache")
PUBLIC_FIELDS = ("name", "provider", "account", "status", "error", "connected_on", "caldav_url", "caldav_username")
CALENDAR_FIELDS = ("calendar_id", "calendar_name", "is_default", "check_availability", "access_role", "status", "error")
WRITABLE = ("owner", "writer", None, "")  # a provider that does not say is trusted
DUMMY_PASSWORD = "*" * 10  # what a Password column holds (Frappe's dummy): the secret is in the Secrets port
OAUTH = {"google": ("Google", "meetings_addon.connections.google_oauth"),
         "microsoft": ("Microsoft", "meetings_addon.connections.microsoft_oauth")}
MAX_TEXT = 1000


class NotAvailableYet(MeetingsError):
    """A part of the product that this installation does not have (yet)."""

    http_status = 501


# --- reading -------------------------------------------------------------------------------


def public(doc: Mapping[str, Any]) -> Doc:
    """A connection as the APIs show it: public fields only, never a secret."""
    out = {field: doc.get(field) for field in PUBLIC_FIELDS}
    out["calendars"] = [{field: row.get(field) for field in CALENDAR_FIELDS} for row in doc.get("calendars") or []]
    out["failing"] = bool(notify._problems(doc))
    return out


def _own(services: Services, user: str, name: Any) -> Doc:
    """The user's connection `name`; NotFound for a missing one and for anyone else's."""
    if not isinstance(name, str) or not name.strip() or len(name) > 140:
        raise InvalidInput("connection", "name the calendar connection")
    doc = services.store.get(CONNECTION, name.strip())
    if not doc or doc.get("user") != user:
        raise NotFound(f"You have no calendar connection {name.strip()[:140]}")
    return doc


def list_connections(services: Services, user: str) -> list[Doc]:
    rows = services.store.list(CONNECTION, {"user": user}, fields=("name",), order_by="creation asc")
    return [public(doc) for doc in (services.store.get(CONNECTION, row["name"]) for row in rows) if doc]


def get_connection(services: Services, user: str, payload: Mapping[str, Any]) -> Doc:
    return public(_own(services, user, payload.get("connection") or payload.get("name")))


def _provider(services: Services, doc: Mapping[str, Any]):
    from .registry import FACTORIES

    factory = FACTORIES.get(doc.get("provider"))
    if factory is None:
        raise NotAvailableYet(f"{doc.get('provider')} calendars are not supported on this installation")
    return factory(services, doc)


def available_calendars(services: Services, user: str, payload: Mapping[str, Any]) -> list[Doc]:
    """The account's calendars as the provider lists them now (those it can read), each
    with the user's current choice."""
    doc = _own(services, user, payload.get("connection"))
    chosen = {row.get("calendar_id"): row for row in doc.get("calendars") or []}
    listed = _provider(services, doc).list_calendars()
    return [
        {
            "calendar_id": calendar["calendar_id"],
            "calendar_name": calendar.get("calendar_name"),
            "access_role": calendar.get("access_role"),
            "can_be_default": calendar.get("access_role") in WRITABLE,
            "check_availability": int(bool(chosen.get(calendar["calendar_id"], {}).get("check_availability"))),
            "is_default": int(bool(chosen.get(calendar["calendar_id"], {}).get("is_default"))),
        }
        for calendar in listed
    ]


# --- CalDAV ----------------------------------------------------------------------------------


def _text(payload: Mapping[str, Any], field: str, *, required: bool = True, strip: bool = True) -> str:
    value = payload.get(field)
    if value is None or value == "":
        if required:
            raise InvalidInput(field, "is required")
        return ""
    if not isinstance(value, str):
        raise InvalidInput(field, "must be text")
    if len(value) > MAX_TEXT or "\x00" in value:
        raise InvalidInput(field, "is too long or holds invalid characters")
    return value.strip() if strip else value


def add_caldav(services: Services, user: str, payload: Mapping[str, Any]) -> Doc:
    """Connect (or reconnect) the user's CalDAV account; answers the saved connection."""
    from ..calendars.caldav import CalDAVCalendar, check_url

    url = _text(payload, "caldav_url")
    username = _text(payload, "caldav_username")
    password = _text(payload, "caldav_password", strip=False)
    if len(username) > 140:
        raise InvalidInput("caldav_username", "is too long (at most 140 characters)")
    if len(url) > 140:
        raise InvalidInput("caldav_url", "is too long (at most 140 characters)")
    try:
        check_url(url)
    except CalendarUnavailable as error:
        raise InvalidInput("caldav_url", error.message) from None
    if services.secrets is None:
        raise MeetingsError("This site has no secrets storage: a CalDAV password cannot be saved")
    existing = _one_of(services, user, "CalDAV")
    if existing and existing.get("status") == "Connected" and not _same_account(existing, url, username):
        raise InvalidInput(
            "caldav_url",
            f"you already have a CalDAV account connected ({existing.get('account') or existing.get('caldav_url')}): "
            "disconnect it first (one CalDAV account per user)",
        )
    zone = services.store.get_value("User", {"name": user}, "time_zone") or "UTC"
    reader = CalDAVCalendar(url, username, password, zone=zone, account=username)
    try:
        listed = reader.list_calendars()
    except CalendarUnavailable as error:
        raise InvalidInput(getattr(error, "field", None) or "caldav_url", error.message) from None
    if not listed:
        raise InvalidInput("caldav_url", "this account has no calendar for events at this address")
    now = services.clock.now()
    values = {
        "user": user,
        "provider": "CalDAV",
        "account": username,
        "caldav_url": url,
        "caldav_username": username,
        "caldav_password": DUMMY_PASSWORD,
        "status": "Connected",
        "error": None,
        "connected_on": now,
        "failure_notified_on": None,
        "failing_since": None,
    }
    with services.store.atomic():
        if existing:
            keep = existing.get("calendars") or [] if _same_account(existing, url, username) else []
            values["calendars"] = merge(keep, listed)
            services.store.update(CONNECTION, existing["name"], values)
            name = existing["name"]
        else:
            values["calendars"] = merge([], listed)
            name = services.store.insert(CONNECTION, {**values, "owner": user})["name"]
        services.secrets.set(CONNECTION, name, "caldav_password", password)
        health.mark_ok(services, {"name": name})
    return public(services.store.get(CONNECTION, name))


def _one_of(services: Services, user: str, provider: str) -> Optional[Doc]:
    rows = services.store.list(CONNECTION, {"user": user, "provider": provider}, fields=("name",), order_by="creation asc", limit=1)
    return services.store.get(CONNECTION, rows[0]["name"]) if rows else None


def _same_account(doc: Mapping[str, Any], url: str, username: str) -> bool:
    return (doc.get("caldav_username") or "").lower() == username.lower() and \
        (doc.get("caldav_url") or "").rstrip("/").lower() == url.rstrip("/").lower()


def merge(old: list[Mapping[str, Any]], listed: list[Mapping[str, Any]]) -> list[Doc]:
    """The listed calendars with the user's earlier choices kept for those still there;
    a new account checks and writes to the provider's suggested default. Exactly one
    default, always a calendar the account can write to (when it has one)."""
    before = {row.get("calendar_id"): row for row in old}
    rows: list[Doc] = []
    for calendar in listed:
        earlier = before.get(calendar["calendar_id"])
        rows.append({
            **({k: v for k, v in earlier.items() if k == "sync_token"} if earlier else {}),
            "calendar_id": calendar["calendar_id"],
            "calendar_name": calendar.get("calendar_name"),
            "access_role": calendar.get("access_role"),
            "check_availability": int(bool(earlier.get("check_availability"))) if earlier else int(bool(calendar.get("is_default"))),
            "is_default": int(bool(earlier.get("is_default"))) if earlier else 0,
            "status": "OK",
            "error": None,
        })
    _one_default(rows, next((c["calendar_id"] for c in listed if c.get("is_default")), None))
    return rows


def _one_default(rows: list[Doc], suggested: Optional[str]) -> None:
    writable = [row for row in rows if row.get("access_role") in WRITABLE]
    current = [row for row in writable if row.get("is_default")]
    keep = current[0]["calendar_id"] if current else suggested if any(r["calendar_id"] == suggested for r in writable) else \
        (writable[0]["calendar_id"] if writable else None)
    for row in rows:
        row["is_default"] = int(row["calendar_id"] == keep)
        if row["is_default"]:
            row["check_availability"] = 1  # the calendar meetings go to always blocks


# --- choosing and removing calendars ------------------------------------------------------------


def _ids(payload: Mapping[str, Any], field: str) -> list[str]:
    value = payload.get(field)
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip().startswith("[") else [v for v in value.split(",") if v.strip()]
        except ValueError:
            raise InvalidInput(field, "must be a list of calendar ids") from None
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value) or len(value) > 200:
        raise InvalidInput(field, "must be a list of calendar ids")
    return list(dict.fromkeys(v.strip() for v in value))


def set_calendars(services: Services, user: str, payload: Mapping[str, Any]) -> Doc:
    """Choose the calendars checked for availability (`calendars`) and the one default
    (`default_calendar`), among those the provider lists for the account now."""
    doc = _own(services, user, payload.get("connection"))
    checked = _ids(payload, "calendars")
    default = payload.get("default_calendar")
    if not isinstance(default, str) or not default.strip():
        raise InvalidInput("default_calendar", "choose the calendar new meetings are written to")
    default = default.strip()
    listed = {calendar["calendar_id"]: calendar for calendar in _provider(services, doc).list_calendars()}
    for calendar_id in checked:
        if calendar_id not in listed:
            raise InvalidInput("calendars", f"{calendar_id[:140]} is not a calendar this account can read")
    if default not in listed:
        raise InvalidInput("default_calendar", f"{default[:140]} is not a calendar of this account")
    if listed[default].get("access_role") not in WRITABLE:
        raise InvalidInput("default_calendar", f"the account cannot add events to {listed[default].get('calendar_name') or default}")
    before = {row.get("calendar_id"): row for row in doc.get("calendars") or []}
    rows = []
    for calendar_id, calendar in listed.items():
        earlier = before.get(calendar_id) or {}
        rows.append({
            **({"sync_token": earlier["sync_token"]} if earlier.get("sync_token") else {}),
            "calendar_id": calendar_id,
            "calendar_name": calendar.get("calendar_name"),
            "access_role": calendar.get("access_role"),
            "check_availability": int(calendar_id in checked or calendar_id == default),
            "is_default": int(calendar_id == default),
            "status": "OK",
            "error": None,
        })
    with services.store.atomic():
        services.store.update(CONNECTION, doc["name"], {"calendars": rows})
        health.mark_ok(services, doc)  # the account answered: every calendar kept is readable
    return public(services.store.get(CONNECTION, doc["name"]))


def remove_calendar(services: Services, user: str, payload: Mapping[str, Any]) -> Doc:
    """Take one calendar off the connection (a failing one, typically)."""
    doc = _own(services, user, payload.get("connection"))
    calendar_id = _text(payload, "calendar_id")
    rows = [dict(row) for row in doc.get("calendars") or []]
    gone = next((row for row in rows if row.get("calendar_id") == calendar_id), None)
    if gone is None:
        raise NotFound(f"{calendar_id[:140]} is not one of this connection's calendars")
    rows = [row for row in rows if row is not gone]
    if gone.get("is_default") and rows:
        writable = [row for row in rows if row.get("access_role") in WRITABLE and row.get("status") != "Failing"]
        writable.sort(key=lambda row: not row.get("check_availability"))  # one already checked first
        if not writable:
            raise InvalidInput(
                "calendar_id",
                "this is the account's only calendar that can take meetings: disconnect the account instead",
            )
        writable[0]["is_default"] = 1
        writable[0]["check_availability"] = 1
    values: dict[str, Any] = {"calendars": rows}
    if doc.get("status") != "Error" and not any(r.get("status") == "Failing" and r.get("check_availability") for r in rows):
        values["failure_notified_on"] = None  # the failure is over
        values["failing_since"] = None
    with services.store.atomic():
        services.store.update(CONNECTION, doc["name"], values)
        slot_cache.invalidate(services)  # booking comes back at once
    return public(services.store.get(CONNECTION, doc["name"]))


def disconnect(services: Services, user: str, payload: Mapping[str, Any]) -> Doc:
    """Revoke where the provider allows, forget the secrets and the connection."""
    doc = _own(services, user, payload.get("connection"))
    from ..sync.channels import stop_channels  # push channels first: they need the tokens

    stop_channels(services, doc)
    _revoke(services, doc)
    with services.store.atomic():
        if services.secrets is not None:
            for field in SECRET_FIELDS:
                services.secrets.set(CONNECTION, doc["name"], field, None)
        services.store.delete(CONNECTION, doc["name"])
        slot_cache.invalidate(services)
    return {"connection": doc["name"], "provider": doc.get("provider"), "disconnected": True}


def _revoke(services: Services, doc: Mapping[str, Any]) -> None:
    """The provider's own revocation, where it has one (OAuth tokens); a failure there
    does not keep the user connected: the secrets are forgotten anyway."""
    try:
        flow = _oauth_module(doc.get("provider"))
        if flow is not None and hasattr(flow, "disconnect"):
            flow.disconnect(services, doc)
            return
        provider = _provider(services, doc)
        if hasattr(provider, "revoke"):
            provider.revoke()
    except Exception:  # noqa: BLE001 - revocation is best effort; forgetting is what matters
        log.warning("revoking %s connection %s failed; forgetting it anyway", doc.get("provider"), doc.get("name"), exc_info=True)


# --- OAuth (Google, Office 365) ----------------------------------------------------------------


def _oauth_module(provider: Optional[str]):
    for key, (name, module) in OAUTH.items():
        if name == provider:
            try:
                return importlib.import_module(module)
            except ImportError:
                return None
    return None


def _flow(key: str):
    if key not in OAUTH:
        raise NotFound(f"No such calendar provider: {key[:40]}")
    name, module = OAUTH[key]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise NotAvailableYet(f"Connecting {name} calendars is not available on this installation yet") from None


def oauth_start(services: Services, user: str, key: str) -> Doc:
    """The provider's consent page for the user: {"url": ...}."""
    url = _flow(key).start(services, user)
    return {"url": url}


def oauth_callback(services: Services, key: str, params: Mapping[str, Any]) -> Doc:
    """The provider sent the user back (state, code | error): the saved connection."""
    doc = _flow(key).callback(services, dict(params))
    return public(doc)


# --- the meeting-link list with its alerts ------------------------------------------------------


def list_links(services: Services, user: str) -> list[Doc]:
    """The user's meeting links (theirs, and team links they are a host of), each with
    the calendars of its hosts that cannot be read (`failing_calendars`) and an `alert`:
    while any fails, the link only takes requests."""
    store = services.store
    names = [row["name"] for row in store.list(LINK, {"host": user}, fields=("name",), order_by="modified desc")]
    try:
        names += [row["parent"] for row in store.list("Meeting Link Host", {"user": user, "parenttype": LINK}, fields=("parent",))]
    except MeetingsError:
        pass
    from ..booking.availability import link_hosts

    failing: dict[str, list[Doc]] = {}
    result = []
    for name in dict.fromkeys(names):
        link = store.get(LINK, name)
        if not link:
            continue
        problems = []
        for host in link_hosts(link):
            if host not in failing:
                failing[host] = [{**notify.public_problem(p), "user": host} for p in notify.failing_calendars(services, host)]
            problems += failing[host]
        result.append({
            "name": link["name"],
            "title": link.get("title"),
            "published": int(bool(link.get("published"))),
            "meeting_type": link.get("meeting_type") or "One-on-one",
            "host": link.get("host"),
            "url": domains.page_url(services, link),
            "mode": "request" if problems else "book",
            "failing_calendars": problems,
            "alert": _alert(problems),
        })
    return result


def _alert(problems: list[Mapping[str, Any]]) -> Optional[str]:
    if not problems:
        return None
    names = ", ".join(dict.fromkeys(str(p.get("calendar_name")) for p in problems))
    return (f"Visitors can only request meetings: {names} cannot be read. "
            "Reconnect the calendar, or remove it, in your calendar settings.")


# --- the HTTP surface of the standalone host -------------------------------------------------------

# method path -> (HTTP methods, use-case(services, user, payload), guest allowed)
Method = tuple[tuple[str, ...], Callable[[Services, Optional[str], Mapping[str, Any]], Any], bool]
API = "meetings_addon.api.connections."
HTTP_METHODS: dict[str, Method] = {
    API + "list_connections": (("GET", "POST"), lambda s, u, p: list_connections(s, u), False),
    API + "get_connection": (("GET", "POST"), get_connection, False),
    API + "available_calendars": (("GET", "POST"), available_calendars, False),
    API + "add_caldav": (("POST",), add_caldav, False),
    API + "set_calendars": (("POST",), set_calendars, False),
    API + "remove_calendar": (("POST",), remove_calendar, False),
    API + "disconnect": (("POST",), disconnect, False),
    API + "google_start": (("GET", "POST"), lambda s, u, p: oauth_start(s, u, "google"), False),
    API + "microsoft_start": (("GET", "POST"), lambda s, u, p: oauth_start(s, u, "microsoft"), False),
    # The provider sends the browser back here: no API token; the flow's state names the user.
    API + "google_callback": (("GET",), lambda s, u, p: oauth_callback(s, "google", p), True),
    API + "microsoft_callback": (("GET",), lambda s, u, p: oauth_callback(s, "microsoft", p), True),
    "meetings_addon.api.links.list_links": (("GET", "POST"), lambda s, u, p: list_links(s, u), False),
}
