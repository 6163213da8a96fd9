"""A stateful emulator of the Microsoft identity platform (v2.0 endpoints, as msal calls
them with a custom https authority and instance_discovery=False) and of Microsoft Graph
v1.0's calendar API, faithful enough that msal and plain requests run unmodified.

Served paths (one HTTPS server; msal requires an https authority with a tenant segment):

  GET  /{tenant}/v2.0/.well-known/openid-configuration   tenant discovery (msal, on start)
  GET  /{tenant}/oauth2/v2.0/authorize                    approves at once: 302 code + state
  POST /{tenant}/oauth2/v2.0/token                        authorization_code (PKCE) and
                                                          refresh_token (rotated); AADSTS errors
  GET  /v1.0/me
  GET  /v1.0/me/calendars                                 paged by 10 (@odata.nextLink)
  GET  /v1.0/me/calendars/{id}/calendarView, /v1.0/me/calendar/calendarView, /v1.0/me/calendarView
  POST /v1.0/me/calendar/getSchedule                      <= 20 schedules, < 62 days
  POST /v1.0/me/events, /me/calendar/events, /me/calendars/{id}/events   (transactionId)
  GET|PATCH|DELETE /v1.0/me/events/{id} (and under /me/calendars/{id}/events/{id})
  POST /v1.0/me/events/{id}/cancel
  POST /v1.0/subscriptions, PATCH|DELETE /v1.0/subscriptions/{id}   the validationToken
                                                          handshake on create; `notify()` pushes
  GET  /v1.0/me/calendars/{id}/calendarView/delta, /v1.0/me/calendarView/delta
       startDateTime/endDateTime on the first call; pages of `Prefer: odata.maxpagesize`
       (default 10) via @odata.nextLink ($skiptoken), then @odata.deltaLink ($deltatoken):
       what changed since that token, deletions as {"@removed": {"reason": "deleted"}, "id"};
       `expire_delta_tokens()` makes every issued token answer 410 (a resync).

Exchange "sends" invitations, updates and cancellations to attendees: each is recorded
in `invitations`. Every call is logged; `fail(...)` injects 401/404/429/503 answers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import itertools
import secrets
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Optional
from urllib.parse import unquote, urlencode
from zoneinfo import ZoneInfo

from .base import EmulatorServer, HTTPFault, Request, Response, bearer

TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"
MAX_SCHEDULES = 20
MAX_SCHEDULE_RANGE = timedelta(days=62)
MAX_VIEW_RANGE = timedelta(days=1825)
CALENDAR_PAGE = 10
VIEW_PAGE = 10
NOT_BLOCKING = ("free", "workingElsewhere")


# --- Error bodies -----------------------------------------------------------------------------


def graph_error(status: int, code: str, message: str, headers: Optional[dict] = None) -> Response:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    body = {"error": {"code": code, "message": message, "innerError": {
        "date": now, "request-id": str(uuid.uuid4()), "client-request-id": str(uuid.uuid4())}}}
    return Response(status, body, headers or {})


def unauthorized() -> Response:
    return graph_error(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.",
                       {"WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"'})


def item_not_found() -> Response:
    return graph_error(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def throttled(retry_after: Optional[float] = 2) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return graph_error(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.", headers)


def unavailable(retry_after: Optional[float] = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return graph_error(503, "ServiceNotAvailable", "The service is temporarily unavailable. Please try again later.", headers)


def forbidden() -> Response:
    return graph_error(403, "ErrorAccessDenied", "Access is denied. Check credentials and try again.")


AADSTS = {
    50173: "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
    700082: "The refresh token has expired due to inactivity. The token was issued on 2024-01-01T00:00:00Z and was inactive for 90.00:00:00.",
    70000: "The provided value for the 'code' parameter is not valid.",
    54005: "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
    50148: "The code_verifier provided does not match the code_challenge supplied in the authorization request for PKCE.",
    7000215: "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client}'.",
    50011: "The redirect URI '{redirect}' specified in the request does not match the redirect URIs configured for the application.",
}


def aad_error(status: int, error: str, code: int, **fmt: str) -> Response:
    now = datetime.now(timezone.utc)
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    description = (f"AADSTS{code}: {AADSTS[code].format(**fmt)}\r\nTrace ID: {trace}\r\n"
                   f"Correlation ID: {correlation}\r\nTimestamp: {now:%Y-%m-%d %H:%M:%SZ}")
    body = {
        "error": error, "error_description": description, "error_codes": [code],
        "timestamp": f"{now:%Y-%m-%d %H:%M:%SZ}", "trace_id": trace, "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    if code == 50173:
        body["suberror"] = "bad_token"
    return Response(status, body)


# --- State --------------------------------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def graph_time(value: datetime) -> dict:
    return {"dateTime": value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}


def parse_graph_time(value: dict) -> datetime:
    text = re.sub(r"(\.\d{6})\d+", r"\1", value["dateTime"])
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        zone = value.get("timeZone") or "UTC"
        parsed = parsed.replace(tzinfo=timezone.utc if zone == "UTC" else ZoneInfo(zone))
    return parsed.astimezone(timezone.utc)


def parse_query_time(value: str) -> datetime:
    text = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
    parsed = datetime.fromisoformat(text)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def graph_id(prefix: str = "AAMkAD") -> str:
    return prefix + base64.b64encode(secrets.token_bytes(30)).decode().replace("/", "_").replace("+", "-")


@dataclass
class Calendar:
    id: str
    name: str
    is_default: bool = False
    can_edit: bool = True
    owner: str = ""
    deleted: bool = False
    events: dict[str, dict] = field(default_factory=dict)
    removed: list[tuple[int, str]] = field(default_factory=list)  # (change number, event id) of deletions


@dataclass
class Mailbox:
    email: str
    name: str
    oid: str
    calendars: dict[str, Calendar] = field(default_factory=dict)

    @property
    def default(self) -> Calendar:
        return next(c for c in self.calendars.values() if c.is_default)


@dataclass
class RefreshGrant:
    mailbox: str
    scope: str
    revoked: bool = False
    used: bool = False


class MicrosoftEmulator:
    def __init__(self, cert, key, *, client_id: str = "3f1c6a2e-0000-4000-8000-00000000c11e",
                 client_secret: str = "test~secret"):
        self.server = EmulatorServer(cert, key)
        self.url = self.server.url
        self.authority = self.url + "/common"
        self.graph_url = self.url + "/v1.0"
        self.client_id, self.client_secret = client_id, client_secret
        self.mailboxes: dict[str, Mailbox] = {}
        self.approving: Optional[str] = None
        self.codes: dict[str, dict] = {}
        self.redeemed: set[str] = set()
        self.access_tokens: dict[str, tuple[str, float]] = {}  # token -> (mailbox, expiry)
        self.refresh_tokens: dict[str, RefreshGrant] = {}
        self.authorizations: list[dict] = []
        self.invitations: list[dict] = []
        self.access_token_lifetime = 3599
        self.changes = itertools.count(1)  # every event write takes the next number (delta queries)
        self.delta_states: dict[str, dict] = {}  # $skiptoken / $deltatoken -> what it stands for
        s = self.server
        s.route("GET", r"/([^/]+)/v2\.0/\.well-known/openid-configuration", self.openid_configuration)
        s.route("GET", r"/([^/]+)/oauth2/v2\.0/authorize", self.authorize)
        s.route("POST", r"/([^/]+)/oauth2/v2\.0/token", self.token)
        s.route("GET", r"/v1\.0/me", self.me)
        s.route("GET", r"/v1\.0/me/calendars", self.calendars)
        s.route("GET", r"/v1\.0/me/calendars/([^/]+)/calendarView", self.calendar_view)
        s.route("GET", r"/v1\.0/me/calendar/calendarView", lambda r: self.calendar_view(r, None))
        s.route("GET", r"/v1\.0/me/calendarView", lambda r: self.calendar_view(r, None))
        s.route("GET", r"/v1\.0/me/calendars/([^/]+)/calendarView/delta", self.calendar_view_delta)
        s.route("GET", r"/v1\.0/me/calendarView/delta", lambda r: self.calendar_view_delta(r, None))
        s.route("POST", r"/v1\.0/me/calendar/getSchedule", self.get_schedule)
        s.route("POST", r"/v1\.0/me/events", lambda r: self.create(r, None))
        s.route("POST", r"/v1\.0/me/calendar/events", lambda r: self.create(r, None))
        s.route("POST", r"/v1\.0/me/calendars/([^/]+)/events", self.create)
        for prefix in (r"/v1\.0/me/events/([^/]+)", r"/v1\.0/me/calendars/[^/]+/events/([^/]+)"):
            s.route("GET", prefix, self.get_event)
            s.route("PATCH", prefix, self.patch)
            s.route("DELETE", prefix, self.delete)
        s.route("POST", r"/v1\.0/me/events/([^/]+)/cancel", self.cancel)
        s.route("POST", r"/v1\.0/subscriptions", self.subscription_create)
        s.route("PATCH", r"/v1\.0/subscriptions/([^/]+)", self.subscription_patch)
        s.route("DELETE", r"/v1\.0/subscriptions/([^/]+)", self.subscription_delete)
        self.subscriptions: dict[str, dict] = {}  # id -> subscription (+ "mailbox", "deleted")
        self.validations: list[dict] = []  # every validationToken handshake: url, token, status, answer

    # --- test helpers ---

    def start(self) -> "MicrosoftEmulator":
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def add_mailbox(self, email: str, name: str = "Hana Host", *, calendars: int = 0) -> Mailbox:
        mailbox = Mailbox(email, name, str(uuid.uuid4()))
        default = Calendar(graph_id(), "Calendar", is_default=True, owner=email)
        mailbox.calendars[default.id] = default
        self.mailboxes[email] = mailbox
        if self.approving is None:
            self.approving = email
        for i in range(calendars):
            self.add_calendar(email, f"Calendar {i}")
        return mailbox

    def add_calendar(self, email: str, name: str, *, can_edit: bool = True, owner: Optional[str] = None) -> Calendar:
        calendar = Calendar(graph_id(), name, can_edit=can_edit, owner=owner or email)
        self.mailboxes[email].calendars[calendar.id] = calendar
        return calendar

    def calendar(self, email: str, name: str) -> Calendar:
        return next(c for c in self.mailboxes[email].calendars.values() if c.name == name)

    def delete_calendar(self, email: str, calendar_id: str) -> None:
        self.mailboxes[email].calendars[calendar_id].deleted = True

    def add_event(self, email: str, calendar_id: str, start: datetime, end: datetime, *, subject: str = "Busy",
                  show_as: str = "busy", cancelled: bool = False, declined: bool = False,
                  attendees: Optional[list[str]] = None, created: Optional[datetime] = None,
                  description: Optional[str] = None) -> dict:
        body: dict[str, Any] = {"subject": subject, "showAs": show_as, "start": graph_time(start), "end": graph_time(end)}
        if attendees is not None:
            body["attendees"] = [{"emailAddress": {"address": a}, "type": "required"} for a in attendees]
        if description is not None:
            body["body"] = {"contentType": "text", "content": description}
        event = self._new_event(self.mailboxes[email], body)
        if created is not None:
            event["createdDateTime"] = created.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
        event["isCancelled"] = cancelled
        if declined:
            event["isOrganizer"] = False
            event["responseStatus"] = {"response": "declined", "time": event["createdDateTime"]}
        self.mailboxes[email].calendars[calendar_id].events[event["id"]] = event
        return event

    def change_event(self, email: str, calendar_id: str, event_id: str, *, start: Optional[datetime] = None,
                     end: Optional[datetime] = None, attendees: Optional[list[str]] = None, **fields: Any) -> dict:
        """An edit made in Outlook itself (the next delta query reports it)."""
        event = self.mailboxes[email].calendars[calendar_id].events[event_id]
        body: dict[str, Any] = dict(fields)
        if start is not None:
            body["start"] = graph_time(start)
        if end is not None:
            body["end"] = graph_time(end)
        if attendees is not None:
            body["attendees"] = [{"emailAddress": {"address": a}, "type": "required"} for a in attendees]
        self._apply(event, body)
        return event

    def remove_event(self, email: str, calendar_id: str, event_id: str) -> None:
        """Deleted in Outlook: the next delta query reports it as @removed."""
        calendar = self.mailboxes[email].calendars[calendar_id]
        self._forget(calendar, event_id)

    def expire_delta_tokens(self) -> None:
        """Every delta / skip token issued so far answers 410 from now on."""
        for state in self.delta_states.values():
            state["expired"] = True

    def events(self, email: str, calendar_id: str) -> list[dict]:
        return list(self.mailboxes[email].calendars[calendar_id].events.values())

    def revoke(self, email: str) -> None:
        """The user's refresh tokens are revoked (a password reset, an admin): AADSTS50173."""
        for grant in self.refresh_tokens.values():
            if grant.mailbox == email:
                grant.revoked = True
        for token, (mailbox, _) in list(self.access_tokens.items()):
            if mailbox == email:
                del self.access_tokens[token]

    def fail(self, method: str, pattern: str, response, times: int = 1) -> None:
        self.server.fail(method, pattern, response, times)

    def count(self, method: Optional[str] = None, pattern: str = "") -> int:
        return self.server.count(method, pattern)

    def matching(self, method: Optional[str] = None, pattern: str = "") -> list[Request]:
        return self.server.matching(method, pattern)

    # --- identity platform ---

    def openid_configuration(self, request: Request, tenant: str) -> Response:
        base = f"{self.url}/{tenant}"
        return Response(200, {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{self.url}/{{tenantid}}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{self.graph_url}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "preferred_username", "name", "tid", "oid"],
            "tenant_region_scope": None,
            "cloud_instance_name": "microsoftonline.com",
        })

    def authorize(self, request: Request, tenant: str) -> Response:
        q = request.query
        self.authorizations.append(dict(q))
        if q.get("client_id") != self.client_id:
            return Response(400, "AADSTS700016: Application with identifier was not found in the directory.")
        mailbox = q.get("login_hint") if q.get("login_hint") in self.mailboxes else self.approving
        code = "0.AX" + secrets.token_urlsafe(48)
        self.codes[code] = {
            "redirect_uri": q.get("redirect_uri"), "mailbox": mailbox, "scope": q.get("scope", ""),
            "challenge": q.get("code_challenge"), "method": q.get("code_challenge_method", "plain"),
            "nonce": q.get("nonce"),
        }
        params = {"code": code, "state": q.get("state", ""), "session_state": str(uuid.uuid4())}
        if q.get("client_info") == "1":
            params["client_info"] = self._client_info(self.mailboxes[mailbox])
        return Response(302, "", {"Location": q["redirect_uri"] + "?" + urlencode(params)})

    def _client_info(self, mailbox: Mailbox) -> str:
        return _b64url(json.dumps({"uid": mailbox.oid, "utid": TENANT_ID}).encode())

    def _id_token(self, mailbox: Mailbox, nonce: Optional[str]) -> str:
        now = int(time.time())
        claims = {
            "aud": self.client_id, "iss": f"{self.url}/{TENANT_ID}/v2.0", "iat": now, "nbf": now, "exp": now + 3600,
            "name": mailbox.name, "oid": mailbox.oid, "preferred_username": mailbox.email, "sub": _b64url(mailbox.oid.encode()),
            "tid": TENANT_ID, "ver": "2.0",
        }
        if nonce:
            claims["nonce"] = nonce
        header = {"typ": "JWT", "alg": "RS256", "kid": "emulator"}
        return ".".join([_b64url(json.dumps(header).encode()), _b64url(json.dumps(claims).encode()), _b64url(b"signature")])

    def _tokens(self, mailbox: Mailbox, scope: str, nonce: Optional[str]) -> dict:
        access = "eyJ0eXAiOiJKV1Qi." + secrets.token_urlsafe(40)
        self.access_tokens[access] = (mailbox.email, time.time() + self.access_token_lifetime)
        refresh = "0.AXEA" + secrets.token_urlsafe(60)
        self.refresh_tokens[refresh] = RefreshGrant(mailbox.email, scope)
        granted = " ".join(s for s in scope.split() if s != "offline_access")
        return {
            "token_type": "Bearer", "scope": granted, "expires_in": self.access_token_lifetime,
            "ext_expires_in": self.access_token_lifetime, "access_token": access, "refresh_token": refresh,
            "id_token": self._id_token(mailbox, nonce), "client_info": self._client_info(mailbox),
        }

    def token(self, request: Request, tenant: str) -> Response:
        form = request.form()
        if form.get("client_id") != self.client_id:
            return aad_error(400, "unauthorized_client", 7000215, client=str(form.get("client_id")))
        if form.get("client_secret") != self.client_secret:
            return aad_error(401, "invalid_client", 7000215, client=self.client_id)
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            code_value = form.get("code", "")
            if code_value in self.redeemed:
                return aad_error(400, "invalid_grant", 54005)
            code = self.codes.pop(code_value, None)
            if code is None:
                return aad_error(400, "invalid_grant", 70000)
            self.redeemed.add(code_value)
            if code["redirect_uri"] != form.get("redirect_uri"):
                return aad_error(400, "invalid_grant", 50011, redirect=str(form.get("redirect_uri")))
            if code["challenge"]:
                verifier = form.get("code_verifier", "")
                computed = _b64url(hashlib.sha256(verifier.encode()).digest()) if code["method"] == "S256" else verifier
                if computed != code["challenge"]:
                    return aad_error(400, "invalid_grant", 50148)
            return Response(200, self._tokens(self.mailboxes[code["mailbox"]], form.get("scope") or code["scope"], code["nonce"]))
        if grant_type == "refresh_token":
            grant = self.refresh_tokens.get(form.get("refresh_token", ""))
            if grant is None:
                return aad_error(400, "invalid_grant", 70000)
            if grant.revoked:
                return aad_error(400, "invalid_grant", 50173)
            return Response(200, self._tokens(self.mailboxes[grant.mailbox], form.get("scope") or grant.scope, None))
        return Response(400, {"error": "unsupported_grant_type", "error_description": "AADSTS70003: The app requested an unsupported grant type."})

    # --- Graph ---

    def _mailbox(self, request: Request) -> Mailbox:
        found = self.access_tokens.get(bearer(request) or "")
        if not found or found[1] < time.time():
            raise HTTPFault(unauthorized())
        return self.mailboxes[found[0]]

    def _calendar(self, mailbox: Mailbox, calendar_id: Optional[str]) -> Calendar:
        if calendar_id is None:
            return mailbox.default
        calendar = mailbox.calendars.get(unquote(calendar_id))
        if calendar is None or calendar.deleted:
            raise HTTPFault(item_not_found())
        return calendar

    def _find(self, mailbox: Mailbox, event_id: str) -> tuple[Calendar, dict]:
        event_id = unquote(event_id)
        for calendar in mailbox.calendars.values():
            if event_id in calendar.events and not calendar.deleted:
                return calendar, calendar.events[event_id]
        raise HTTPFault(item_not_found())

    def me(self, request: Request) -> Response:
        mailbox = self._mailbox(request)
        return Response(200, {
            "@odata.context": f"{self.graph_url}/$metadata#users/$entity", "id": mailbox.oid,
            "displayName": mailbox.name, "mail": mailbox.email, "userPrincipalName": mailbox.email,
            "givenName": mailbox.name.split()[0], "surname": mailbox.name.split()[-1],
        })

    def calendars(self, request: Request) -> Response:
        mailbox = self._mailbox(request)
        items = [c for c in mailbox.calendars.values() if not c.deleted]
        top = min(int(request.query.get("$top") or CALENDAR_PAGE), 999)
        skip = int(request.query.get("$skip") or 0)
        body: dict[str, Any] = {
            "@odata.context": f"{self.graph_url}/$metadata#users('{mailbox.oid}')/calendars",
            "value": [
                {"id": c.id, "name": c.name, "color": "auto", "hexColor": "", "isDefaultCalendar": c.is_default,
                 "changeKey": "nfZyf7VcrEKLNoU37KWlkQAAA==", "canShare": c.can_edit, "canViewPrivateItems": True,
                 "canEdit": c.can_edit, "allowedOnlineMeetingProviders": ["teamsForBusiness"],
                 "defaultOnlineMeetingProvider": "teamsForBusiness", "isTallyingResponses": True, "isRemovable": not c.is_default,
                 "owner": {"name": mailbox.name if c.owner == mailbox.email else c.owner, "address": c.owner}}
                for c in items[skip:skip + top]
            ],
        }
        if skip + top < len(items):
            body["@odata.nextLink"] = f"{self.graph_url}/me/calendars?" + urlencode({"$top": top, "$skip": skip + top})
        return Response(200, body)

    def _public(self, event: dict, zone: str = "UTC") -> dict:
        out = {k: v for k, v in event.items() if not k.startswith("_")}
        if zone != "UTC":
            for key in ("start", "end"):
                local = parse_graph_time(event[key]).astimezone(ZoneInfo(zone))
                out[key] = {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": zone}
        return out

    def _zone(self, request: Request) -> str:
        match = re.search(r'outlook\.timezone="([^"]+)"', request.headers.get("prefer", ""))
        return match.group(1) if match else "UTC"

    def calendar_view(self, request: Request, calendar_id: Optional[str]) -> Response:
        mailbox = self._mailbox(request)
        calendar = self._calendar(mailbox, calendar_id)
        q = request.query
        if not q.get("startDateTime") or not q.get("endDateTime"):
            return graph_error(400, "ErrorInvalidParameter",
                               "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.")
        start, end = parse_query_time(q["startDateTime"]), parse_query_time(q["endDateTime"])
        if end - start > MAX_VIEW_RANGE:
            return graph_error(400, "ErrorCalendarViewRangeTooBig", "The specified view range exceeds the maximum range of five years.")
        items = sorted(
            (e for e in calendar.events.values()
             if parse_graph_time(e["start"]) < end and parse_graph_time(e["end"]) > start),
            key=lambda e: parse_graph_time(e["start"]),
        )
        top = min(int(q.get("$top") or VIEW_PAGE), 1000)
        skip = int(q.get("$skip") or 0)
        select = [s.strip() for s in q.get("$select", "").split(",") if s.strip()]
        zone = self._zone(request)
        page = []
        for event in items[skip:skip + top]:
            public = self._public(event, zone)
            if select:
                public = {k: v for k, v in public.items() if k in select or k in ("id", "@odata.etag")}
            page.append(public)
        body: dict[str, Any] = {"@odata.context": f"{self.graph_url}/$metadata#users('{mailbox.oid}')/calendars('{calendar.id}')/calendarView", "value": page}
        if skip + top < len(items):
            body["@odata.nextLink"] = request.path.replace("/v1.0", self.graph_url, 1) + "?" + urlencode({**q, "$skip": skip + top})
        return Response(200, body)

    def get_schedule(self, request: Request) -> Response:
        self._mailbox(request)
        body = request.json()
        schedules = body.get("schedules") or []
        if len(schedules) > MAX_SCHEDULES:
            return graph_error(400, "ErrorInvalidParameter", "The number of schedules requested exceeds the maximum of 20.")
        start, end = parse_graph_time(body["startTime"]), parse_graph_time(body["endTime"])
        if end - start >= MAX_SCHEDULE_RANGE:
            days = (end - start).days
            return graph_error(400, "ErrorTimeIntervalTooBig",
                               f"The requested time duration specified for FreeBusyViewOptions.TimeWindow is too long. The allowed limit = 62 days; the actual limit = {days} days.")
        value = []
        for address in schedules:
            target = self.mailboxes.get(address)
            if target is None:
                value.append({"scheduleId": address, "availabilityView": "", "scheduleItems": [],
                              "error": {"message": "The requested mailbox was not found.", "responseCode": "ErrorMailRecipientNotFound"}})
                continue
            items = [
                {"isPrivate": False, "status": e.get("showAs", "busy"), "subject": e.get("subject"),
                 "start": graph_time(parse_graph_time(e["start"])), "end": graph_time(parse_graph_time(e["end"]))}
                for e in target.default.events.values()
                if not e.get("isCancelled") and parse_graph_time(e["start"]) < end and parse_graph_time(e["end"]) > start
            ]
            value.append({"scheduleId": address, "availabilityView": "", "scheduleItems": items})
        return Response(200, {"@odata.context": f"{self.graph_url}/$metadata#Collection(microsoft.graph.scheduleInformation)", "value": value})

    def _new_event(self, mailbox: Mailbox, body: dict) -> dict:
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
        event_id = graph_id("AAMkAGI2TG93AAA")
        event = {
            "@odata.etag": f'W/"{secrets.token_urlsafe(8)}"', "id": event_id, "createdDateTime": now,
            "lastModifiedDateTime": now, "changeKey": secrets.token_urlsafe(8), "categories": [],
            "transactionId": None, "originalStartTimeZone": "UTC", "originalEndTimeZone": "UTC",
            "iCalUId": "040000008200E00074C5B7101A82E008" + secrets.token_hex(28).upper(),
            "reminderMinutesBeforeStart": 15, "isReminderOn": True, "hasAttachments": False,
            "subject": "", "bodyPreview": "", "importance": "normal", "sensitivity": "normal", "isAllDay": False,
            "isCancelled": False, "isOrganizer": True, "responseRequested": True, "seriesMasterId": None,
            "showAs": "busy", "type": "singleInstance",
            "webLink": f"https://outlook.office365.com/owa/?itemid={event_id}&exvsurl=1&path=/calendar/item",
            "onlineMeetingUrl": None, "isOnlineMeeting": False, "onlineMeetingProvider": "unknown",
            "allowNewTimeProposals": True, "isDraft": False,
            "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
            "body": {"contentType": "html", "content": ""}, "location": {"displayName": ""}, "attendees": [],
            "organizer": {"emailAddress": {"name": mailbox.name, "address": mailbox.email}}, "onlineMeeting": None,
        }
        self._apply(event, body)
        return event

    def _apply(self, event: dict, body: dict) -> None:
        for key in ("start", "end"):
            if key in body:
                try:
                    value = parse_graph_time(body[key])
                except (KeyError, ValueError, TypeError):
                    raise HTTPFault(graph_error(400, "ErrorInvalidRequest", "Your request can't be completed. The start or end time is invalid."))
                event[key] = graph_time(value)
        for key, value in body.items():
            if key in ("start", "end", "id", "iCalUId"):
                continue
            if key == "attendees":
                value = [{"type": a.get("type", "required"), "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                          "emailAddress": {"name": a["emailAddress"].get("name") or a["emailAddress"]["address"],
                                           "address": a["emailAddress"]["address"]}} for a in value]
            event[key] = value
        if event.get("isOnlineMeeting") and not event.get("onlineMeeting"):
            event["onlineMeetingProvider"] = body.get("onlineMeetingProvider") or "teamsForBusiness"
            event["onlineMeeting"] = {"joinUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{secrets.token_urlsafe(12)}%40thread.v2/0"}
        if isinstance(event.get("body"), dict):
            event["bodyPreview"] = str(event["body"].get("content") or "")[:255]
        event["lastModifiedDateTime"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
        event["_change"] = next(self.changes)

    def _forget(self, calendar: Calendar, event_id: str) -> None:
        del calendar.events[event_id]
        calendar.removed.append((next(self.changes), event_id))

    def _send(self, mailbox: Mailbox, calendar: Calendar, event: dict, kind: str) -> None:
        if not event.get("isOrganizer"):
            return
        for attendee in event.get("attendees") or []:
            address = attendee["emailAddress"]["address"]
            if address.lower() == mailbox.email.lower():
                continue
            self.invitations.append({"kind": kind, "to": address, "event": event["id"], "calendar": calendar.id,
                                     "subject": event.get("subject")})

    def create(self, request: Request, calendar_id: Optional[str]) -> Response:
        mailbox = self._mailbox(request)
        calendar = self._calendar(mailbox, calendar_id)
        if not calendar.can_edit:
            return forbidden()
        body = request.json()
        if "start" not in body or "end" not in body:
            return graph_error(400, "ErrorInvalidRequest", "Your request can't be completed. The start or end time is missing.")
        transaction = body.get("transactionId")
        if transaction:
            for c in mailbox.calendars.values():
                for existing in c.events.values():
                    if existing.get("transactionId") == transaction:
                        return Response(201, self._public(existing, self._zone(request)))
        event = self._new_event(mailbox, body)
        calendar.events[event["id"]] = event
        self._send(mailbox, calendar, event, "invitation")
        return Response(201, self._public(event, self._zone(request)),
                        {"Location": f"{self.graph_url}/users('{mailbox.oid}')/events('{event['id']}')"})

    def get_event(self, request: Request, event_id: str) -> Response:
        mailbox = self._mailbox(request)
        _, event = self._find(mailbox, event_id)
        return Response(200, self._public(event, self._zone(request)))

    def patch(self, request: Request, event_id: str) -> Response:
        mailbox = self._mailbox(request)
        calendar, event = self._find(mailbox, event_id)
        if not calendar.can_edit:
            return forbidden()
        body = request.json()
        before = json.dumps([event.get(k) for k in ("start", "end", "subject", "attendees", "location")], sort_keys=True)
        self._apply(event, body)
        after = json.dumps([event.get(k) for k in ("start", "end", "subject", "attendees", "location")], sort_keys=True)
        if before != after:
            self._send(mailbox, calendar, event, "update")
        return Response(200, self._public(event, self._zone(request)))

    def delete(self, request: Request, event_id: str) -> Response:
        mailbox = self._mailbox(request)
        calendar, event = self._find(mailbox, event_id)
        if not calendar.can_edit:
            return forbidden()
        if not event.get("isCancelled"):
            self._send(mailbox, calendar, event, "cancellation")
        self._forget(calendar, event["id"])
        return Response(204, b"")

    def cancel(self, request: Request, event_id: str) -> Response:
        mailbox = self._mailbox(request)
        calendar, event = self._find(mailbox, event_id)
        if not event.get("isOrganizer"):
            return graph_error(400, "ErrorAccessDenied", "Your request can't be completed. You need to be an organizer to cancel a meeting.")
        self._send(mailbox, calendar, event, "cancellation")
        self._forget(calendar, event["id"])
        return Response(202, b"")

    # --- calendarView/delta ---

    def calendar_view_delta(self, request: Request, calendar_id: Optional[str]) -> Response:
        mailbox = self._mailbox(request)
        calendar = self._calendar(mailbox, calendar_id)
        q = request.query
        match = re.search(r"odata\.maxpagesize=(\d+)", request.headers.get("prefer", ""))
        size = max(1, int(match.group(1))) if match else VIEW_PAGE
        token = q.get("$skiptoken") or q.get("$deltatoken")
        if token:
            state = self.delta_states.get(token)
            if state is None or state["expired"] or state["calendar"] != calendar.id:
                return graph_error(410, "SyncStateNotFound",
                                   "The sync state generation is not found. Please perform a full synchronization.")
            if q.get("$skiptoken"):
                return self._delta_page(request, mailbox, calendar, state, size)
            since, start, end = state["since"], state["start"], state["end"]
        else:
            if not q.get("startDateTime") or not q.get("endDateTime"):
                return graph_error(400, "ErrorInvalidParameter",
                                   "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.")
            since, start, end = 0, parse_query_time(q["startDateTime"]), parse_query_time(q["endDateTime"])
        now = next(self.changes)  # changes numbered after this come in the next round
        items: list[dict] = []
        for event in sorted(calendar.events.values(), key=lambda e: e.get("_change", 0)):
            if event.get("_change", 0) <= since:
                continue
            inside = parse_graph_time(event["start"]) < end and parse_graph_time(event["end"]) > start
            if inside:
                items.append({"event": event["id"]})
            elif since:  # moved out of the window since the last round
                items.append({"removed": event["id"]})
        if since:
            items.extend({"removed": event_id} for number, event_id in calendar.removed if number > since)
        state = {"calendar": calendar.id, "items": items, "offset": 0, "since": now, "start": start, "end": end,
                 "expired": False}
        return self._delta_page(request, mailbox, calendar, state, size)

    def _delta_page(self, request: Request, mailbox: Mailbox, calendar: Calendar, state: dict, size: int) -> Response:
        zone = self._zone(request)
        chunk = state["items"][state["offset"]:state["offset"] + size]
        value = []
        for item in chunk:
            event = calendar.events.get(item.get("event") or "")
            if event is None:  # deleted since the round began
                value.append({"@odata.type": "#microsoft.graph.event", "id": item.get("event") or item["removed"],
                              "@removed": {"reason": "deleted"}})
            elif "removed" in item:
                value.append({"@odata.type": "#microsoft.graph.event", "id": item["removed"], "@removed": {"reason": "deleted"}})
            else:
                value.append({"@odata.type": "#microsoft.graph.event", **self._public(event, zone)})
        base = f"{self.graph_url}/me/calendars/{calendar.id}/calendarView/delta"
        body: dict[str, Any] = {"@odata.context": f"{self.graph_url}/$metadata#Collection(event)", "value": value}
        token = secrets.token_urlsafe(24)
        following = dict(state, offset=state["offset"] + size)
        if following["offset"] < len(state["items"]):
            self.delta_states[token] = following
            body["@odata.nextLink"] = base + "?" + urlencode({"$skiptoken": token}, safe="$")
        else:
            self.delta_states[token] = {**state, "items": [], "offset": 0}
            body["@odata.deltaLink"] = base + "?" + urlencode({"$deltatoken": token}, safe="$")
        return Response(200, body)

    # --- subscriptions (change notifications) ---

    SUBSCRIPTION_MAX = timedelta(minutes=4230)  # Outlook event resources

    def _validate_url(self, url: str) -> bool:
        """Graph's handshake: POST url?validationToken=...; 200 text/plain with the token
        within 10 seconds, or the subscription is refused."""
        import requests

        token = "Validation: Testing client application reachability for subscription Request-Id: " + str(uuid.uuid4())
        session = requests.Session()
        session.trust_env = False
        record = {"url": url, "token": token, "status": None, "answer": None}
        self.validations.append(record)
        try:
            answer = session.post(url, params={"validationToken": token}, headers={"Content-Type": "text/plain"}, timeout=10)
        except requests.RequestException as error:
            record["answer"] = str(error)
            return False
        record["status"], record["answer"] = answer.status_code, answer.text
        return (answer.status_code == 200 and answer.text == token
                and answer.headers.get("Content-Type", "").startswith("text/plain"))

    def _expiry(self, value: Optional[str]) -> datetime:
        if not value:
            raise HTTPFault(graph_error(400, "InvalidRequest", "expirationDateTime is required."))
        when = parse_query_time(value)
        now = datetime.now(timezone.utc)
        if when <= now or when > now + self.SUBSCRIPTION_MAX:
            raise HTTPFault(graph_error(400, "InvalidRequest",
                                        "Subscription expiration can only be 4230 minutes in the future."))
        return when

    def _subscription_public(self, sub: dict) -> dict:
        return {k: v for k, v in sub.items() if k not in ("mailbox", "deleted")}

    def subscription_create(self, request: Request) -> Response:
        mailbox = self._mailbox(request)
        body = request.json()
        for name in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
            if not body.get(name):
                return graph_error(400, "InvalidRequest", f"{name} is required.")
        if len(body.get("clientState") or "") > 128:
            return graph_error(400, "InvalidRequest", "clientState is longer than 128 characters.")
        expires = self._expiry(body["expirationDateTime"])
        for url in dict.fromkeys(filter(None, (body["notificationUrl"], body.get("lifecycleNotificationUrl")))):
            if not self._validate_url(url):
                return graph_error(400, "ValidationError", "Subscription validation request failed. Notification "
                                   "endpoint must respond with 200 OK to validation request.")
        sub = {"@odata.context": f"{self.graph_url}/$metadata#subscriptions/$entity", "id": str(uuid.uuid4()),
               "resource": body["resource"], "changeType": body["changeType"], "clientState": body.get("clientState"),
               "notificationUrl": body["notificationUrl"], "lifecycleNotificationUrl": body.get("lifecycleNotificationUrl"),
               "expirationDateTime": expires.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"), "mailbox": mailbox.email,
               "deleted": False}
        self.subscriptions[sub["id"]] = sub
        return Response(201, self._subscription_public(sub))

    def subscription_patch(self, request: Request, subscription_id: str) -> Response:
        mailbox = self._mailbox(request)
        sub = self.subscriptions.get(unquote(subscription_id))
        if sub is None or sub["deleted"] or sub["mailbox"] != mailbox.email:
            return item_not_found()
        expires = self._expiry(request.json().get("expirationDateTime"))
        sub["expirationDateTime"] = expires.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
        return Response(200, self._subscription_public(sub))

    def subscription_delete(self, request: Request, subscription_id: str) -> Response:
        mailbox = self._mailbox(request)
        sub = self.subscriptions.get(unquote(subscription_id))
        if sub is None or sub["deleted"] or sub["mailbox"] != mailbox.email:
            return item_not_found()
        sub["deleted"] = True
        return Response(204, b"")

    def live_subscriptions(self) -> list[dict]:
        return [s for s in self.subscriptions.values() if not s["deleted"]]

    def notify(self, subscription_id: str, *, lifecycle_event: Optional[str] = None, client_state: Optional[str] = None):
        """What Graph POSTs: a change notification, or a lifecycle one (to
        lifecycleNotificationUrl) when lifecycle_event is given."""
        import requests

        sub = self.subscriptions[subscription_id]
        item = {"subscriptionId": sub["id"], "subscriptionExpirationDateTime": sub["expirationDateTime"],
                "clientState": sub["clientState"] if client_state is None else client_state,
                "tenantId": TENANT_ID}
        if lifecycle_event:
            item["lifecycleEvent"] = lifecycle_event
            url = sub.get("lifecycleNotificationUrl") or sub["notificationUrl"]
        else:
            item.update(changeType="updated", resource=sub["resource"], resourceData={"@odata.type": "#Microsoft.Graph.Event"})
            url = sub["notificationUrl"]
        session = requests.Session()
        session.trust_env = False
        return session.post(url, json={"value": [item]}, timeout=10)
