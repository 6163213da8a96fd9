"""Connecting a Microsoft 365 account: msal's auth code flow (state, PKCE, nonce) with a
ConfidentialClientApplication. initiate_auth_code_flow's flow dict stays on the server,
keyed by its state, for ten minutes; the callback redeems it with
acquire_token_by_auth_code_flow and keeps msal's SerializableTokenCache (encrypted, the
connection's `token_cache`).

start(services, user) -> the URL to send the user's browser to.
callback(services, params) -> the saved Calendar Connection.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Optional

from ..calendars import microsoft
from ..errors import MeetingsError
from ..ports import Doc, Services
from . import oauth

PROVIDER = "Microsoft"


def start(services: Services, user: str, *, redirect_uri: Optional[str] = None, login_hint: Optional[str] = None) -> str:
    import msal

    cfg = microsoft.config(services)
    redirect = redirect_uri or oauth.redirect_uri(services, "microsoft")
    app = microsoft.new_app(services, cfg, msal.SerializableTokenCache())
    with warnings.catch_warnings():
        # msal recommends response_mode=form_post; the callback is a GET with the code in
        # the query (as Google's), which PKCE, the client secret and the one-time state
        # protect, and which keeps the user's session cookie (SameSite=Lax) on the way back.
        warnings.filterwarnings("ignore", message="response_mode='form_post' is recommended")
        flow = app.initiate_auth_code_flow(
            microsoft.SCOPES, redirect_uri=redirect, prompt="select_account", login_hint=login_hint
        )
    if "error" in flow:
        raise MeetingsError(f"Microsoft sign-in could not start: {flow.get('error_description') or flow['error']}")
    oauth.keep_flow(services, flow["state"], {"provider": PROVIDER, "user": user, "flow": flow})
    return flow["auth_uri"]


def callback(services: Services, params: Mapping[str, Any]) -> Doc:
    import msal

    pending = oauth.take_flow(services, params.get("state"), PROVIDER)
    if params.get("error"):
        raise MeetingsError(
            f"Microsoft did not connect the calendar: {params.get('error')} {params.get('error_description') or ''}".strip()
        )
    cfg = microsoft.config(services)
    cache = msal.SerializableTokenCache()
    app = microsoft.new_app(services, cfg, cache)
    response = {key: value for key, value in params.items() if isinstance(value, str)}
    try:
        result = app.acquire_token_by_auth_code_flow(pending["flow"], response, scopes=microsoft.SCOPES)
    except ValueError as error:  # state mismatch or a malformed answer
        raise MeetingsError(f"Microsoft sign-in failed ({error}): start connecting the calendar again") from error
    if "error" in result:
        description = (result.get("error_description") or "").splitlines()[0] if result.get("error_description") else ""
        raise MeetingsError(f"Microsoft refused the sign-in ({result['error']}: {description}): start again")
    claims = result.get("id_token_claims") or {}
    # List the calendars on the new tokens before anything is stored.
    reader = _CacheCalendar(services, {"name": None, "provider": PROVIDER, "user": pending["user"]},
                            microsoft=cfg, token_cache=cache.serialize())
    me = reader.account()
    calendars = reader.list_calendars()
    account = me.get("mail") or me.get("userPrincipalName") or claims.get("preferred_username")
    return oauth.save_connection(
        services, pending["user"], PROVIDER, account, {"token_cache": reader.serialized_cache()}, calendars,
    )


class _CacheCalendar(microsoft.MicrosoftCalendar):
    """The adapter on a token cache held in memory (before the connection is saved)."""

    def _fail(self, message, calendar_id=None):
        from ..errors import CalendarUnavailable

        raise CalendarUnavailable(message)


def disconnect(services: Services, connection: Mapping[str, Any]) -> None:
    """Forget the tokens. Microsoft has no endpoint for an app to revoke a delegated
    refresh token: the user (or an admin) revokes the app's consent in their account."""
    if services.secrets is not None and connection.get("name"):
        for field in ("token_cache", "access_token", "refresh_token"):
            services.secrets.set("Calendar Connection", connection["name"], field, None)
