"""A stateful emulator of Zoom's Server-to-Server OAuth token endpoint and the meetings
part of Zoom's REST API v2, with Zoom's answers and error bodies.

Served paths (one HTTPS server; point the adapter at it with MEETINGS_ZOOM_OAUTH_URL =
its url and MEETINGS_ZOOM_API_URL = its url + "/v2"):

  POST   /oauth/token?grant_type=account_credentials&account_id=...   (HTTP Basic client)
  POST   /v2/users/{userId}/meetings        201 the meeting ("me" or a known user's email)
  GET    /v2/users/{userId}/meetings        200 {page_size, total_records, next_page_token, meetings: [...]}
         (type=scheduled|upcoming|live, page_size up to 300, next_page_token: Zoom's paging)
  GET    /v2/meetings/{meetingId}           200
  PATCH  /v2/meetings/{meetingId}           204
  DELETE /v2/meetings/{meetingId}           204

Errors as Zoom sends them: 401 {"code": 124, "message": "Invalid access token."} for an
unknown or expired token; 404 {"code": 1001, "message": "User does not exist: ..."} and
{"code": 3001, "message": "Meeting does not exist: ..."}; 429 with Retry-After
(`too_many_requests`, injected with `fail`); the token endpoint's 400 invalid_client.
`lose_answer` does the work and then loses the answer (a 500, or no answer in time), as
when Zoom made the meeting but the reply never came back.
"""

from __future__ import annotations

import base64
import itertools
import re
import secrets
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from .base import EmulatorServer, Fault, Request, Response, bearer

TOKEN_LIFETIME = 3599
MAX_PAGE = 300
# What the meetings list shows of each meeting (Zoom's List meetings answer).
LISTED = ("uuid", "id", "host_id", "topic", "type", "start_time", "duration", "timezone", "agenda", "created_at", "join_url")


def zoom_error(status: int, code: int, message: str, headers: Optional[dict] = None) -> Response:
    return Response(status, {"code": code, "message": message}, headers or {})


def invalid_token() -> Response:
    return zoom_error(401, 124, "Invalid access token.")


def too_many_requests(retry_after: Optional[float] = None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return zoom_error(429, 429, "You have reached the maximum per-second rate limit for this API. Try again later.", headers)


class ZoomEmulator(EmulatorServer):
    def __init__(self, cert, key, *, account_id: str = "acc-123", owner: str = "owner@team.example"):
        super().__init__(cert, key)
        self.account_id = account_id
        self.client_id = "zoom-client-" + secrets.token_hex(4)
        self.client_secret = secrets.token_urlsafe(16)
        self.owner = owner  # the app's owner: the user "me" is
        self.users: set[str] = {owner}
        self.tokens: dict[str, float] = {}  # access token -> expiry (time.time())
        self.meetings: dict[str, dict[str, Any]] = {}
        self.ids = itertools.count(81234567890)
        self.pages: dict[str, tuple[list[dict], int]] = {}  # next_page_token -> (the rest of the list, its total)
        self.lost: list[Fault] = []
        self.route("POST", r"/oauth/token", self.token)
        self.route("POST", r"/v2/users/([^/]+)/meetings", self.create_meeting)
        self.route("GET", r"/v2/users/([^/]+)/meetings", self.list_meetings)
        self.route("GET", r"/v2/meetings/(\d+)", self.get_meeting)
        self.route("PATCH", r"/v2/meetings/(\d+)", self.update_meeting)
        self.route("DELETE", r"/v2/meetings/(\d+)", self.delete_meeting)

    @property
    def api_url(self) -> str:
        return self.url + "/v2"

    # --- test helpers ---

    def expire_tokens(self) -> None:
        """Every issued token stops working (an hour passed, or the app was re-activated)."""
        with self.lock:
            self.tokens.clear()

    def add_user(self, email: str) -> None:
        self.users.add(email.lower())

    def lose_answer(self, method: str, pattern: str, response, times: int = 1) -> None:
        """The next `times` matching requests are carried out, then answered with
        response() instead (it may sleep past the client's timeout)."""
        with self.lock:
            self.lost.append(Fault(method, re.compile(pattern), response, times))

    def dispatch(self, request: Request) -> Response:
        answer = super().dispatch(request)
        with self.lock:
            fault = next((f for f in self.lost if f.times > 0 and f.method == request.method and f.pattern.search(request.path)), None)
            if fault is not None:
                fault.times -= 1
        return fault.response() if fault is not None else answer

    # --- OAuth ---

    def token(self, request: Request) -> Response:
        scheme, _, value = (request.headers.get("authorization") or "").partition(" ")
        try:
            client_id, _, secret = base64.b64decode(value).decode().partition(":") if scheme.lower() == "basic" else ("", "", "")
        except ValueError:
            client_id = secret = ""
        if (client_id, secret) != (self.client_id, self.client_secret):
            return Response(400, {"reason": "Invalid client_id or client_secret", "error": "invalid_client"})
        if request.query.get("grant_type") != "account_credentials":
            return Response(400, {"reason": "unsupported grant type", "error": "unsupported_grant_type"})
        if request.query.get("account_id") != self.account_id:
            return Response(400, {"reason": "Invalid account_id", "error": "invalid_request"})
        token = "zoom-at-" + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = time.time() + TOKEN_LIFETIME
        return Response(200, {
            "access_token": token, "token_type": "bearer", "expires_in": TOKEN_LIFETIME,
            "scope": "meeting:write:meeting:admin meeting:read:meeting:admin meeting:update:meeting:admin meeting:delete:meeting:admin",
            "api_url": "https://api.zoom.us",
        })

    def _authorized(self, request: Request) -> Optional[Response]:
        token = bearer(request)
        expiry = self.tokens.get(token or "")
        if not expiry or expiry < time.time():
            return invalid_token()
        return None

    # --- meetings ---

    def _user(self, request: Request, user: str) -> tuple[Optional[str], Optional[Response]]:
        """The Zoom user a /users/{userId}/... path names ("me": the app's owner), or the
        error Zoom answers: a bad token, an unknown user."""
        refused = self._authorized(request)
        if refused:
            return None, refused
        from urllib.parse import unquote

        user = unquote(user).lower()
        host = self.owner if user == "me" else user
        if host not in self.users:
            return None, zoom_error(404, 1001, f"User does not exist: {user}.")
        return host, None

    def create_meeting(self, request: Request, user: str) -> Response:
        host, refused = self._user(request, user)
        if refused:
            return refused
        body = request.json()
        if not body.get("topic") or int(body.get("type") or 2) not in (1, 2, 3, 8):
            return zoom_error(400, 300, "Validation Failed.")
        meeting_id = str(next(self.ids))
        password = secrets.token_urlsafe(6)
        meeting = {
            "uuid": base64.b64encode(secrets.token_bytes(16)).decode(), "id": int(meeting_id), "host_id": secrets.token_hex(8),
            "host_email": host, "topic": body["topic"], "type": int(body.get("type") or 2), "status": "waiting",
            "start_time": body.get("start_time"), "duration": int(body.get("duration") or 30),
            "timezone": body.get("timezone") or "UTC", "agenda": body.get("agenda") or "",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "start_url": f"https://us05web.zoom.us/s/{meeting_id}?zak=" + secrets.token_urlsafe(16),
            "join_url": f"https://us05web.zoom.us/j/{meeting_id}?pwd={password}",
            "password": password, "settings": dict(body.get("settings") or {}), "pre_schedule": False,
        }
        with self.lock:
            self.meetings[meeting_id] = meeting
        return Response(201, meeting)

    def list_meetings(self, request: Request, user: str) -> Response:
        host, refused = self._user(request, user)
        if refused:
            return refused
        try:
            size = min(MAX_PAGE, max(1, int(request.query.get("page_size") or 30)))
        except ValueError:
            return zoom_error(400, 300, "Invalid field.")
        token = request.query.get("next_page_token")
        with self.lock:
            if token:
                if token not in self.pages:
                    return zoom_error(400, 300, "Invalid next_page_token.")
                rest, total = self.pages.pop(token)
            else:
                rest = self._listed(host, request.query.get("type") or "scheduled")
                total = len(rest)
            page, rest = rest[:size], rest[size:]
            following = ""
            if rest:
                following = secrets.token_urlsafe(24)
                self.pages[following] = (rest, total)
        return Response(200, {"page_size": size, "total_records": total, "next_page_token": following, "meetings": page})

    def _listed(self, host: str, kind: str) -> list[dict]:
        now = datetime.now(timezone.utc)

        def ends(meeting: dict) -> datetime:
            start = datetime.strptime(meeting["start_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
            return start + timedelta(minutes=int(meeting.get("duration") or 0))

        chosen = [m for m in self.meetings.values() if m["host_email"] == host and m.get("start_time")]
        if kind in ("upcoming", "upcoming_meetings", "live"):
            chosen = [m for m in chosen if ends(m) > now]  # upcoming includes live ones
        chosen.sort(key=lambda m: m["start_time"])
        return [{key: m[key] for key in LISTED if key in m} for m in chosen]

    def _meeting(self, request: Request, meeting_id: str) -> tuple[Optional[dict], Optional[Response]]:
        refused = self._authorized(request)
        if refused:
            return None, refused
        meeting = self.meetings.get(meeting_id)
        if meeting is None:
            return None, zoom_error(404, 3001, f"Meeting does not exist: {meeting_id}.")
        return meeting, None

    def get_meeting(self, request: Request, meeting_id: str) -> Response:
        meeting, refused = self._meeting(request, meeting_id)
        return refused or Response(200, meeting)

    def update_meeting(self, request: Request, meeting_id: str) -> Response:
        meeting, refused = self._meeting(request, meeting_id)
        if refused:
            return refused
        body = request.json()
        for key in ("topic", "start_time", "duration", "timezone", "agenda"):
            if key in body:
                meeting[key] = body[key]
        meeting["settings"].update(body.get("settings") or {})
        return Response(204, b"")

    def delete_meeting(self, request: Request, meeting_id: str) -> Response:
        meeting, refused = self._meeting(request, meeting_id)
        if refused:
            return refused
        with self.lock:
            del self.meetings[meeting_id]
        return Response(204, b"")
