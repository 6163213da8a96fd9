"""Connecting a Google account: OAuth 2.0 web flow (authorization code, state, PKCE S256,
offline access, consent prompt so a refresh token always comes back) with
google-auth-oauthlib. The flow (state, PKCE verifier) stays on the server, keyed by its
state, for ten minutes.

start(services, user) -> the URL to send the user's browser to.
callback(services, params) -> the saved Calendar Connection, from the query string the
provider redirected back with (state, code | error).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from ..calendars import google
from ..errors import InvalidInput, MeetingsError
from ..ports import Doc, Services
from . import oauth

PROVIDER = "Google"


def _flow(services: Services, cfg: google.GoogleConfig, redirect: str, code_verifier: Optional[str] = None):
    from google_auth_oauthlib.flow import Flow

    if not cfg.client_id or not cfg.client_secret:
        raise oauth.NotConfigured(
            "Google is not set up on this site: enter the OAuth client id and secret in Google Settings "
            "(or MEETINGS_GOOGLE_CLIENT_ID / MEETINGS_GOOGLE_CLIENT_SECRET)"
        )
    flow = Flow.from_client_config(
        {"web": {"client_id": cfg.client_id, "client_secret": cfg.client_secret,
                 "auth_uri": cfg.auth_uri, "token_uri": cfg.token_uri}},
        scopes=google.SCOPES,
        redirect_uri=redirect,
        code_verifier=code_verifier,
        autogenerate_code_verifier=True,
    )
    if cfg.ca_bundle:
        flow.oauth2session.verify = cfg.ca_bundle
        flow.oauth2session.trust_env = False
    return flow


def start(services: Services, user: str, *, redirect_uri: Optional[str] = None, login_hint: Optional[str] = None) -> str:
    """The Google consent URL for `user`; the pending flow is kept server-side."""
    cfg = google.config(services)
    redirect = redirect_uri or oauth.redirect_uri(services, "google")
    flow = _flow(services, cfg, redirect)
    extra = {"login_hint": login_hint} if login_hint else {}
    url, state = flow.authorization_url(access_type="offline", prompt="consent", **extra)
    oauth.keep_flow(services, state, {
        "provider": PROVIDER, "user": user, "redirect_uri": redirect, "code_verifier": flow.code_verifier,
    })
    return url


def callback(services: Services, params: Mapping[str, Any]) -> Doc:
    """Finish the flow: exchange the code, list the calendars, save the connection."""
    pending = oauth.take_flow(services, params.get("state"), PROVIDER)
    if params.get("error"):
        raise MeetingsError(f"Google did not connect the calendar: {params.get('error')}")
    code = params.get("code")
    if not isinstance(code, str) or not code:
        raise InvalidInput("code", "missing from Google's answer: start connecting the calendar again")
    cfg = google.config(services)
    flow = _flow(services, cfg, pending["redirect_uri"], code_verifier=pending["code_verifier"])
    token = _fetch_token(flow, code)
    access, refresh = token.get("access_token"), token.get("refresh_token")
    granted = set(token.get("scope") or []) if not isinstance(token.get("scope"), str) else set(token["scope"].split())
    if granted and not set(google.SCOPES) <= granted:
        raise MeetingsError("Google: allow access to the calendars and their events to connect this account")
    # List the calendars with the new tokens before anything is stored.
    reader = _TokenCalendar(services, {"name": None, "provider": PROVIDER, "user": pending["user"]},
                            google=cfg, access_token=access, refresh_token=refresh)
    calendars = reader.list_calendars()
    primary = next((c["calendar_id"] for c in calendars if c.get("is_default")), None)
    return oauth.save_connection(
        services, pending["user"], PROVIDER, primary,
        {"access_token": reader.current_token() or access, "refresh_token": refresh},
        calendars,
    )


def _fetch_token(flow, code: str) -> dict[str, Any]:
    from oauthlib.oauth2.rfc6749.errors import OAuth2Error

    try:
        # requests-oauthlib before 2.0 passes verify=True to the request, which beats the
        # session's CA bundle: hand the bundle to the call itself.
        return dict(flow.fetch_token(code=code, verify=flow.oauth2session.verify))
    except Warning as changed:  # oauthlib: the user granted fewer scopes than asked
        token = getattr(changed, "token", None)
        if token is None:
            raise
        return dict(token)
    except OAuth2Error as error:
        raise MeetingsError(f"Google refused the sign-in ({error.error}: {error.description}): start again") from error


class _TokenCalendar(google.GoogleCalendar):
    """The adapter on tokens held in memory (before the connection is saved)."""

    def __init__(self, services, connection, *, google, access_token, refresh_token):
        super().__init__(services, connection, google=google)
        self._tokens = {"access_token": access_token, "refresh_token": refresh_token}

    def _secret(self, field: str) -> Optional[str]:
        return self._tokens.get(field)

    def _save_token(self) -> None:
        pass

    def current_token(self) -> Optional[str]:
        return getattr(self._credentials, "token", None)

    def _fail(self, message, calendar_id=None):
        from ..errors import CalendarUnavailable

        raise CalendarUnavailable(message)


def disconnect(services: Services, connection: Mapping[str, Any]) -> None:
    """Revoke the refresh token at Google (where it can) and forget the tokens."""
    google.revoke(services, connection)
    if services.secrets is not None and connection.get("name"):
        for field in ("access_token", "refresh_token"):
            services.secrets.set("Calendar Connection", connection["name"], field, None)
