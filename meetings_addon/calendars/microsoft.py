"""Microsoft 365 / Outlook calendars (Microsoft Graph v1.0) behind ports.CalendarProvider.

msal's ConfidentialClientApplication holds the account's tokens in a
SerializableTokenCache, kept encrypted through the Secrets port (the connection's
`token_cache` Password field) and written back whenever msal changed it (a refresh
rotates the refresh token). acquire_token_silent answers from the cache until the access
token expires, then refreshes. Graph is called with requests.

- Busy times: /me/calendars/{id}/calendarView per checked calendar (getSchedule only
  reads a mailbox's default calendar, and a user picks calendars, not mailboxes), with
  $select and $top=1000 so a month is one call per calendar; pages via @odata.nextLink.
  showAs free and workingElsewhere do not block, nor do cancelled or declined events;
  tentative, busy, oof (and unknown) do.
- Writes: POST /me/calendars/{id}/events with the guest as attendee (Exchange sends the
  invitation) and a transactionId derived from the booking's iCalendar UID, so a retried
  create makes no second event; Teams link when asked; PATCH to move, DELETE to cancel
  (Exchange sends the update / cancellation).
- Changes (sync/): /me/calendars/{id}/calendarView/delta over a fixed window (SYNC_PAST
  before the first sync to SYNC_AHEAD after it; the window is part of the delta token, so
  it stays the same until a full resync). The page token is the @odata.nextLink, the
  sync token the @odata.deltaLink (both whole URLs, as Graph hands them out). Occurrences
  of a series come expanded, each with its own id (as Google's singleEvents). `@removed`
  items (deleted, or moved out of the window) are deletions; a refused token (410) raises
  SyncTokenExpired, and the sync service starts a full pass.
- Errors as for Google: invalid_grant (AADSTS50173, 700082, 70000...) or a 401 after a
  forced refresh or a 403 marks the connection Error, a 404 on a calendar marks it Failing,
  both raise CalendarUnavailable; 429 and 5xx are retried honouring Retry-After, then
  raise retry.ProviderBusy.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional, Sequence
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from ..errors import CalendarUnavailable, SyncTokenExpired
from ..ports import ChangePage, Doc, RemoteEvent, Services
from . import retry, settings
from .settings import calendar_name

CONNECTION = "Calendar Connection"
SCOPES = ["Calendars.ReadWrite", "User.Read"]  # msal adds openid, profile, offline_access
TIMEOUT = 20
VIEW_PAGE = 1000
NOT_BLOCKING = {"free", "workingElsewhere"}
REFUSED = {"invalid_grant", "interaction_required", "invalid_client", "unauthorized_client", "consent_required"}
SYNC_PAST = timedelta(days=30)  # calendarView/delta's window, from now (first sync)
SYNC_AHEAD = timedelta(days=730)
UID_NAMESPACE = uuid.UUID("0e3c7a52-4f57-4b9c-9a0d-6d65657469e7")

# msal's http_cache: tenant discovery (openid-configuration) is fetched once a day per
# thread instead of once per adapter; throttling state is kept the same way. One per
# thread: msal's index over the mapping is guarded by a lock of each app's own.
_HTTP_CACHES = threading.local()


def _http_cache() -> dict:
    cache = getattr(_HTTP_CACHES, "cache", None)
    if cache is None:
        cache = _HTTP_CACHES.cache = {}
    return cache


@dataclass(frozen=True)
class MicrosoftConfig:
    client_id: Optional[str]
    client_secret: Optional[str]
    authority: str
    graph_url: str
    ca_bundle: Optional[str]

    @property
    def instance_discovery(self) -> bool:
        """msal validates an authority against login.microsoftonline.com unless told not
        to: a custom authority (a sovereign cloud, the emulator) is trusted as given."""
        return (urlsplit(self.authority).hostname or "") == "login.microsoftonline.com"


def config(services: Services) -> MicrosoftConfig:
    client_id, client_secret = settings.microsoft_client(services)
    return MicrosoftConfig(
        client_id,
        client_secret,
        settings.setting(services, "MEETINGS_MS_AUTHORITY", "microsoft_authority", "https://login.microsoftonline.com/common").rstrip("/"),
        settings.setting(services, "MEETINGS_GRAPH_URL", "graph_url", "https://graph.microsoft.com/v1.0").rstrip("/"),
        settings.ca_bundle(),
    )


def transaction_id(uid: str) -> str:
    """The same transactionId for every attempt to create the booking's event."""
    return str(uuid.uuid5(UID_NAMESPACE, uid))


def _graph_time(value: datetime) -> dict[str, str]:
    return {"dateTime": value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def _query_time(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_graph_time(value: Mapping[str, Any]) -> datetime:
    """{"dateTime": "2030-01-07T10:00:00.0000000", "timeZone": "UTC"} -> aware UTC."""
    text = re.sub(r"(\.\d{6})\d+", r"\1", str(value["dateTime"])).replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        zone = value.get("timeZone") or "UTC"
        try:
            tz = timezone.utc if zone.upper() in ("UTC", "ETC/UTC") else ZoneInfo(zone)
        except Exception:  # noqa: BLE001 - a Windows zone name despite Prefer: outlook.timezone="UTC"
            tz = timezone.utc
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(timezone.utc)


def new_app(services: Services, cfg: MicrosoftConfig, cache):
    import msal

    if not cfg.client_id or not cfg.client_secret:
        from ..connections.oauth import NotConfigured

        raise NotConfigured(
            "Microsoft 365 is not set up on this site: enter the app's client id and secret in Meetings Settings "
            "(or MEETINGS_MS_CLIENT_ID / MEETINGS_MS_CLIENT_SECRET)"
        )
    return msal.ConfidentialClientApplication(
        cfg.client_id,
        client_credential=cfg.client_secret,
        authority=cfg.authority,
        token_cache=cache,
        http_client=settings.requests_session(),
        instance_discovery=None if cfg.instance_discovery else False,
        http_cache=_http_cache(),
        timeout=TIMEOUT,
    )


class MicrosoftCalendar:
    """One Microsoft 365 account (a Calendar Connection); calendar ids are Graph's."""

    def __init__(self, services: Services, connection: Mapping[str, Any], *, microsoft: Optional[MicrosoftConfig] = None,
                 token_cache: Optional[str] = None):
        self.services = services
        self.connection = connection
        self._config = microsoft
        self._serialized = token_cache
        self._app = None
        self._cache = None
        self._session = None
        self._token: Optional[str] = None
        self._broken = False  # the connection itself failed (sign-in, 401, 403)

    # --- plumbing ---

    @property
    def config(self) -> MicrosoftConfig:
        if self._config is None:
            self._config = config(self.services)
        return self._config

    @property
    def session(self):
        if self._session is None:
            self._session = settings.requests_session()
        return self._session

    def _load_cache(self) -> Optional[str]:
        if self._serialized is not None:
            return self._serialized
        if self.services.secrets is None or not self.connection.get("name"):
            return None
        return self.services.secrets.get(CONNECTION, self.connection["name"], "token_cache")

    def _save_cache(self) -> None:
        if self._cache is None or not self._cache.has_state_changed:
            return
        serialized = self._cache.serialize()
        self._cache.has_state_changed = False
        if self._serialized is not None:
            self._serialized = serialized
        elif self.services.secrets is not None and self.connection.get("name"):
            self.services.secrets.set(CONNECTION, self.connection["name"], "token_cache", serialized)

    def serialized_cache(self) -> Optional[str]:
        return self._cache.serialize() if self._cache is not None else self._serialized

    def app(self):
        if self._app is None:
            import msal

            serialized = self._load_cache()
            if not serialized:
                self._fail("Microsoft: no saved sign-in for this calendar account; connect it again")
            import requests

            from ..connections.oauth import NotConfigured

            self._cache = msal.SerializableTokenCache()
            self._cache.deserialize(serialized)
            try:
                self._app = new_app(self.services, self.config, self._cache)  # msal reads the authority's metadata
            except NotConfigured as error:
                self._fail(error.message)
            except requests.RequestException as error:
                raise retry.ProviderBusy(f"Microsoft sign-in unreachable: {error}") from error
            except ValueError as error:  # the authority answered 4xx to its discovery
                raise CalendarUnavailable(f"Microsoft sign-in misconfigured: {error}") from error
        return self._app

    def _fail(self, message: str, calendar_id: Optional[str] = None) -> None:
        from ..connections import health

        if calendar_id is None:
            self._broken = True
        health.mark_failing(self.services, self.connection, message, calendar_id=calendar_id)
        raise CalendarUnavailable(message)

    def _name(self, calendar_id: str) -> str:
        return calendar_name(self.connection, calendar_id)

    def access_token(self, *, force_refresh: bool = False) -> str:
        if self._token and not force_refresh:
            return self._token
        try:
            app = self.app()
        except retry.ProviderBusy as error:
            raise CalendarUnavailable(error.message) from error
        accounts = app.get_accounts()
        if not accounts:
            self._fail("Microsoft: no saved sign-in for this calendar account; connect it again")
        try:
            result = app.acquire_token_silent_with_error(SCOPES, account=accounts[0], force_refresh=force_refresh)
        except Exception as error:  # noqa: BLE001 - requests' connection errors
            raise retry.ProviderBusy(f"Microsoft sign-in unreachable: {error}") from error
        finally:
            self._save_cache()
        if not result:
            self._fail("Microsoft: the saved sign-in has no usable token; connect the account again")
        if "error" in result:
            description = (result.get("error_description") or "").splitlines()[0] if result.get("error_description") else ""
            if result["error"] in REFUSED:
                self._fail(f"Microsoft refused the saved sign-in ({result['error']}: {description}): connect the account again")
            raise retry.ProviderBusy(f"Microsoft sign-in unavailable ({result['error']}: {description})")
        self._token = result["access_token"]
        return self._token

    def _url(self, path: str) -> str:
        return path if path.startswith("https://") or path.startswith("http://") else self.config.graph_url + path

    def _call(self, method: str, path: str, *, calendar_id: Optional[str] = None, missing_ok: bool = False,
              prefer: Sequence[str] = (), **kwargs: Any) -> Optional[dict[str, Any]]:
        """One Graph call, errors mapped to the domain's (see the module docstring)."""
        import requests

        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self.access_token(force_refresh=attempt == 2)}",
                       "Prefer": ", ".join(['outlook.timezone="UTC"', *prefer]), "Accept": "application/json"}
            try:
                answer = self.session.request(method, self._url(path), headers=headers, timeout=TIMEOUT, **kwargs)
            except requests.RequestException as error:
                raise retry.ProviderBusy(f"Microsoft Graph unreachable: {error}") from error
            if answer.status_code != 401:
                break
        status = answer.status_code
        if status < 300:
            return answer.json() if answer.content else {}
        code = _error_code(answer)
        if status == 429 or status >= 500:
            raise retry.ProviderBusy(
                f"Microsoft Graph is busy ({status} {code}); retrying later",
                retry_after=retry.parse_retry_after(answer.headers.get("Retry-After")),
                status=status,
            )
        if status in (404, 410) and missing_ok:
            return None
        if status == 401:
            self._fail(f"Microsoft rejected the account's access ({code}, 401 after refresh): connect the account again")
        if status == 403 and calendar_id:
            self._fail(f"Microsoft: no access to calendar {self._name(calendar_id)} ({code})", calendar_id)
        if status == 403:
            self._fail(f"Microsoft refused the account's requests ({code}): check it and reconnect")
        if status == 404 and calendar_id:
            self._fail(f"Microsoft: calendar {self._name(calendar_id)} no longer exists", calendar_id)
        raise GraphError(status, code, answer.text[:500])

    def _read(self, method: str, path: str, **kwargs: Any) -> Optional[dict[str, Any]]:
        """A read for a page view: short retries, then the page goes to request mode."""
        try:
            return retry.with_retries(lambda: self._call(method, path, **kwargs), retry.READ)
        except retry.ProviderBusy as error:
            raise CalendarUnavailable(error.message) from error
        except GraphError as error:  # an answer we cannot use: no slots on a guess
            raise CalendarUnavailable(f"Microsoft Graph answered {error.status} {error.code}") from error

    def _write(self, method: str, path: str, **kwargs: Any) -> Optional[dict[str, Any]]:
        return retry.with_retries(lambda: self._call(method, path, **kwargs), retry.WRITE)

    def _pages(self, path: str, **kwargs: Any):
        answer = self._read("GET", path, **kwargs)
        while True:
            yield from answer.get("value") or []
            next_link = answer.get("@odata.nextLink")
            if not next_link:
                return
            answer = self._read("GET", next_link, calendar_id=kwargs.get("calendar_id"))

    # --- CalendarProvider ---

    def account(self) -> dict[str, Any]:
        return self._read("GET", "/me", params={"$select": "id,displayName,mail,userPrincipalName"}) or {}

    def list_calendars(self) -> list[Doc]:
        """Every calendar of the mailbox (and those shared into it); the default one is the
        default here too and checked for availability."""
        found: list[Doc] = []
        for item in self._pages("/me/calendars", params={"$top": 100}):
            default = bool(item.get("isDefaultCalendar"))
            found.append({
                "calendar_id": item["id"],
                "calendar_name": item.get("name") or item["id"],
                "access_role": "owner" if item.get("canEdit") and default else ("writer" if item.get("canEdit") else "reader"),
                "is_default": 1 if default else 0,
                "check_availability": 1 if default else 0,
            })
        return found

    def busy(self, calendar_ids: Sequence[str], start: datetime, end: datetime) -> dict[str, list[tuple[datetime, datetime]]]:
        result: dict[str, list[tuple[datetime, datetime]]] = {calendar_id: [] for calendar_id in calendar_ids}
        if end <= start:
            return result
        failed: list[str] = []
        for calendar_id in dict.fromkeys(calendar_ids):
            params = {
                "startDateTime": _query_time(start), "endDateTime": _query_time(end),
                "$select": "start,end,showAs,isCancelled,responseStatus", "$top": VIEW_PAGE,
            }
            try:
                events = list(self._pages(f"/me/calendars/{quote(calendar_id, safe='')}/calendarView",
                                          params=params, calendar_id=calendar_id))
            except CalendarUnavailable:
                if self._broken or self._token is None:  # the account failed: nothing else will work
                    raise
                failed.append(calendar_id)
                continue
            for event in events:
                if event.get("isCancelled") or event.get("showAs") in NOT_BLOCKING:
                    continue
                if (event.get("responseStatus") or {}).get("response") == "declined":
                    continue
                result[calendar_id].append((parse_graph_time(event["start"]), parse_graph_time(event["end"])))
        if failed:
            error = CalendarUnavailable(f"Microsoft: calendar {', '.join(self._name(c) for c in failed)} cannot be read")
            error.busy = {c: v for c, v in result.items() if c not in failed}  # what did answer
            raise error
        return result

    def _body(self, event: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "subject": event.get("summary") or "",
            "body": {"contentType": "text", "content": event.get("description") or ""},
            "start": _graph_time(event["start"]),
            "end": _graph_time(event["end"]),
            "location": {"displayName": event.get("location") or ""},
            "attendees": [{"emailAddress": {"address": email}, "type": "required"} for email in event.get("attendees") or ()],
        }

    def create_event(self, calendar_id: str, event: Mapping[str, Any]) -> Doc:
        body = {**self._body(event), "showAs": "busy", "transactionId": transaction_id(event["uid"])}
        if event.get("online_meeting"):
            body.update(isOnlineMeeting=True, onlineMeetingProvider="teamsForBusiness")
        created = self._write("POST", f"/me/calendars/{quote(calendar_id, safe='')}/events", json=body, calendar_id=calendar_id)
        return _result(created, event)

    def update_event(self, calendar_id: str, event_id: str, event: Mapping[str, Any]) -> Doc:
        updated = self._write("PATCH", f"/me/events/{quote(event_id, safe='')}", json=self._body(event), missing_ok=True)
        if updated is None:  # deleted in Outlook meanwhile: write it again
            return self.create_event(calendar_id, event)
        return _result(updated, event)

    def cancel_event(self, calendar_id: str, event_id: str) -> None:
        # The organizer's DELETE sends the attendees Exchange's cancellation; 404: gone already.
        self._write("DELETE", f"/me/events/{quote(event_id, safe='')}", missing_ok=True)

    def changes(self, calendar_id: str, sync_token: Optional[str] = None, page_token: Optional[str] = None,
                page_size: int = 250) -> ChangePage:
        """One page of calendarView/delta: everything in the window (a full sync) or what
        changed since sync_token (the last page's @odata.deltaLink). A refused token (410)
        raises SyncTokenExpired."""
        if page_token or sync_token:
            path, params = (page_token or sync_token), None
        else:
            now = self.services.clock.now() if self.services is not None else datetime.now(timezone.utc)
            path = f"/me/calendars/{quote(calendar_id, safe='')}/calendarView/delta"
            params = {"startDateTime": _query_time(now - SYNC_PAST), "endDateTime": _query_time(now + SYNC_AHEAD)}
        prefer = (f"odata.maxpagesize={max(1, int(page_size))}", 'outlook.body-content-type="text"')
        try:
            page = retry.with_retries(
                lambda: self._call("GET", path, params=params, calendar_id=calendar_id, prefer=prefer), retry.WRITE
            ) or {}
        except GraphError as error:
            if error.status == 410 or (error.status == 400 and (page_token or sync_token)):
                raise SyncTokenExpired(
                    f"Microsoft: delta token of {self._name(calendar_id)} refused ({error.status} {error.code})"
                ) from error
            raise
        next_link, delta_link = page.get("@odata.nextLink"), page.get("@odata.deltaLink")
        if not next_link and not delta_link:
            raise GraphError(200, "NoDeltaLink", "calendarView/delta answered without @odata.nextLink or @odata.deltaLink")
        return ChangePage(
            [remote_event(item) for item in page.get("value") or [] if item.get("id")],
            next_page_token=next_link,
            next_sync_token=None if next_link else delta_link,
        )

    def subscribe(self, calendar_id: str, notification_url: str, client_state: str, expires: datetime) -> Doc:
        """POST /subscriptions on the calendar's events (Graph validates notification_url
        with its validationToken handshake before answering). Lifecycle notifications go
        to the same URL. Returns the subscription's id and expiry."""
        body = {
            "changeType": "created,updated,deleted",
            "notificationUrl": notification_url,
            "lifecycleNotificationUrl": notification_url,
            "resource": f"/me/calendars/{quote(calendar_id, safe='')}/events",
            "expirationDateTime": _query_time(expires),
            "clientState": client_state,
        }
        answer = self._write("POST", "/subscriptions", json=body) or {}
        return {"id": answer["id"], "expires": _subscription_expiry(answer, expires)}

    def renew(self, subscription_id: str, expires: datetime) -> Optional[Doc]:
        """PATCH /subscriptions/{id} with a later expiry; None when Graph no longer has it."""
        answer = self._write("PATCH", f"/subscriptions/{quote(subscription_id, safe='')}",
                             json={"expirationDateTime": _query_time(expires)}, missing_ok=True)
        if answer is None:
            return None
        return {"id": answer.get("id") or subscription_id, "expires": _subscription_expiry(answer, expires)}

    def stop_watch(self, subscription_id: str, resource_id: Optional[str] = None) -> None:
        """DELETE /subscriptions/{id}; one already gone (404) is what we want."""
        self._write("DELETE", f"/subscriptions/{quote(subscription_id, safe='')}", missing_ok=True)


def _subscription_expiry(answer: Mapping[str, Any], asked: datetime) -> datetime:
    value = answer.get("expirationDateTime")
    if not value:
        return asked
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", str(value)).replace("Z", "+00:00")).astimezone(timezone.utc)


class GraphError(Exception):
    """A Graph answer the adapter has no meaning for (a bug: a bad request)."""

    def __init__(self, status: int, code: str, text: str):
        super().__init__(f"Microsoft Graph answered {status} {code}: {text}")
        self.status, self.code = status, code


def remote_event(item: Mapping[str, Any]) -> RemoteEvent:
    """A Graph event (or an @removed entry) as the sync sees it; rooms and equipment
    (attendee type resource) are not attendees."""
    if "@removed" in item:
        return RemoteEvent(id=item["id"], status="cancelled")
    attendees = [
        ((a.get("emailAddress") or {}).get("address") or "").strip().lower()
        for a in item.get("attendees") or [] if a.get("type") != "resource"
    ]
    if item.get("isCancelled"):
        status = "cancelled"
    elif item.get("showAs") == "tentative":
        status = "tentative"
    else:
        status = "confirmed"
    body = item.get("body") or {}
    description = body.get("content") if (body.get("contentType") or "text").lower() == "text" else item.get("bodyPreview")
    organizer = ((item.get("organizer") or {}).get("emailAddress") or {}).get("address")
    return RemoteEvent(
        id=item["id"],
        status=status,
        ical_uid=item.get("iCalUId"),
        summary=item.get("subject") or "",
        description=description or "",
        start=parse_graph_time(item["start"]) if item.get("start") else None,
        end=parse_graph_time(item["end"]) if item.get("end") else None,
        created=parse_graph_time({"dateTime": item["createdDateTime"]}) if item.get("createdDateTime") else None,
        attendees=list(dict.fromkeys(a for a in attendees if a)),
        organizer=(organizer or "").lower() or None,
    )


def _error_code(answer) -> str:
    try:
        return str((answer.json().get("error") or {}).get("code") or "")
    except ValueError:
        return ""


def _result(created: Mapping[str, Any], event: Mapping[str, Any]) -> Doc:
    return {
        "id": created["id"],
        "uid": event.get("uid"),
        "provider_uid": created.get("iCalUId"),
        "url": created.get("webLink"),
        "join_url": (created.get("onlineMeeting") or {}).get("joinUrl") or created.get("onlineMeetingUrl"),
        "conference_id": (created.get("onlineMeeting") or {}).get("conferenceId"),
    }
