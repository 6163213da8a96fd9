"""A user's calendar connections (connections/manage.py), for signed-in users only.

GET  list_connections, get_connection(connection), available_calendars(connection)
POST add_caldav(caldav_url, caldav_username, caldav_password),
     set_calendars(connection, calendars, default_calendar), remove_calendar(connection,
     calendar_id), disconnect(connection)
GET  google_start, microsoft_start -> {"url": the provider's consent page}
GET  google_callback, microsoft_callback: where the provider sends the browser back; on
     success the browser goes on to the connection's form.

Every call acts as frappe.session.user on that user's own connections; secrets go into
Password fields and are never in an answer. The standalone host serves the same paths
(hosts/standalone/web.py, token-authenticated).
"""

from __future__ import annotations

from typing import Any, Callable

import frappe

from meetings_addon.connections import manage
from meetings_addon.errors import MeetingsError
from meetings_addon.hosts.frappe.errors import domain_errors
from meetings_addon.hosts.frappe.services import services


def _as_user(use_case: Callable[..., Any], payload: dict | None = None) -> Any:
    if frappe.session.user in (None, "", "Guest"):
        frappe.throw("Sign in to manage your calendars", frappe.PermissionError)
    with domain_errors():
        return use_case(services(), frappe.session.user, payload or {})


@frappe.whitelist(methods=["GET", "POST"])
def list_connections():
    return _as_user(lambda s, u, p: manage.list_connections(s, u))


@frappe.whitelist(methods=["GET", "POST"])
def get_connection(connection=None):
    return _as_user(manage.get_connection, {"connection": connection})


@frappe.whitelist(methods=["GET", "POST"])
def available_calendars(connection=None):
    return _as_user(manage.available_calendars, {"connection": connection})


@frappe.whitelist(methods=["POST"])
def add_caldav(caldav_url=None, caldav_username=None, caldav_password=None):
    return _as_user(manage.add_caldav, {
        "caldav_url": caldav_url, "caldav_username": caldav_username, "caldav_password": caldav_password,
    })


@frappe.whitelist(methods=["POST"])
def set_calendars(connection=None, calendars=None, default_calendar=None):
    return _as_user(manage.set_calendars, {
        "connection": connection, "calendars": calendars, "default_calendar": default_calendar,
    })


@frappe.whitelist(methods=["POST"])
def remove_calendar(connection=None, calendar_id=None):
    return _as_user(manage.remove_calendar, {"connection": connection, "calendar_id": calendar_id})


@frappe.whitelist(methods=["POST"])
def disconnect(connection=None):
    return _as_user(manage.disconnect, {"connection": connection})


@frappe.whitelist(methods=["GET", "POST"])
def google_start():
    return _as_user(lambda s, u, p: manage.oauth_start(s, u, "google"))


@frappe.whitelist(methods=["GET", "POST"])
def microsoft_start():
    return _as_user(lambda s, u, p: manage.oauth_start(s, u, "microsoft"))


@frappe.whitelist(methods=["GET"])
def google_callback(**params):
    return _callback("google", params)


@frappe.whitelist(methods=["GET"])
def microsoft_callback(**params):
    return _callback("microsoft", params)


def _callback(key: str, params: dict) -> Any:
    """The provider's redirect: save the connection, then show its form (or say what
    went wrong on a page: this is a browser, not a script)."""
    params = {k: v for k, v in params.items() if k != "cmd"}
    try:
        doc = manage.oauth_callback(services(), key, params)
    except MeetingsError as error:
        frappe.db.rollback()
        frappe.respond_as_web_page(
            "Calendar not connected", frappe.utils.escape_html(error.message),
            http_status_code=getattr(error, "http_status", 400), indicator_color="red",
        )
        return None
    frappe.db.commit()  # a GET: Frappe would not commit it
    frappe.local.response["type"] = "redirect"
    frappe.local.response["location"] = f"/app/calendar-connection/{doc['name']}"
    return None
