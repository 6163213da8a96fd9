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


# --- a team link's owner: a host whose calendar cannot be read --------------------------------

OWNER_ALERT_JOB = "meetings_addon.connections.notify.send_owner_alert"
OWNER_ALERT_TTL = 3600  # seconds page views trust that this failure's alert went out
EMAIL_LOG = "Meetings Email Log"


def owner_alert_key(link: str, connection: Mapping[str, Any]) -> str:
    """One alert per (link, connection, failure): `failing_since` starts a failure and is
    cleared on repair (health.py), so a later failure has a new key."""
    import hashlib

    since = connection.get("failing_since")
    stamp = since.isoformat() if isinstance(since, datetime) else str(since or "")
    raw = f"owner-alert|{link}|{connection.get('name')}|{stamp}"
    return hashlib.sha256(raw.encode()).hexdigest()


def alert_link_owner(services: Services, link: Mapping[str, Any], hosts: list[str]) -> None:
    """Called when a team link's hosts include some whose calendars cannot be read: queue
    one email to the link's owner per failing connection and failure. Page views call it
    on every view: the job id keeps one job queued at a time, the job marks the cache
    once the email is out so later views queue nothing, and the sent-log makes the email
    go out once whatever the cache holds. health.mark_failing also calls it (through
    alert_team_link_owners) in the transaction that records a new failure, so on Frappe,
    where a GET that writes nothing commits nothing, the alert never waits for a view.)"""
    if not link.get("name") or not link.get("host") or services.mailer is None:
        return
    store, cache = services.store, services.cache
    for user in dict.fromkeys(hosts):
        for row in store.list(CONNECTION, {"user": user, "status": ["!=", "Disconnected"]}, fields=("name",)):
            connection = store.get(CONNECTION, row["name"]) or {}
            if not _problems(connection):
                continue  # not marked (a timeout on this view): nothing lasting to report
            key = owner_alert_key(link["name"], connection)
            flag = f"meetings:owner-alert:{key}"
            if cache is not None and cache.get(flag):
                continue
            services.jobs.enqueue(OWNER_ALERT_JOB, job_id=f"owner-alert:{key}", link=link["name"], connection=connection["name"])


def alert_team_link_owners(services: Services, user: Optional[str]) -> None:
    """A calendar of `user` just started failing: alert the owner of every published team
    link (round robin or group) that `user` hosts."""
    if not user or services.mailer is None:
        return
    rows = services.store.list(
        LINK, {"meeting_type": ["in", ["Round Robin", "Group"]], "published": 1}, fields=("name",)
    )
    for row in rows:
        link = services.store.get(LINK, row["name"])
        if link and user in [host.get("user") for host in link.get("hosts") or []]:
            alert_link_owner(services, link, [user])


def send_owner_alert(services: Services, link: str, connection: str) -> bool:
    """The job: email the link's owner that a host's calendar is disconnected, unless the
    sent-log has this failure's alert already. True when sent by this run."""
    store = services.store
    doc = store.get(LINK, link)
    conn = store.get(CONNECTION, connection)
    if services.mailer is None or not doc or not conn or conn.get("status") == "Disconnected":
        return False
    problems = _problems(conn)
    if not problems:
        return False  # repaired meanwhile
    key = owner_alert_key(link, conn)
    sent = _send_owner_alert(services, doc, conn, problems, key)
    if services.cache is not None:  # told (now or earlier): page views need not queue this again
        services.cache.set(f"meetings:owner-alert:{key}", 1, OWNER_ALERT_TTL)
    return sent


def _send_owner_alert(services: Services, doc, conn, problems, key: str) -> bool:
    from ..errors import DuplicateEntry

    store = services.store
    link = doc["name"]
    owner = doc.get("host")
    recipient = store.get_value("User", {"name": owner}, "email") or owner
    subject, html = compose_owner_alert(services, doc, conn, problems)
    with store.atomic():
        try:
            with store.atomic():
                claim = store.insert(EMAIL_LOG, {"key": key, "recipient": recipient[:140],
                                                 "kind": "owner:host-unreachable"})
        except DuplicateEntry:
            return False
        # Inside the claim's transaction: a refused email undoes the claim for the retry.
        services.mailer.send([recipient], subject, html, reference=(LINK, link))
        store.update(EMAIL_LOG, claim["name"], {"sent_on": services.clock.now()})
    return True


def compose_owner_alert(services: Services, link: Mapping[str, Any], connection: Mapping[str, Any],
                        problems: list[Mapping[str, Any]]) -> tuple[str, str]:
    """(subject, html) in the owner's language and time zone; names the host and calendars."""
    from ..notifications.emails import one_line, render
    from ..notifications.i18n import Reader, normalize

    owner = services.store.get("User", link.get("host")) or {}
    reader = Reader(normalize(owner.get("language")), owner.get("time_zone") or link.get("timezone") or "UTC")
    _ = reader._
    host_row = services.store.get("User", connection.get("user")) or {}
    host = host_row.get("full_name") or connection.get("user") or ""
    calendars = ", ".join(dict.fromkeys(str(p["calendar_name"]) for p in problems))
    title = link.get("title") or link.get("name") or ""
    group = link.get("meeting_type") == "Group"
    since = connection.get("failing_since")
    subject = _("{0}: {1}'s calendar {2} is disconnected", title, host, calendars)
    html = render(
        "meetings_host_unreachable.html",
        _=_,
        lang=reader.language,
        heading=_("{0}'s calendar is disconnected", host),
        intro=_(
            "Visitors can only request meetings on {0} until it is reconnected: a group meeting needs every host.", title
        ) if group else _(
            "{0} gets no meetings from {1} until it is reconnected: the other hosts take them, so no one is double-booked.",
            host, title,
        ),
        host=host,
        host_email=host_row.get("email") or connection.get("user"),
        problems=problems,
        since=f"{reader.short_when(since)} ({reader.zone_label(since)})" if isinstance(since, datetime) else None,
        settings_url=_settings_url(services, connection.get("name")),
        accent="#2563eb",
    )
    return one_line(subject)[:250], html
