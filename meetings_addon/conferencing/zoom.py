"""Zoom meetings through Zoom's REST API (v2) with a Server-to-Server OAuth app.

- Token: POST {oauth}/oauth/token?grant_type=account_credentials&account_id=... with HTTP
  Basic client_id:client_secret. The answer ({access_token, expires_in: 3599, ...}) has
  no refresh token: a new one is asked for when it expires. It is kept in the cache
  port (shared by the web workers) until a minute before it expires; a 401 from the API
  (code 124, "Invalid access token.") drops it and the call is tried once more with a
  fresh one.
- Meetings: POST /users/{host}/meetings (a scheduled meeting, type 2) for the host's own
  Zoom user when the account has one (their email), else for the app's owner
  (/users/me: Zoom answers 404 code 1001 "User does not exist"); PATCH /meetings/{id}
  moves it (same join link); DELETE /meetings/{id} (404 code 3001: gone already).
- Creating is idempotent per booking: the agenda ends with a reference line (the
  booking's name and iCalendar UID) and, before every POST, the user's upcoming meetings
  (GET /users/{host}/meetings?type=upcoming, paged by next_page_token) are searched for
  it. A lost answer (read timeout, 5xx: Zoom may have made the meeting) is not retried
  in the call; the job runs again later and finds the meeting instead of making another.
- Errors: 429 and 5xx are retried with backoff honouring Retry-After (calendars/retry.py),
  then raise retry.ProviderBusy for the job runner; refused credentials and other 4xx
  raise ZoomError (permanent: retrying does not help). The create POST is retried in the
  call only on 429 and on connection errors before the request was sent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Mapping, Optional
from urllib.parse import quote

from ..calendars import retry, settings
from ..errors import MeetingsError
from ..ports import Services

TIMEOUT = 20  # seconds per HTTP request
TOKEN_MARGIN = 60  # seconds before expiry a cached token is no longer used
INVALID_TOKEN = 124
USER_NOT_FOUND = 1001
MEETING_NOT_FOUND = 3001
SCHEDULED = 2  # Zoom's meeting type for a meeting at a fixed time
AGENDA_LIMIT = 2000  # Zoom's maximum agenda length
PAGE_SIZE = 300  # Zoom's maximum page of the meetings list


class ZoomError(MeetingsError):
    """Zoom refused the request for good (credentials, scopes, a bad field)."""

    def __init__(self, message: str, *, status: Optional[int] = None, code: Optional[int] = None):
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class ZoomConfig:
    account_id: str
    client_id: str
    client_secret: str
    oauth_url: str
    api_url: str

    @property
    def cache_key(self) -> str:
        digest = hashlib.sha256(f"{self.oauth_url}|{self.account_id}|{self.client_id}".encode()).hexdigest()[:24]
        return f"meetings:zoom-token:{digest}"


def config(services: Services) -> Optional[ZoomConfig]:
    """The Zoom app of Meetings Settings (or the environment); None when incomplete."""
    account_id, client_id, secret = settings.zoom_credentials(services)
    if not (account_id and client_id and secret):
        return None
    oauth_url, api_url = settings.zoom_endpoints(services)
    return ZoomConfig(account_id, client_id, secret, oauth_url, api_url)


def configured(services: Services) -> bool:
    return config(services) is not None


@dataclass(frozen=True)
class ZoomMeeting:
    id: str
    join_url: str


def _utc(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def reference_line(booking: str, ical_uid: Optional[str]) -> str:
    """The agenda's last line: which booking made the meeting (create_meeting finds it by it)."""
    return f"Booking reference: {booking} {ical_uid or ''}".rstrip()


def meeting_body(topic: str, start: datetime, minutes: int, agenda: str = "", reference: str = "") -> dict[str, Any]:
    """A scheduled meeting in UTC; the invitee may join before the host (a booked call
    should not wait in an empty lobby); Zoom's own emails stay off (ours go out). The
    reference line survives the agenda's length limit."""
    agenda = agenda or ""
    if reference:
        room = AGENDA_LIMIT - len(reference) - 2
        agenda = f"{agenda[:room].rstrip()}\n\n{reference}" if agenda.strip() else reference
    return {
        "topic": (topic or "Meeting")[:200],
        "type": SCHEDULED,
        "start_time": _utc(start),
        "duration": int(minutes),
        "timezone": "UTC",
        "agenda": agenda[:AGENDA_LIMIT],
        "settings": {
            "join_before_host": True,
            "waiting_room": False,
            "host_video": True,
            "participant_video": True,
            "email_notification": False,
        },
    }


class ZoomClient:
    def __init__(self, services: Services, cfg: ZoomConfig):
        self.services = services
        self.cfg = cfg
        self._token: Optional[str] = None
        self._session = None

    @property
    def session(self):
        if self._session is None:
            self._session = settings.requests_session()
        return self._session

    # --- token ---

    def _cached(self) -> Optional[str]:
        cache = self.services.cache
        return self._token or (cache.get(self.cfg.cache_key) if cache is not None else None)

    def _forget(self) -> None:
        self._token = None
        if self.services.cache is not None:
            self.services.cache.set(self.cfg.cache_key, None, 1)

    def access_token(self, *, fresh: bool = False) -> str:
        if not fresh:
            cached = self._cached()
            if cached:
                return cached
        import requests

        try:
            answer = self.session.post(
                f"{self.cfg.oauth_url}/oauth/token",
                params={"grant_type": "account_credentials", "account_id": self.cfg.account_id},
                auth=(self.cfg.client_id, self.cfg.client_secret),
                timeout=TIMEOUT,
            )
        except requests.RequestException as error:
            raise retry.ProviderBusy(f"Zoom sign-in unreachable: {error}") from error
        if answer.status_code == 429 or answer.status_code >= 500:
            raise retry.ProviderBusy(
                f"Zoom sign-in is busy ({answer.status_code}); retrying later",
                retry_after=retry.parse_retry_after(answer.headers.get("Retry-After")),
                status=answer.status_code,
            )
        body = _json(answer)
        if answer.status_code != 200 or not body.get("access_token"):
            reason = body.get("reason") or body.get("error_description") or body.get("error") or answer.text[:200]
            raise ZoomError(f"Zoom refused the app's credentials ({reason}): check Zoom in Meetings Settings",
                            status=answer.status_code)
        self._token = body["access_token"]
        lifetime = int(body.get("expires_in") or 3600) - TOKEN_MARGIN
        if self.services.cache is not None and lifetime > 0:
            self.services.cache.set(self.cfg.cache_key, self._token, lifetime)
        return self._token

    # --- calls ---

    def _call(self, method: str, path: str, *, missing_ok: bool = False, **kwargs: Any) -> Optional[dict[str, Any]]:
        import requests

        for attempt in (1, 2):
            try:
                token = self.access_token(fresh=attempt == 2)
            except retry.ProviderBusy as busy:
                busy.unsent = True  # the API request itself was not made
                raise
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            try:
                answer = self.session.request(method, self.cfg.api_url + path, headers=headers, timeout=TIMEOUT, **kwargs)
            except requests.RequestException as error:
                busy = retry.ProviderBusy(f"Zoom unreachable: {error}")
                busy.unsent = _unsent(error)
                raise busy from error
            if answer.status_code != 401:
                break
            self._forget()  # expired or revoked: one more try with a new token
        status = answer.status_code
        if status < 300:
            return _json(answer) if answer.content else {}
        body = _json(answer)
        code, message = body.get("code"), body.get("message") or answer.text[:200]
        if status == 429 or status >= 500:
            raise retry.ProviderBusy(
                f"Zoom is busy ({status} {message}); retrying later",
                retry_after=retry.parse_retry_after(answer.headers.get("Retry-After")),
                status=status,
            )
        if status == 404 and missing_ok:
            return None
        raise ZoomError(f"Zoom answered {status}: {message}", status=status, code=code)

    def _write(self, method: str, path: str, **kwargs: Any) -> Optional[dict[str, Any]]:
        return retry.with_retries(lambda: self._call(method, path, **kwargs), retry.WRITE)

    def create_meeting(self, body: Mapping[str, Any], user: Optional[str] = None, reference: str = "") -> ZoomMeeting:
        """The meeting for `user` (an email of the Zoom account) or, when Zoom does not
        know them, for the app's owner: the one an earlier attempt made (its agenda holds
        `reference`) or a new one."""
        owners = ([quote(user, safe="@")] if user else []) + ["me"]
        for owner in owners:
            try:
                found = self.find_meeting(owner, body, reference) if reference else None
                return found or self._create(owner, body)
            except ZoomError as error:
                if owner == "me" or (error.code != USER_NOT_FOUND and error.status != 404):
                    raise
        raise AssertionError("unreachable")

    def _create(self, owner: str, body: Mapping[str, Any]) -> ZoomMeeting:
        def attempt() -> Optional[dict[str, Any]]:
            try:
                return self._call("POST", f"/users/{owner}/meetings", json=dict(body))
            except retry.ProviderBusy as busy:
                if busy.status == 429 or getattr(busy, "unsent", False):
                    raise  # Zoom made nothing: safe to send again
                raise _AnswerLost(busy) from busy

        try:
            created = retry.with_retries(attempt, retry.WRITE)
        except _AnswerLost as lost:
            # Zoom may have made the meeting: the job runs again later and finds it.
            raise lost.busy from lost.busy.__cause__
        return ZoomMeeting(id=str(created["id"]), join_url=created["join_url"])

    def find_meeting(self, owner: str, body: Mapping[str, Any], reference: str) -> Optional[ZoomMeeting]:
        """The owner's upcoming meeting whose agenda holds `reference`. The list's items
        carry the agenda; one at the same start with the same topic but without the line
        there (a shortened agenda) is read in full to be sure."""
        params: dict[str, Any] = {"type": "upcoming", "page_size": PAGE_SIZE}
        while True:
            page = self._write("GET", f"/users/{owner}/meetings", params=dict(params)) or {}
            for item in page.get("meetings") or []:
                if reference in (item.get("agenda") or ""):
                    return ZoomMeeting(id=str(item["id"]), join_url=item["join_url"])
                if item.get("start_time") == body.get("start_time") and item.get("topic") == body.get("topic"):
                    full = self.get_meeting(str(item["id"])) or {}
                    if reference in (full.get("agenda") or ""):
                        return ZoomMeeting(id=str(item["id"]), join_url=item["join_url"])
            if not page.get("next_page_token"):
                return None
            params["next_page_token"] = page["next_page_token"]

    def update_meeting(self, meeting_id: str, body: Mapping[str, Any]) -> bool:
        """Move / retitle the meeting; False when Zoom no longer has it."""
        answer = self._write("PATCH", f"/meetings/{quote(str(meeting_id), safe='')}", json=dict(body), missing_ok=True)
        return answer is not None

    def get_meeting(self, meeting_id: str) -> Optional[dict[str, Any]]:
        return self._write("GET", f"/meetings/{quote(str(meeting_id), safe='')}", missing_ok=True)

    def delete_meeting(self, meeting_id: str) -> None:
        # 404 (code 3001, "Meeting does not exist"): deleted already, which is what we want.
        self._write("DELETE", f"/meetings/{quote(str(meeting_id), safe='')}", missing_ok=True,
                    params={"schedule_for_reminder": "false"})


class _AnswerLost(Exception):
    """Not a ProviderBusy, so with_retries lets it through: the POST is not sent again."""

    def __init__(self, busy: retry.ProviderBusy):
        super().__init__(busy.message)
        self.busy = busy


def _unsent(error: Exception) -> bool:
    """True when the request failed before it was sent (no connection could be made):
    only then can a POST be sent again without risking a second meeting."""
    import requests
    from urllib3.exceptions import NewConnectionError

    if isinstance(error, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(error.args[0] if error.args else None, "reason", None)
    return isinstance(reason, NewConnectionError)


def _json(answer) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def client(services: Services) -> Optional[ZoomClient]:
    cfg = config(services)
    return ZoomClient(services, cfg) if cfg else None


__all__ = ["ZoomClient", "ZoomConfig", "ZoomError", "ZoomMeeting", "client", "config", "configured", "meeting_body"]
