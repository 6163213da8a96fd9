"""A stateful emulator of Google's OAuth 2.0 endpoints and Calendar API v3, faithful
enough that google-auth, google-auth-oauthlib and google-api-python-client run against
it unmodified (request paths from the library's static discovery document; bodies and
error shapes as Google answers them).

Served paths (one HTTPS server; point the adapter at it with MEETINGS_GOOGLE_OAUTH_URL
and MEETINGS_GOOGLE_API_URL = its url):

  GET  /o/oauth2/v2/auth            authorization: approves at once, 302 to redirect_uri
  POST /token                       authorization_code (PKCE S256/plain) and refresh_token
  POST /revoke
  GET  /calendar/v3/users/me/calendarList              paged (maxResults, pageToken)
  POST /calendar/v3/freeBusy                           <= 50 calendars, <= 90 days
  GET|POST /calendar/v3/calendars/{id}/events          list / insert (client id, 409)
  GET|PATCH|PUT|DELETE /calendar/v3/calendars/{id}/events/{eventId}   (deleted -> 410)
  POST /calendar/v3/calendars/{id}/events/watch        web_hook channels (`channels`)
  POST /calendar/v3/channels/stop                      {id, resourceId}; `notify()` pushes

Every call is logged (`server.requests`); `fail(...)` injects 401/403/429/503 answers.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Optional
from urllib.parse import unquote, urlencode

from .base import EmulatorServer, HTTPFault, Request, Response, bearer

MAX_FREEBUSY_CALENDARS = 50
MAX_FREEBUSY_RANGE = timedelta(days=90)
EVENT_ID = re.compile(r"[a-v0-9]{5,1024}")
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar"


# --- Google's error bodies ----------------------------------------------------------------


def api_error(code: int, reason: str, message: str, *, domain: str = "global", status: str = "",
              headers: Optional[dict] = None, **extra: Any) -> Response:
    """Calendar v3's JSON error: {"error": {"errors": [{domain, reason, message}], code, message}}."""
    item = {"domain": domain, "reason": reason, "message": message, **extra}
    body: dict[str, Any] = {"error": {"errors": [item], "code": code, "message": message}}
    if status:
        body["error"]["status"] = status
    return Response(code, body, headers or {})


def auth_error() -> Response:
    return api_error(
        401, "authError", "Invalid Credentials", location="Authorization", locationType="header",
        status="UNAUTHENTICATED", headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
    )


def rate_limited_403() -> Response:
    return api_error(403, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits", status="PERMISSION_DENIED")


def too_many_requests(retry_after: Optional[float] = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return api_error(429, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits",
                     status="RESOURCE_EXHAUSTED", headers=headers)


def backend_error(retry_after: Optional[float] = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return api_error(503, "backendError", "Backend Error", status="UNAVAILABLE", headers=headers)


def forbidden() -> Response:
    return api_error(403, "forbidden", "Forbidden", status="PERMISSION_DENIED")


def oauth_error(status: int, error: str, description: str) -> Response:
    return Response(status, {"error": error, "error_description": description})


# --- State -----------------------------------------------------------------------------------


@dataclass
class Calendar:
    id: str
    summary: str
    access_role: str = "owner"  # freeBusyReader, reader, writer, owner
    primary: bool = False
    time_zone: str = "UTC"
    deleted: bool = False
    events: dict[str, dict] = field(default_factory=dict)


@dataclass
class Account:
    email: str
    calendars: dict[str, Calendar] = field(default_factory=dict)


@dataclass
class Grant:
    account: str
    client_id: str
    scope: str
    revoked: bool = False


def rfc3339(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(value)
    return parsed


def event_time(value: dict) -> datetime:
    if "dateTime" in value:
        return parse_time(value["dateTime"])
    return datetime.fromisoformat(value["date"]).replace(tzinfo=timezone.utc)


class GoogleEmulator:
    def __init__(self, cert, key, *, client_id: str = "test-client.apps.googleusercontent.com",
                 client_secret: str = "test-secret"):
        self.server = EmulatorServer(cert, key)
        self.url = self.server.url
        self.clients = {client_id: client_secret}
        self.client_id, self.client_secret = client_id, client_secret
        self.accounts: dict[str, Account] = {}
        self.approving: Optional[str] = None  # the account that approves the consent screen
        self.codes: dict[str, dict] = {}
        self.access_tokens: dict[str, tuple[str, float]] = {}  # token -> (refresh token, expiry)
        self.grants: dict[str, Grant] = {}  # refresh token -> grant
        self.authorizations: list[dict] = []  # query of every authorization request
        self.invitations: list[dict] = []  # what Google "sent" to attendees (sendUpdates)
        self.sync_counter = itertools.count(1)
        self.access_token_lifetime = 3599
        s = self.server
        s.route("GET", r"/o/oauth2/v2/auth", self.authorize)
        s.route("POST", r"/token", self.token)
        s.route("POST", r"/revoke", self.revoke_endpoint)
        s.route("GET", r"/calendar/v3/users/me/calendarList", self.calendar_list)
        s.route("POST", r"/calendar/v3/freeBusy", self.freebusy)
        s.route("GET", r"/calendar/v3/calendars/([^/]+)/events", self.events_list)
        s.route("POST", r"/calendar/v3/calendars/([^/]+)/events", self.events_insert)
        s.route("GET", r"/calendar/v3/calendars/([^/]+)/events/([^/]+)", self.events_get)
        s.route("PATCH", r"/calendar/v3/calendars/([^/]+)/events/([^/]+)", self.events_patch)
        s.route("PUT", r"/calendar/v3/calendars/([^/]+)/events/([^/]+)", self.events_update)
        s.route("DELETE", r"/calendar/v3/calendars/([^/]+)/events/([^/]+)", self.events_delete)
        s.route("POST", r"/calendar/v3/calendars/([^/]+)/events/watch", self.events_watch)
        s.route("POST", r"/calendar/v3/channels/stop", self.channels_stop)
        self.channels: dict[str, dict] = {}  # channel id -> {id, resourceId, address, token, calendar, expiration, stopped}

    # --- test helpers ---

    def start(self) -> "GoogleEmulator":
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def add_account(self, email: str, *, calendars: int = 0) -> Account:
        account = Account(email)
        account.calendars[email] = Calendar(email, email, "owner", primary=True)
        self.accounts[email] = account
        if self.approving is None:
            self.approving = email
        for i in range(calendars):
            self.add_calendar(email, f"cal{i}@group.calendar.google.com", f"Calendar {i}")
        return account

    def add_calendar(self, email: str, calendar_id: str, summary: str, access_role: str = "owner") -> Calendar:
        calendar = Calendar(calendar_id, summary, access_role)
        self.accounts[email].calendars[calendar_id] = calendar
        return calendar

    def delete_calendar(self, email: str, calendar_id: str) -> None:
        self.accounts[email].calendars[calendar_id].deleted = True

    def add_event(self, email: str, calendar_id: str, start: datetime, end: datetime, *, summary: str = "Busy",
                  transparency: str = "opaque", status: str = "confirmed", declined: bool = False,
                  attendees: Optional[list[str]] = None, created: Optional[datetime] = None,
                  description: str = "") -> dict:
        event_id = uuid.uuid4().hex
        event = {
            "kind": "calendar#event", "id": event_id, "status": status, "summary": summary,
            "start": {"dateTime": rfc3339(start)}, "end": {"dateTime": rfc3339(end)},
            "transparency": transparency, "iCalUID": f"{event_id}@google.com", "sequence": 0,
            "organizer": {"email": email, "self": True}, "updated": rfc3339(datetime.now(timezone.utc)),
            "created": rfc3339(created or datetime.now(timezone.utc)),
        }
        if description:
            event["description"] = description
        if declined:
            event["attendees"] = [{"email": email, "self": True, "responseStatus": "declined"}]
        if attendees:
            event.setdefault("attendees", []).extend({"email": a, "responseStatus": "needsAction"} for a in attendees)
        event["_sync"] = next(self.sync_counter)
        self.accounts[email].calendars[calendar_id].events[event_id] = event
        return event

    def change_event(self, email: str, calendar_id: str, event_id: str, *, start: Optional[datetime] = None,
                     end: Optional[datetime] = None, attendees: Optional[list[str]] = None, **fields: Any) -> dict:
        """An edit made in Google Calendar itself (it shows up in the next incremental sync)."""
        event = self.accounts[email].calendars[calendar_id].events[event_id]
        if start is not None:
            event["start"] = {"dateTime": rfc3339(start)}
        if end is not None:
            event["end"] = {"dateTime": rfc3339(end)}
        if attendees is not None:
            event["attendees"] = [{"email": a, "responseStatus": "needsAction"} for a in attendees]
        event.update(fields)
        event["updated"] = rfc3339(datetime.now(timezone.utc))
        event["_sync"] = next(self.sync_counter)
        return event

    def remove_event(self, email: str, calendar_id: str, event_id: str) -> None:
        """Deleted in Google Calendar: incremental syncs report it as status cancelled."""
        self.change_event(email, calendar_id, event_id, status="cancelled")

    def revoke(self, email: str) -> None:
        """The user revoked access (or the token expired): every token of theirs dies."""
        for token, grant in self.grants.items():
            if grant.account == email:
                grant.revoked = True
        for token, (refresh, _) in list(self.access_tokens.items()):
            if self.grants.get(refresh) and self.grants[refresh].account == email:
                del self.access_tokens[token]

    def expire_access_tokens(self) -> None:
        self.access_tokens.clear()

    def fail(self, method: str, pattern: str, response, times: int = 1) -> None:
        self.server.fail(method, pattern, response, times)

    def count(self, method: Optional[str] = None, pattern: str = "") -> int:
        return self.server.count(method, pattern)

    def matching(self, method: Optional[str] = None, pattern: str = "") -> list[Request]:
        return self.server.matching(method, pattern)

    def events(self, email: str, calendar_id: str, *, include_cancelled: bool = False) -> list[dict]:
        found = self.accounts[email].calendars[calendar_id].events.values()
        return [e for e in found if include_cancelled or e["status"] != "cancelled"]

    # --- OAuth ---

    def authorize(self, request: Request) -> Response:
        q = request.query
        self.authorizations.append(dict(q))
        if q.get("client_id") not in self.clients:
            return Response(401, "Error 401: invalid_client\nThe OAuth client was not found.")
        if q.get("response_type") != "code" or not q.get("redirect_uri"):
            return Response(400, "Error 400: invalid_request")
        account = q.get("login_hint") if q.get("login_hint") in self.accounts else self.approving
        code = "4/0A" + secrets.token_urlsafe(24)
        self.codes[code] = {
            "client_id": q["client_id"], "redirect_uri": q["redirect_uri"], "account": account,
            "scope": q.get("scope", ""), "challenge": q.get("code_challenge"),
            "method": q.get("code_challenge_method", "plain"), "offline": q.get("access_type") == "offline",
        }
        params = {"state": q.get("state", ""), "code": code, "scope": q.get("scope", "")}
        separator = "&" if "?" in q["redirect_uri"] else "?"
        return Response(302, "", {"Location": q["redirect_uri"] + separator + urlencode(params)})

    def _client(self, request: Request, form: dict) -> Optional[str]:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            decoded = base64.b64decode(auth[6:]).decode()
            client_id, _, secret = decoded.partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        if client_id in self.clients and self.clients[client_id] == secret:
            return client_id
        return None

    def _issue(self, refresh_token: str) -> str:
        token = "ya29." + secrets.token_urlsafe(32)
        self.access_tokens[token] = (refresh_token, time.time() + self.access_token_lifetime)
        return token

    def token(self, request: Request) -> Response:
        form = request.form()
        client_id = self._client(request, form)
        if client_id is None:
            return oauth_error(401, "invalid_client", "Unauthorized")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            code = self.codes.pop(form.get("code", ""), None)
            if code is None or code["client_id"] != client_id:
                return oauth_error(400, "invalid_grant", "Malformed auth code.")
            if code["redirect_uri"] != form.get("redirect_uri"):
                return oauth_error(400, "redirect_uri_mismatch", "Bad Request")
            if code["challenge"]:
                verifier = form.get("code_verifier")
                if not verifier:
                    return oauth_error(400, "invalid_grant", "Missing code verifier.")
                if code["method"] == "S256":
                    computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
                else:
                    computed = verifier
                if computed != code["challenge"]:
                    return oauth_error(400, "invalid_grant", "Invalid code verifier.")
            refresh = "1//0g" + secrets.token_urlsafe(32)
            self.grants[refresh] = Grant(code["account"], client_id, code["scope"])
            body = {
                "access_token": self._issue(refresh), "expires_in": self.access_token_lifetime,
                "scope": code["scope"], "token_type": "Bearer",
            }
            if code["offline"]:
                body["refresh_token"] = refresh
            return Response(200, body, {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"})
        if grant_type == "refresh_token":
            grant = self.grants.get(form.get("refresh_token", ""))
            if grant is None or grant.revoked or grant.client_id != client_id:
                return oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
            body = {
                "access_token": self._issue(form["refresh_token"]), "expires_in": self.access_token_lifetime,
                "scope": grant.scope, "token_type": "Bearer",
            }
            return Response(200, body, {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"})
        return oauth_error(400, "unsupported_grant_type", "Invalid grant_type: " + str(grant_type))

    def revoke_endpoint(self, request: Request) -> Response:
        token = request.query.get("token") or request.form().get("token", "")
        if token in self.grants:
            self.grants[token].revoked = True
        elif token in self.access_tokens:
            refresh, _ = self.access_tokens.pop(token)
            if refresh in self.grants:
                self.grants[refresh].revoked = True
        else:
            return oauth_error(400, "invalid_token", "Token expired or revoked")
        return Response(200, {})

    # --- Calendar API ---

    def _account(self, request: Request) -> Account:
        token = bearer(request)
        found = self.access_tokens.get(token or "")
        if not found or found[1] < time.time():
            raise HTTPFault(auth_error())
        grant = self.grants.get(found[0])
        if grant is None or grant.revoked:
            raise HTTPFault(auth_error())
        return self.accounts[grant.account]

    def _calendar(self, account: Account, calendar_id: str, *, write: bool = False) -> Calendar:
        calendar_id = unquote(calendar_id)
        if calendar_id == "primary":
            calendar_id = account.email
        calendar = account.calendars.get(calendar_id)
        if calendar is None or calendar.deleted:
            raise HTTPFault(api_error(404, "notFound", "Not Found"))
        if write and calendar.access_role not in ("writer", "owner"):
            raise HTTPFault(api_error(403, "requiredAccessLevel",
                                      "You need to have writer access to this calendar."))
        if not write and calendar.access_role == "freeBusyReader":
            raise HTTPFault(api_error(404, "notFound", "Not Found"))
        return calendar

    def calendar_list(self, request: Request) -> Response:
        account = self._account(request)
        roles = ["freeBusyReader", "reader", "writer", "owner"]
        minimum = roles.index(request.query.get("minAccessRole", "freeBusyReader"))
        items = [
            c for c in account.calendars.values()
            if not c.deleted and roles.index(c.access_role) >= minimum
        ]
        size = min(int(request.query.get("maxResults") or 100), 250)
        start = int(request.query.get("pageToken") or 0)
        page = items[start:start + size]
        body: dict[str, Any] = {
            "kind": "calendar#calendarList", "etag": '"p33c"',
            "items": [
                {
                    "kind": "calendar#calendarListEntry", "etag": '"1"', "id": c.id, "summary": c.summary,
                    "timeZone": c.time_zone, "accessRole": c.access_role, "backgroundColor": "#9fe1e7",
                    **({"primary": True} if c.primary else {}),
                }
                for c in page
            ],
        }
        if start + size < len(items):
            body["nextPageToken"] = str(start + size)
        else:
            body["nextSyncToken"] = "calendarList-" + str(len(items))
        return Response(200, body)

    def freebusy(self, request: Request) -> Response:
        account = self._account(request)
        body = request.json()
        try:
            time_min, time_max = parse_time(body["timeMin"]), parse_time(body["timeMax"])
        except (KeyError, ValueError):
            return api_error(400, "badRequest", "Bad Request")
        items = body.get("items") or []
        if time_max <= time_min:
            return api_error(400, "timeRangeEmpty", "The specified time range is empty.", domain="calendar")
        if time_max - time_min > MAX_FREEBUSY_RANGE:
            return api_error(400, "timeRangeTooLong", "The requested time range is too long.", domain="calendar")
        if len(items) > MAX_FREEBUSY_CALENDARS:
            return api_error(400, "tooManyCalendarsRequested",
                             "The number of calendars requested is too large.", domain="calendar")
        calendars: dict[str, Any] = {}
        for item in items:
            calendar_id = item.get("id")
            calendar = account.calendars.get(account.email if calendar_id == "primary" else calendar_id)
            if calendar is None or calendar.deleted:
                calendars[calendar_id] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                continue
            intervals = []
            for event in calendar.events.values():
                if event["status"] == "cancelled" or event.get("transparency") == "transparent":
                    continue
                if any(a.get("self") and a.get("responseStatus") == "declined" for a in event.get("attendees") or []):
                    continue
                s, e = event_time(event["start"]), event_time(event["end"])
                if s < time_max and e > time_min:
                    intervals.append((max(s, time_min), min(e, time_max)))
            intervals.sort()
            merged: list[list[datetime]] = []
            for s, e in intervals:
                if merged and s <= merged[-1][1]:
                    merged[-1][1] = max(merged[-1][1], e)
                else:
                    merged.append([s, e])
            calendars[calendar_id] = {"busy": [{"start": rfc3339(s), "end": rfc3339(e)} for s, e in merged]}
        return Response(200, {
            "kind": "calendar#freeBusy", "timeMin": rfc3339(time_min), "timeMax": rfc3339(time_max),
            "calendars": calendars,
        })

    def _public(self, event: dict) -> dict:
        return {k: v for k, v in event.items() if not k.startswith("_")}

    def _record(self, calendar: Calendar, event: dict, kind: str, send_updates: Optional[str]) -> None:
        for attendee in event.get("attendees") or []:
            if attendee.get("self") or attendee.get("organizer"):
                continue
            self.invitations.append({
                "kind": kind, "to": attendee.get("email"), "event": event["id"], "calendar": calendar.id,
                "sendUpdates": send_updates or "false", "sent": send_updates in ("all", "externalOnly"),
            })

    def _times(self, body: dict) -> None:
        for key in ("start", "end"):
            if key in body:
                try:
                    event_time(body[key])
                except (KeyError, ValueError, TypeError):
                    raise HTTPFault(api_error(400, "invalid", "Invalid start time." if key == "start" else "Invalid end time."))

    def events_insert(self, request: Request, calendar_id: str) -> Response:
        account = self._account(request)
        calendar = self._calendar(account, calendar_id, write=True)
        body = request.json()
        if "start" not in body or "end" not in body:
            return api_error(400, "required", "Missing end time." if "start" in body else "Missing start time.")
        self._times(body)
        event_id = body.get("id") or uuid.uuid4().hex
        if not EVENT_ID.fullmatch(event_id):
            return api_error(400, "invalid", "Invalid resource id value.")
        if event_id in calendar.events:
            return api_error(409, "duplicate", "The requested identifier already exists.")
        now = rfc3339(datetime.now(timezone.utc))
        event = {
            "kind": "calendar#event", "etag": f'"{time.time_ns()}"', "id": event_id, "status": "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}", "created": now, "updated": now,
            "creator": {"email": account.email, "self": True}, "organizer": {"email": calendar.id, "self": True},
            "iCalUID": body.get("iCalUID") or f"{event_id}@google.com", "sequence": 0, "reminders": {"useDefault": True},
            "eventType": "default",
        }
        event.update({k: v for k, v in body.items() if k not in ("id", "iCalUID", "status")})
        event["attendees"] = [
            {"responseStatus": "needsAction", **a} for a in body.get("attendees") or []
        ]
        if body.get("conferenceData", {}).get("createRequest") and request.query.get("conferenceDataVersion") == "1":
            event["conferenceData"] = {
                "createRequest": {**body["conferenceData"]["createRequest"], "status": {"statusCode": "success"}},
                "entryPoints": [{"entryPointType": "video", "uri": f"https://meet.google.com/{event_id[:3]}-{event_id[3:7]}-{event_id[7:10]}"}],
                "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
                "conferenceId": f"{event_id[:3]}-{event_id[3:7]}-{event_id[7:10]}",
            }
            event["hangoutLink"] = event["conferenceData"]["entryPoints"][0]["uri"]
        event["_sync"] = next(self.sync_counter)
        calendar.events[event_id] = event
        self._record(calendar, event, "invitation", request.query.get("sendUpdates"))
        return Response(200, self._public(event))

    def events_get(self, request: Request, calendar_id: str, event_id: str) -> Response:
        account = self._account(request)
        calendar = self._calendar(account, calendar_id)
        event = calendar.events.get(unquote(event_id))
        if event is None:
            return api_error(404, "notFound", "Not Found")
        return Response(200, self._public(event))

    def _change(self, request: Request, calendar_id: str, event_id: str, replace: bool) -> Response:
        account = self._account(request)
        calendar = self._calendar(account, calendar_id, write=True)
        event = calendar.events.get(unquote(event_id))
        if event is None:
            return api_error(404, "notFound", "Not Found")
        body = request.json()
        self._times(body)
        if "sequence" in body and int(body["sequence"]) < int(event.get("sequence") or 0):
            return api_error(400, "invalid", "Invalid sequence value. The specified sequence number is below the current sequence number of the resource.")
        moved = any(k in body and body[k] != event.get(k) for k in ("start", "end"))
        kept = {k: event[k] for k in ("kind", "id", "htmlLink", "created", "creator", "organizer", "iCalUID", "_sync") if k in event}
        if replace:
            event.clear()
            event.update(kept)
        event.update({k: v for k, v in body.items() if k not in ("id", "iCalUID")})
        if "attendees" in body:
            event["attendees"] = [{"responseStatus": "needsAction", **a} for a in body["attendees"]]
        if moved:
            event["sequence"] = int(event.get("sequence") or 0) + 1
        event["etag"] = f'"{time.time_ns()}"'
        event["updated"] = rfc3339(datetime.now(timezone.utc))
        event["_sync"] = next(self.sync_counter)
        self._record(calendar, event, "update", request.query.get("sendUpdates"))
        return Response(200, self._public(event))

    def events_patch(self, request: Request, calendar_id: str, event_id: str) -> Response:
        return self._change(request, calendar_id, event_id, replace=False)

    def events_update(self, request: Request, calendar_id: str, event_id: str) -> Response:
        return self._change(request, calendar_id, event_id, replace=True)

    def events_delete(self, request: Request, calendar_id: str, event_id: str) -> Response:
        account = self._account(request)
        calendar = self._calendar(account, calendar_id, write=True)
        event = calendar.events.get(unquote(event_id))
        if event is None:
            return api_error(404, "notFound", "Not Found")
        if event["status"] == "cancelled":
            return api_error(410, "deleted", "Resource has been deleted")
        event["status"] = "cancelled"
        event["updated"] = rfc3339(datetime.now(timezone.utc))
        event["_sync"] = next(self.sync_counter)
        self._record(calendar, event, "cancellation", request.query.get("sendUpdates"))
        return Response(204, b"")

    def events_list(self, request: Request, calendar_id: str) -> Response:
        account = self._account(request)
        calendar = self._calendar(account, calendar_id)
        q = request.query
        sync_token = q.get("syncToken")
        if sync_token and any(k in q for k in ("timeMin", "timeMax", "orderBy", "q", "updatedMin")):
            return api_error(400, "invalid", "Invalid parameter combination: syncToken cannot be used with timeMin, timeMax, orderBy, q or updatedMin.")
        if q.get("orderBy") == "startTime" and q.get("singleEvents") != "true":
            return api_error(400, "badRequest", "The requested ordering is not available for the particular query.")
        items = sorted(calendar.events.values(), key=lambda e: e["_sync"])
        if sync_token:
            try:
                since = int(sync_token.removeprefix("sync-"))
            except ValueError:
                return api_error(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.")
            items = [e for e in items if e["_sync"] > since]
        else:
            if q.get("showDeleted") != "true":
                items = [e for e in items if e["status"] != "cancelled"]
            if q.get("timeMin"):
                items = [e for e in items if event_time(e["end"]) > parse_time(q["timeMin"])]
            if q.get("timeMax"):
                items = [e for e in items if event_time(e["start"]) < parse_time(q["timeMax"])]
            if q.get("orderBy") == "startTime":
                items.sort(key=lambda e: event_time(e["start"]))
        size = min(int(q.get("maxResults") or 250), 2500)
        start = int(q.get("pageToken") or 0)
        page = items[start:start + size]
        body: dict[str, Any] = {
            "kind": "calendar#events", "summary": calendar.summary, "timeZone": calendar.time_zone,
            "accessRole": calendar.access_role, "items": [self._public(e) for e in page],
        }
        if start + size < len(items):
            body["nextPageToken"] = str(start + size)
        else:
            last = max([e["_sync"] for e in calendar.events.values()] or [0])
            body["nextSyncToken"] = f"sync-{last}"
        return Response(200, body)

    # --- push channels ---

    def events_watch(self, request: Request, calendar_id: str) -> Response:
        account = self._account(request)
        calendar = self._calendar(account, calendar_id)
        body = request.json()
        if body.get("type") not in ("web_hook", "webhook") or not body.get("address") or not body.get("id"):
            return api_error(400, "invalid", "Invalid channel: id, type web_hook and address are required.")
        if body["id"] in self.channels:
            return api_error(400, "channelIdNotUnique", "Channel id not unique.")
        ttl = int((body.get("params") or {}).get("ttl") or 604800)
        expiration = int((time.time() + ttl) * 1000)
        channel = {"id": body["id"], "resourceId": "res-" + secrets.token_hex(8), "address": body["address"],
                   "token": body.get("token"), "calendar": (account.email, calendar.id), "expiration": expiration,
                   "stopped": False, "messages": 0}
        self.channels[body["id"]] = channel
        return Response(200, {"kind": "api#channel", "id": channel["id"], "resourceId": channel["resourceId"],
                              "resourceUri": f"{self.url}/calendar/v3/calendars/{calendar.id}/events",
                              "token": channel["token"], "expiration": str(expiration)})

    def channels_stop(self, request: Request) -> Response:
        self._account(request)
        body = request.json()
        channel = self.channels.get(body.get("id") or "")
        if channel is None or channel["resourceId"] != body.get("resourceId") or channel["stopped"]:
            return api_error(404, "notFound", f"Channel '{body.get('id')}' not found for project")
        channel["stopped"] = True
        return Response(204, b"")

    def open_channels(self) -> list[dict]:
        return [c for c in self.channels.values() if not c["stopped"]]

    def notify(self, channel_id: str, state: str = "exists", *, token: Optional[str] = None):
        """What Google POSTs to the channel's address when the calendar changes."""
        import requests

        channel = self.channels[channel_id]
        channel["messages"] += 1
        session = requests.Session()
        session.trust_env = False
        return session.post(channel["address"], timeout=10, headers={
            "X-Goog-Channel-ID": channel["id"], "X-Goog-Channel-Token": channel["token"] if token is None else token,
            "X-Goog-Resource-ID": channel["resourceId"], "X-Goog-Resource-State": state,
            "X-Goog-Message-Number": str(channel["messages"]),
            "X-Goog-Channel-Expiration": datetime.fromtimestamp(channel["expiration"] / 1000, timezone.utc).strftime(
                "%a, %d %b %Y %H:%M:%S GMT"),
        })
