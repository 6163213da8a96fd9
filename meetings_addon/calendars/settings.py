"""Where the Google and Microsoft adapters find their endpoints and app credentials.

Order: the environment first (standalone, tests, or a bench that wants to override),
then the site's settings through the ports — Frappe's own Google Settings for Google's
client id and secret (as Frappe's Google integrations use), Meetings Settings for the
rest — then the providers' real endpoints.

| what | environment | Meetings Settings field | default |
|---|---|---|---|
| Google OAuth base | MEETINGS_GOOGLE_OAUTH_URL | google_oauth_url | accounts.google.com / oauth2.googleapis.com |
| Google API base | MEETINGS_GOOGLE_API_URL | google_api_url | https://www.googleapis.com |
| Google client | MEETINGS_GOOGLE_CLIENT_ID / _SECRET | (Google Settings client_id / client_secret) | |
| Microsoft authority | MEETINGS_MS_AUTHORITY | microsoft_authority | https://login.microsoftonline.com/common |
| Graph base | MEETINGS_GRAPH_URL | graph_url | https://graph.microsoft.com/v1.0 |
| Microsoft client | MEETINGS_MS_CLIENT_ID / _SECRET | microsoft_client_id / microsoft_client_secret | |
| Zoom account | MEETINGS_ZOOM_ACCOUNT_ID | zoom_account_id | |
| Zoom client | MEETINGS_ZOOM_CLIENT_ID / _SECRET | zoom_client_id / zoom_client_secret | |
| Zoom OAuth base | MEETINGS_ZOOM_OAUTH_URL | zoom_oauth_url | https://zoom.us |
| Zoom API base | MEETINGS_ZOOM_API_URL | zoom_api_url | https://api.zoom.us/v2 |
| extra CA bundle | MEETINGS_CA_BUNDLE | | the system's |

MEETINGS_CA_BUNDLE names a PEM file of certificate authorities to trust for provider
calls instead of the default ones (the test emulators' CA, or a TLS-inspecting proxy's).
"""

from __future__ import annotations

import os
from typing import Any, Optional

from ..ports import Services

SETTINGS = "Meetings Settings"
GOOGLE_SETTINGS = "Google Settings"  # Frappe's own single doctype (frappe.integrations)


def _single(services: Services, doctype: str) -> dict[str, Any]:
    try:
        return services.store.get(doctype, doctype) or {}
    except Exception:  # noqa: BLE001 - the doctype does not exist on this host
        return {}


def setting(services: Services, env: str, field: Optional[str] = None, default: Optional[str] = None) -> Optional[str]:
    value = os.environ.get(env)
    if value:
        return value.strip()
    if field:
        value = _single(services, SETTINGS).get(field)
        if value:
            return str(value).strip()
    return default


def secret_setting(services: Services, env: str, doctype: str, field: str) -> Optional[str]:
    value = os.environ.get(env)
    if value:
        return value.strip()
    if services.secrets is None:
        return None
    try:
        return services.secrets.get(doctype, doctype, field)
    except Exception:  # noqa: BLE001 - no such doctype here
        return None


def ca_bundle() -> Optional[str]:
    return os.environ.get("MEETINGS_CA_BUNDLE") or None


def google_client(services: Services) -> tuple[Optional[str], Optional[str]]:
    """(client id, client secret): the environment, else Frappe's Google Settings."""
    client_id = os.environ.get("MEETINGS_GOOGLE_CLIENT_ID")
    if client_id:
        return client_id.strip(), (os.environ.get("MEETINGS_GOOGLE_CLIENT_SECRET") or "").strip()
    google = _single(services, GOOGLE_SETTINGS)
    if google.get("client_id"):
        return google["client_id"], secret_setting(services, "MEETINGS_GOOGLE_CLIENT_SECRET", GOOGLE_SETTINGS, "client_secret")
    return None, None


def microsoft_client(services: Services) -> tuple[Optional[str], Optional[str]]:
    client_id = setting(services, "MEETINGS_MS_CLIENT_ID", "microsoft_client_id")
    secret = secret_setting(services, "MEETINGS_MS_CLIENT_SECRET", SETTINGS, "microsoft_client_secret")
    return client_id, secret


def zoom_credentials(services: Services) -> tuple[Optional[str], Optional[str], Optional[str]]:
    """(account id, client id, client secret) of the Zoom Server-to-Server OAuth app."""
    account_id = setting(services, "MEETINGS_ZOOM_ACCOUNT_ID", "zoom_account_id")
    client_id = setting(services, "MEETINGS_ZOOM_CLIENT_ID", "zoom_client_id")
    secret = secret_setting(services, "MEETINGS_ZOOM_CLIENT_SECRET", SETTINGS, "zoom_client_secret")
    return account_id, client_id, secret


def zoom_endpoints(services: Services) -> tuple[str, str]:
    """(OAuth base, API base) without a trailing slash."""
    oauth = setting(services, "MEETINGS_ZOOM_OAUTH_URL", "zoom_oauth_url", "https://zoom.us")
    api = setting(services, "MEETINGS_ZOOM_API_URL", "zoom_api_url", "https://api.zoom.us/v2")
    return oauth.rstrip("/"), api.rstrip("/")


def requests_session():
    """A requests.Session for provider calls that trusts MEETINGS_CA_BUNDLE when set.

    requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment override a
    session's `verify`: with an explicit bundle the session ignores the environment.
    """
    import requests

    session = requests.Session()
    bundle = ca_bundle()
    if bundle:
        session.verify = bundle
        session.trust_env = False
    return session


def calendar_name(connection, calendar_id: str) -> str:
    """The name a person gave a connected calendar, for messages; its id otherwise."""
    for row in connection.get("calendars") or []:
        if row.get("calendar_id") == calendar_id:
            return row.get("calendar_name") or calendar_id
    return calendar_id
