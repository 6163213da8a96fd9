"""Telling a calendar's owner, once, that visitors can only request meetings.

While one of a host's checked calendars cannot be read, their links are in request mode
and each visitor's request is saved as a Booking with status Requested. The first
request of such a failure makes this job send the owner one email: a request arrived,
which calendar is disconnected and why, and where to reconnect or remove it. Later
requests of the same failure send no such email (each request still gets its own
"new request" notification from notifications/).

One per failure episode: the connection's `failure_notified_on` is set when the email
goes out and cleared when the connection is repaired (health.mark_ok,
health.mark_reachable), so the next failure is told again. The flag is set and the email
queued in one transaction, with the connection's row locked: two requests arriving
together send one email, and a mail server that refuses the email leaves the flag unset
for the job's retry.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from html import escape
from typing import Any, Mapping, Optional
from urllib.parse import quote

from ..errors import CalendarUnavailable
from ..ports import Doc, Services
from . import health

log = logging.getLogger(__name__)

CONNECTION = "Calendar Connection"
BOOKING = "Booking"
LINK = "Meeting Link"


def failing_calendars(services: Services, user: str) -> list[dict[str, Any]]:
    """The user's calendars that cannot be read now: a connection in Error (the whole
    account) or one of its checked calendars Failing. One row per problem."""
    found = []
    for row in services.store.list(CONNECTION, {"user": user, "status": ["!=", "Disconnected"]}, fields=("name",)):
        connection = services.store.get(CONNECTION, row["name"])
        if connection:
            found.extend(_problems(connection))
    return found


def _problems(connection: Mapping[str, Any]) -> list[dict[str, Any]]:
    base = {
        "user": connection.get("user"),
        "connection": connection.get("name"),
        "provider": connection.get("provider"),
        "account": connection.get("account") or "",
    }
    problems = []
    if connection.get("status") == "Error":
        problems.append({**base, "calendar_id": None, "calendar_name": _account_label(connection),
                         "error": connection.get("error") or "the account cannot be read"})
    for row in connection.get("calendars") or []:
        if row.get("status") == "Failing" and row.get("check_availability"):
            problems.append({**base, "calendar_id": row.get("calendar_id"),
                             "calendar_name": row.get("calendar_name") or row.get("calendar_id"),
                             "error": row.get("error") or "this calendar cannot be read"})
    return problems


def _account_label(connection: Mapping[str, Any]) -> str:
    provider = {"Microsoft": "Office 365"}.get(connection.get("provider"), connection.get("provider") or "")
    return f"{provider} ({connection.get('account')})" if connection.get("account") else f"{provider} account"


def request_arrived(services: Services, booking: str) -> list[str]:
    """For a booking saved as Requested: email each host whose calendar is failing, once
    per failure, saying a request arrived and which calendar is disconnected. Returns the
    addresses told, whose generic "new request" email the caller then leaves out, so
    the owner gets one email for the request (notifications/jobs.py)."""
    doc = services.store.get(BOOKING, booking)
    if not doc or doc.get("status") != "Requested":
        return []
    link = services.store.get(LINK, doc.get("meeting_link")) or {}
    users = [doc.get("host")] + [u for u in (doc.get("other_hosts") or "").splitlines() if u]
    if link.get("meeting_type") in ("Round Robin", "Group"):
        users += [row.get("user") for row in link.get("hosts") or [] if row.get("user")]
    if services.mailer is None:
        log.warning("booking %s arrived in request mode, but this site has no mailer to tell its owner", booking)
        return []
    told = []
    for user in dict.fromkeys(u for u in users if u):
        if not failing_calendars(services, user):
            _probe(services, user, doc)
        recipient = _tell(services, user, doc, link)
        if recipient:
            told.append(recipient.lower())
    return told


def _probe(services: Services, user: str, booking: Mapping[str, Any]) -> None:
    """The request came in request mode, yet none of the user's calendars is marked
    failing (a timeout or a 5xx is not marked when a page view meets it): read them now,
    and mark what fails a second time, so the owner is told and the settings show it.
    The next read that succeeds clears the mark (health.mark_reachable)."""
    from .registry import user_calendars

    start, end = booking.get("start"), booking.get("end")
    if not start or not end:
        return
    for connection, provider, calendar_ids in user_calendars(services, user).sources:
        if not calendar_ids or not connection.get("name"):
            continue
        try:
            provider.busy(calendar_ids, start - timedelta(hours=1), end + timedelta(hours=1))
        except CalendarUnavailable as error:
            failed = getattr(error, "calendars", None) or {}
            for calendar_id, message in failed.items():
                health.mark_failing(services, connection, message, calendar_id=calendar_id)
            if not failed:
                label = connection.get("provider") or "Calendar"
                message = error.message if error.message.startswith(label) else f"{label}: {error.message}"
                health.mark_failing(services, connection, message)


def _tell(services: Services, user: str, booking: Mapping[str, Any], link: Mapping[str, Any]) -> Optional[str]:
    store = services.store
    with store.atomic():
        names = [row["name"] for row in store.list(CONNECTION, {"user": user, "status": ["!=", "Disconnected"]}, fields=("name",))]
        if not names:
            return None
        store.lock(CONNECTION, names)  # two requests at once: one email
        untold, problems = [], []
        for name in names:
            connection = store.get(CONNECTION, name) or {}
            found = _problems(connection)
            if found and not connection.get("failure_notified_on"):
                untold.append(name)
                problems.extend(found)
        if not untold:
            return None
        now = services.clock.now()
        for name in untold:
            store.update(CONNECTION, name, {"failure_notified_on": now})
        recipient = store.get_value("User", {"name": user}, "email") or user
        subject, html = compose(services, user, booking, link, problems)
        services.mailer.send([recipient], subject, html, reference=(CONNECTION, untold[0]))
    return recipient


def compose(services: Services, user: str, booking: Mapping[str, Any], link: Mapping[str, Any],
            problems: list[Mapping[str, Any]]) -> tuple[str, str]:
    """(subject, html) of the owner's email; visitor input is escaped."""
    from ..scheduling import load_zone

    zone_name = services.store.get_value("User", {"name": user}, "time_zone") or link.get("timezone") or "UTC"
    try:
        zone = load_zone(zone_name)
    except Exception:  # noqa: BLE001 - a bad zone on the user: UTC
        zone = load_zone("UTC")
    start: Optional[datetime] = booking.get("start")
    when = start.astimezone(zone).strftime("%A %d %B %Y, %H:%M") + f" ({zone.key})" if start else ""
    guest = " ".join(filter(None, [booking.get("first_name"), booking.get("last_name")])) or booking.get("email") or "A visitor"
    names = ", ".join(dict.fromkeys(p["calendar_name"] for p in problems))
    subject = f"Meeting request from {guest}: your calendar {names} is disconnected"
    rows = "".join(
        f"<li><strong>{escape(str(p['calendar_name']))}</strong> "
        f"({escape(str(p['provider']))}{', ' + escape(str(p['account'])) if p.get('account') else ''}): "
        f"{escape(str(p['error']))}</li>"
        for p in problems
    )
    settings = _settings_url(services, problems[0]["connection"])
    title = link.get("title") or booking.get("meeting_link") or ""
    html = f"""<p>{escape(guest)} &lt;{escape(str(booking.get('email') or ''))}&gt; requested a meeting
on your link <strong>{escape(str(title))}</strong> for <strong>{escape(when)}</strong>.</p>
<p>It was not booked into your calendar because this calendar could not be read:</p>
<ul>{rows}</ul>
<p>Until it is reconnected or removed, your booking pages only take requests: each one is
saved (nothing is lost) and waits for you to confirm it with the visitor. Reconnecting the
calendar, or removing the failing calendar, brings booking back at once.</p>
<p><a href="{escape(settings)}">Open your calendar settings</a></p>
<p style="color:#666;font-size:12px">You get this email once per failure; further requests
until it is repaired are listed with your bookings (status Requested).</p>"""
    return subject[:250], html


def _settings_url(services: Services, connection: Optional[str]) -> str:
    document_url = getattr(services, "document_url", None)
    if connection and document_url is not None:
        return document_url(CONNECTION, connection)
    base = services.site_url.rstrip("/")
    if connection:
        return f"{base}/api/resource/{quote(CONNECTION)}/{quote(connection, safe='')}"
    return f"{base}/api/method/meetings_addon.api.connections.list_connections"


def public_problem(problem: Mapping[str, Any]) -> Doc:
    """A failing calendar as the APIs show it."""
    return {key: problem.get(key) for key in ("connection", "provider", "account", "calendar_id", "calendar_name", "error")}
