"""Google Calendar (API v3) behind ports.CalendarProvider.

google-auth Credentials (refreshed by the library on expiry or a 401) over
google-api-python-client with its static discovery document; the API endpoint, the OAuth
endpoints and the CA bundle are configurable (calendars/settings.py), so the same code
runs against Google and against the test emulator.

- Busy times: freebusy.query, at most 50 calendars and 89 days per query (Google refuses
  more than 50 and ranges beyond about 90 days). Free/busy already leaves out transparent,
  cancelled and declined events. No batch requests (they ignore api_endpoint).
- Writes: events.insert with an id derived from the booking's iCalendar UID (base32hex),
  so a retried write answers 409 and finds the event it made; sendUpdates=all, so Google
  sends the guest the invitation, its updates and its cancellation.
- Errors: a refused refresh token (invalid_grant), a 401 after refresh or a 403 marks the
  connection Error; a calendar gone at Google (404, or notFound in free/busy) marks that
  calendar Failing; both raise CalendarUnavailable (the page switches to request mode).
  429, 403 rateLimitExceeded and 5xx are retried with backoff honouring Retry-After, then
  raise retry.ProviderBusy (its retry_after tells the job runner when to come back).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping, Optional, Sequence

from ..errors import CalendarUnavailable, SyncTokenExpired
from ..ports import ChangePage, Doc, RemoteEvent, Services
from . import retry, settings
from .settings import calendar_name

CONNECTION = "Calendar Connection"
SCOPES = [
    "https://www.googleapis.com/auth/calendar.readonly",  # calendarList, freebusy
    "https://www.googleapis.com/auth/calendar.events",  # insert / patch / delete events
]
MAX_CALENDARS_PER_QUERY = 50
MAX_RANGE = timedelta(days=89)
TIMEOUT = 20  # seconds per HTTP request
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
BASE32HEX = re.compile(r"[a-v0-9]{5,1024}")


@dataclass(frozen=True)
class GoogleConfig:
    client_id: Optional[str]
    client_secret: Optional[str]
    auth_uri: str
    token_uri: str
    revoke_uri: str
    api_endpoint: str
    ca_bundle: Optional[str]


def config(services: Services) -> GoogleConfig:
    oauth = settings.setting(services, "MEETINGS_GOOGLE_OAUTH_URL", "google_oauth_url")
    api = settings.setting(services, "MEETINGS_GOOGLE_API_URL", "google_api_url", "https://www.googleapis.com")
    client_id, client_secret = settings.google_client(services)
    if oauth:
        base = oauth.rstrip("/")
        auth_uri, token_uri, revoke_uri = base + "/o/oauth2/v2/auth", base + "/token", base + "/revoke"
    else:
        auth_uri = "https://accounts.google.com/o/oauth2/v2/auth"
        token_uri, revoke_uri = "https://oauth2.googleapis.com/token", "https://oauth2.googleapis.com/revoke"
    return GoogleConfig(
        client_id, client_secret, auth_uri, token_uri, revoke_uri,
        api.rstrip("/") + "/calendar/v3/", settings.ca_bundle(),
    )


def event_id_for(uid: str) -> str:
    """Google event id for a booking's iCalendar UID: base32hex (a-v, 0-9), 5-1024
    characters, the same every time. `0123...@meetings-addon` keeps its hex part."""
    local = uid.split("@", 1)[0].lower()
    if BASE32HEX.fullmatch(local):
        return local
    return base64.b32hexencode(hashlib.sha256(uid.encode()).digest()).decode().lower().rstrip("=")


def _utc(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def _error_body(error) -> dict[str, Any]:
    try:
        return json.loads(error.content.decode("utf-8")).get("error") or {}
    except (ValueError, AttributeError):
        return {}


def _reason(error) -> str:
    body = _error_body(error)
    errors = body.get("errors") or [{}]
    return str(errors[0].get("reason") or body.get("status") or "")


def _discovery_document() -> dict[str, Any]:
    """calendar v3's static discovery document, parsed once per process."""
    global _DISCOVERY
    with _DISCOVERY_LOCK:
        if _DISCOVERY is None:
            from googleapiclient.discovery_cache import get_static_doc

            _DISCOVERY = json.loads(get_static_doc("calendar", "v3"))
        return _DISCOVERY


_DISCOVERY: Optional[dict[str, Any]] = None
_DISCOVERY_LOCK = threading.Lock()


class GoogleCalendar:
    """One Google account (a Calendar Connection); calendar ids are Google's."""

    def __init__(self, services: Services, connection: Mapping[str, Any], *, google: Optional[GoogleConfig] = None):
        self.services = services
        self.connection = connection
        self._config = google
        self._api = None
        self._credentials = None
        self._saved_token: Optional[str] = None

    # --- plumbing ---

    @property
    def config(self) -> GoogleConfig:
        if self._config is None:
            self._config = config(self.services)
        return self._config

    def _secret(self, field: str) -> Optional[str]:
        if self.services.secrets is None or not self.connection.get("name"):
            return None
        return self.services.secrets.get(CONNECTION, self.connection["name"], field)

    def credentials(self):
        if self._credentials is None:
            from google.oauth2.credentials import Credentials

            refresh_token = self._secret("refresh_token")
            if not refresh_token:
                self._fail("Google: no saved sign-in for this calendar account; connect it again")
            self._saved_token = self._secret("access_token")
            cfg = self.config
            self._credentials = Credentials(
                token=self._saved_token or None,
                refresh_token=refresh_token,
                token_uri=cfg.token_uri,
                client_id=cfg.client_id,
                client_secret=cfg.client_secret,
                scopes=SCOPES,
            )
        return self._credentials

    def api(self):
        """The calendar v3 Resource (built once per adapter; httplib2 is not thread-safe)."""
        if self._api is None:
            import google_auth_httplib2
            import httplib2
            from googleapiclient.discovery import build_from_document

            cfg = self.config
            http = google_auth_httplib2.AuthorizedHttp(
                self.credentials(), http=httplib2.Http(timeout=TIMEOUT, ca_certs=cfg.ca_bundle)
            )
            # build("calendar", "v3", static_discovery=True) parses the same bundled
            # document on every call; this parses it once per process.
            self._api = build_from_document(
                _discovery_document(), http=http, client_options={"api_endpoint": cfg.api_endpoint}
            )
        return self._api

    def _save_token(self) -> None:
        """Keep a refreshed access token, so the next request does not refresh again."""
        token = getattr(self._credentials, "token", None)
        if token and token != self._saved_token and self.services.secrets and self.connection.get("name"):
            self.services.secrets.set(CONNECTION, self.connection["name"], "access_token", token)
            self._saved_token = token

    def _fail(self, message: str, calendar_id: Optional[str] = None) -> None:
        from ..connections import health

        health.mark_failing(self.services, self.connection, message, calendar_id=calendar_id)
        raise CalendarUnavailable(message)

    def _name(self, calendar_id: str) -> str:
        return calendar_name(self.connection, calendar_id)

    def _execute(self, make: Callable[[], Any], *, calendar_id: Optional[str] = None, missing_ok: bool = False) -> Any:
        """One API call: errors mapped to the domain's (see the module docstring).

        missing_ok: a 404/410 answers None (the event is gone already) instead of failing.
        """
        from google.auth.exceptions import RefreshError, TransportError
        from googleapiclient.errors import HttpError

        try:
            return make().execute(num_retries=0)
        except RefreshError as error:
            if getattr(error, "retryable", False):
                raise retry.ProviderBusy(f"Google sign-in service unavailable: {error}") from error
            self._fail(f"Google refused the saved sign-in ({_refresh_reason(error)}): connect the account again")
        except TransportError as error:
            raise retry.ProviderBusy(f"Google unreachable: {error}") from error
        except HttpError as error:
            status, reason = error.resp.status, _reason(error)
            if status == 429 or status >= 500 or (status == 403 and reason in RATE_REASONS):
                raise retry.ProviderBusy(
                    f"Google Calendar is busy ({status} {reason}); retrying later",
                    retry_after=retry.parse_retry_after(error.resp.get("retry-after")),
                    status=status,
                ) from error
            if status in (404, 410) and missing_ok:
                return None
            if status == 401:
                self._fail("Google rejected the account's access (401 after refresh): connect the account again")
            if status == 403 and calendar_id and reason != "quotaExceeded":
                self._fail(f"Google: no access to calendar {self._name(calendar_id)} ({reason or 'forbidden'})", calendar_id)
            if status == 403:
                self._fail(f"Google refused the account's requests ({reason or 'forbidden'}): check it and reconnect")
            if status == 404 and calendar_id:
                self._fail(f"Google: calendar {self._name(calendar_id)} no longer exists", calendar_id)
            raise
        except OSError as error:  # connection refused, reset, timeout
            raise retry.ProviderBusy(f"Google unreachable: {error}") from error
        finally:
            self._save_token()

    def _read(self, make: Callable[[], Any], **kwargs: Any) -> Any:
        """A read for a page view: short retries, then the page goes to request mode."""
        from googleapiclient.errors import HttpError

        try:
            return retry.with_retries(lambda: self._execute(make, **kwargs), retry.READ)
        except retry.ProviderBusy as error:
            raise CalendarUnavailable(error.message) from error
        except HttpError as error:  # an answer we cannot use (a bad request): no slots on a guess
            raise CalendarUnavailable(f"Google Calendar answered {error.resp.status} {_reason(error)}") from error

    def _write(self, make: Callable[[], Any], **kwargs: Any) -> Any:
        """A write in a job: short retries, then ProviderBusy for the job runner."""
        return retry.with_retries(lambda: self._execute(make, **kwargs), retry.WRITE)

    # --- CalendarProvider ---

    def list_calendars(self) -> list[Doc]:
        """Every calendar the account can read at least free/busy of; the primary one is the
        default and checked for availability."""
        found: list[Doc] = []
        page_token = None
        while True:
            page = self._read(
                lambda: self.api().calendarList().list(maxResults=250, pageToken=page_token, showHidden=True)
            )
            for item in page.get("items") or []:
                if item.get("deleted"):
                    continue
                primary = bool(item.get("primary"))
                found.append({
                    "calendar_id": item["id"],
                    "calendar_name": item.get("summaryOverride") or item.get("summary") or item["id"],
                    "access_role": item.get("accessRole"),
                    "is_default": 1 if primary else 0,
                    "check_availability": 1 if primary else 0,
                })
            page_token = page.get("nextPageToken")
            if not page_token:
                return found

    def busy(self, calendar_ids: Sequence[str], start: datetime, end: datetime) -> dict[str, list[tuple[datetime, datetime]]]:
        result: dict[str, list[tuple[datetime, datetime]]] = {calendar_id: [] for calendar_id in calendar_ids}
        if end <= start or not calendar_ids:
            return result
        ids = list(dict.fromkeys(calendar_ids))
        missing: list[str] = []
        troubled: list[str] = []
        window = start
        while window < end:
            window_end = min(end, window + MAX_RANGE)
            for i in range(0, len(ids), MAX_CALENDARS_PER_QUERY):
                chunk = ids[i:i + MAX_CALENDARS_PER_QUERY]
                body = {"timeMin": _utc(window), "timeMax": _utc(window_end), "items": [{"id": c} for c in chunk]}
                answer = self._read(lambda: self.api().freebusy().query(body=body))
                for calendar_id, found in (answer.get("calendars") or {}).items():
                    errors = found.get("errors") or []
                    if any(e.get("reason") == "notFound" for e in errors):
                        missing.append(calendar_id)
                        continue
                    if errors:
                        troubled.append(calendar_id)
                        continue
                    result.setdefault(calendar_id, []).extend(
                        (_parse(b["start"]), _parse(b["end"])) for b in found.get("busy") or []
                    )
            window = window_end
        for calendar_id in dict.fromkeys(missing):
            from ..connections import health

            health.mark_failing(self.services, self.connection, "Google: calendar not found (deleted, or no longer shared)", calendar_id)
        if missing or troubled:
            names = ", ".join(self._name(c) for c in dict.fromkeys(missing + troubled))
            error = CalendarUnavailable(
                f"Google: calendar {names} cannot be read" if missing else f"Google: free/busy of {names} unavailable"
            )
            error.busy = {c: v for c, v in result.items() if c not in missing and c not in troubled}  # what did answer
            raise error
        return result

    def _body(self, event: Mapping[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "summary": event.get("summary") or "",
            "description": event.get("description") or "",
            "location": event.get("location") or "",
            "start": {"dateTime": _utc(event["start"]), "timeZone": "UTC"},
            "end": {"dateTime": _utc(event["end"]), "timeZone": "UTC"},
            "attendees": [{"email": email} for email in event.get("attendees") or ()],
            "transparency": "opaque",
        }
        return body

    def create_event(self, calendar_id: str, event: Mapping[str, Any]) -> Doc:
        event_id = event_id_for(event["uid"])
        body = {"id": event_id, **self._body(event), "reminders": {"useDefault": True}}
        extra: dict[str, Any] = {}
        if event.get("online_meeting"):
            body["conferenceData"] = {
                "createRequest": {"requestId": event_id, "conferenceSolutionKey": {"type": "hangoutsMeet"}}
            }
            extra["conferenceDataVersion"] = 1
        from googleapiclient.errors import HttpError

        try:
            created = self._write(
                lambda: self.api().events().insert(calendarId=calendar_id, body=body, sendUpdates="all", **extra),
                calendar_id=calendar_id,
            )
        except HttpError as error:
            if error.resp.status != 409:
                raise
            # Made by an earlier attempt whose answer was lost: that one is ours.
            created = self._write(lambda: self.api().events().get(calendarId=calendar_id, eventId=event_id), calendar_id=calendar_id)
            if created.get("status") == "cancelled":  # cancelled, then booked again: restore it
                created = self._write(
                    lambda: self.api().events().patch(
                        calendarId=calendar_id, eventId=event_id, body={**self._body(event), "status": "confirmed"},
                        sendUpdates="all", **extra,
                    ),
                    calendar_id=calendar_id,
                )
        return _result(created, event)

    def update_event(self, calendar_id: str, event_id: str, event: Mapping[str, Any]) -> Doc:
        updated = self._write(
            lambda: self.api().events().patch(
                calendarId=calendar_id, eventId=event_id, body=self._body(event), sendUpdates="all"
            ),
            missing_ok=True,
        )
        if updated is None:  # deleted at Google meanwhile: write it again
            return self.create_event(calendar_id, event)
        return _result(updated, event)

    def cancel_event(self, calendar_id: str, event_id: str) -> None:
        # A 410 (deleted already) or 404 is what we want.
        self._write(
            lambda: self.api().events().delete(calendarId=calendar_id, eventId=event_id, sendUpdates="all"),
            missing_ok=True,
        )


    def changes(self, calendar_id: str, sync_token: Optional[str] = None, page_token: Optional[str] = None,
                page_size: int = 250) -> ChangePage:
        """One page of events.list: everything (a full sync) or what changed since
        sync_token (deletions as status cancelled). nextSyncToken comes on the last page;
        a refused token (410 fullSyncRequired) raises SyncTokenExpired."""
        from googleapiclient.errors import HttpError

        params: dict[str, Any] = {"calendarId": calendar_id, "maxResults": page_size, "singleEvents": True}
        if sync_token:
            params["syncToken"] = sync_token
        if page_token:
            params["pageToken"] = page_token
        try:
            page = retry.with_retries(
                lambda: self._execute(lambda: self.api().events().list(**params), calendar_id=calendar_id), retry.WRITE
            )
        except HttpError as error:
            if error.resp.status == 410 or (error.resp.status == 400 and page_token):
                raise SyncTokenExpired(f"Google: sync token of {self._name(calendar_id)} expired ({_reason(error)})") from error
            raise
        return ChangePage(
            [remote_event(item) for item in page.get("items") or []],
            next_page_token=page.get("nextPageToken"),
            next_sync_token=page.get("nextSyncToken"),
        )

    def watch(self, calendar_id: str, channel_id: str, token: str, address: str, ttl: int) -> Doc:
        """events.watch: a web_hook channel on the calendar's events. Returns its id,
        resourceId and expiration (aware UTC)."""
        body = {"id": channel_id, "type": "web_hook", "address": address, "token": token, "params": {"ttl": str(int(ttl))}}
        answer = self._write(lambda: self.api().events().watch(calendarId=calendar_id, body=body), calendar_id=calendar_id)
        expiration = answer.get("expiration")
        return {
            "id": answer.get("id") or channel_id,
            "resource_id": answer.get("resourceId"),
            "expires": datetime.fromtimestamp(int(expiration) / 1000, timezone.utc) if expiration else None,
        }

    def stop_watch(self, channel_id: str, resource_id: Optional[str] = None) -> None:
        """channels.stop; a channel already gone (404) is what we want."""
        body = {"id": channel_id, "resourceId": resource_id}
        self._write(lambda: self.api().channels().stop(body=body), missing_ok=True)


def _when(value: Optional[Mapping[str, Any]]) -> Optional[datetime]:
    if not value:
        return None
    if value.get("dateTime"):
        return _parse(value["dateTime"])
    if value.get("date"):
        return datetime.fromisoformat(value["date"]).replace(tzinfo=timezone.utc)
    return None


def remote_event(item: Mapping[str, Any]) -> RemoteEvent:
    """A Calendar v3 event as the sync sees it (resources and rooms are not attendees)."""
    attendees = [
        a["email"].strip().lower() for a in item.get("attendees") or []
        if a.get("email") and not a.get("resource")
    ]
    return RemoteEvent(
        id=item["id"],
        status=item.get("status") or "confirmed",
        ical_uid=item.get("iCalUID"),
        summary=item.get("summary") or "",
        description=item.get("description") or "",
        start=_when(item.get("start")),
        end=_when(item.get("end")),
        created=_parse(item["created"]) if item.get("created") else None,
        attendees=list(dict.fromkeys(attendees)),
        organizer=((item.get("organizer") or {}).get("email") or "").lower() or None,
    )


def _result(created: Mapping[str, Any], event: Mapping[str, Any]) -> Doc:
    return {
        "id": created["id"],
        "uid": event.get("uid"),
        "provider_uid": created.get("iCalUID"),
        "url": created.get("htmlLink"),
        "join_url": _join_url(created),
        "conference_id": (created.get("conferenceData") or {}).get("conferenceId"),
    }


def _join_url(created: Mapping[str, Any]) -> Optional[str]:
    """The Meet link: the conference's video entry point, else the event's hangoutLink."""
    for entry in (created.get("conferenceData") or {}).get("entryPoints") or ():
        if entry.get("entryPointType") == "video" and entry.get("uri"):
            return entry["uri"]
    return created.get("hangoutLink")


def _refresh_reason(error) -> str:
    """'invalid_grant: Token has been expired or revoked.' from a RefreshError."""
    for arg in getattr(error, "args", ()):
        if isinstance(arg, Mapping) and arg.get("error"):
            return f"{arg['error']}: {arg.get('error_description', '')}".strip(": ")
    return str(error.args[0] if error.args else error)


def revoke(services: Services, connection: Mapping[str, Any]) -> None:
    """Revoke the account's refresh token at Google (disconnect); failures are ignored."""
    if services.secrets is None or not connection.get("name"):
        return
    token = services.secrets.get(CONNECTION, connection["name"], "refresh_token")
    if not token:
        return
    try:
        session = settings.requests_session()
        session.post(config(services).revoke_uri, data={"token": token}, timeout=TIMEOUT)
    except Exception:  # noqa: BLE001 - forgetting the tokens is what matters
        pass
