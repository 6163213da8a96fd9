"""What a calendar's changes log on the CRM timeline (HubSpot's rule, made exact).

An event is logged when it was created in the connected calendar after the connection
(`connected_on`) and has at least one attendee whose email belongs to a Contact: a
Booking (source Calendar) and a Frappe Event (category Meeting) with every matched
Contact, and their CRM Leads / Deals where Frappe CRM is installed, as participants.

- Internal domains (Meetings Settings) and the system's users are never matched (and
  nothing here ever creates a Contact).
- Events the app made (a Booking with that provider event id or iCalendar UID whose
  source is not Calendar) are left alone; a meeting a teammate's sync logged already is
  not logged again.
- Edits update the Booking and the Event (participants too); a cancellation or deletion
  marks both Cancelled. Nothing here writes to the calendar.

Set-based: one query per page for the attendees' contacts (Contact Email), one for
users, one per lookup of existing bookings, one each for Leads and Deals: never a query
per attendee. Writes are per meeting: a logged one is one Event insert (its participant
rows) and one Booking insert that already links it (benchmarks/sync_throughput.py). Applying a page twice changes nothing the second time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Mapping, Optional

from ..booking import timeline
from ..ports import Doc, RemoteEvent, Services

BOOKING = "Booking"
APP_UID_DOMAIN = "@meetings-addon"  # booking/service.py's iCalendar UIDs
_doctype_exists: dict[str, bool] = {}


def doctype_exists(services: Services, doctype: str) -> bool:
    """Frappe CRM's doctypes exist only where the app is installed (never standalone)."""
    key = f"{id(services.store)}:{doctype}"
    if key not in _doctype_exists:
        try:
            _doctype_exists[key] = bool(services.store.get_value("DocType", {"name": doctype}, "name"))
        except Exception:  # noqa: BLE001 - the store has no DocType table: standalone
            _doctype_exists[key] = False
    return _doctype_exists[key]


def match_contacts(services: Services, emails: Iterable[str], own: Iterable[str] = ()) -> dict[str, str]:
    """email -> Contact for these attendee emails, internal people and users left out.

    Two queries whatever the number of emails (Users, Contact Email)."""
    domains = timeline.internal_domains(services)
    candidates = {e.strip().lower() for e in emails if e} - {o.lower() for o in own if o}
    candidates = {e for e in candidates if e.rpartition("@")[2] not in domains}
    if not candidates:
        return {}
    users = {row["name"].lower() for row in services.store.list("User", {"name": ["in", sorted(candidates)]})}
    candidates -= users
    if not candidates:
        return {}
    found: dict[str, str] = {}
    rows = services.store.list(
        "Contact Email", {"email_id": ["in", sorted(candidates)]}, fields=("parent", "email_id"), order_by="parent asc"
    )
    for row in rows:
        found.setdefault((row.get("email_id") or "").lower(), row["parent"])
    return found


def crm_links(services: Services, emails: set[str], contacts: set[str]) -> dict[str, list[tuple[str, str]]]:
    """Contact -> [(CRM Lead|CRM Deal, name)], where Frappe CRM is installed."""
    links: dict[str, list[tuple[str, str]]] = {}
    if not contacts:
        return links
    if doctype_exists(services, "CRM Lead") and emails:
        by_email: dict[str, list[str]] = {}
        for row in services.store.list("CRM Lead", {"email": ["in", sorted(emails)]}, fields=("name", "email")):
            by_email.setdefault((row.get("email") or "").lower(), []).append(row["name"])
        for row in services.store.list(
            "Contact Email", {"email_id": ["in", sorted(by_email)], "parent": ["in", sorted(contacts)]},
            fields=("parent", "email_id"),
        ) if by_email else []:
            for lead in by_email.get((row.get("email_id") or "").lower(), []):
                links.setdefault(row["parent"], []).append(("CRM Lead", lead))
    if doctype_exists(services, "CRM Deal"):
        rows = services.store.list(
            "CRM Contacts", {"contact": ["in", sorted(contacts)], "parenttype": "CRM Deal"}, fields=("parent", "contact")
        )
        for row in rows:
            links.setdefault(row["contact"], []).append(("CRM Deal", row["parent"]))
    return links


def _existing(services: Services, events: list[RemoteEvent]) -> tuple[dict[str, Doc], dict[str, Doc], dict[str, Doc]]:
    fields = ("name", "source", "status", "host", "event", "provider_event_id", "ical_uid", "contact")
    ids = sorted({e.id for e in events})
    uids = sorted({e.ical_uid for e in events if e.ical_uid})
    app_uids = sorted({f"{e.id}{APP_UID_DOMAIN}" for e in events})
    by_id = {r["provider_event_id"]: r for r in services.store.list(BOOKING, {"provider_event_id": ["in", ids]}, fields=fields)} if ids else {}
    by_uid = {}
    if uids or app_uids:
        for row in services.store.list(BOOKING, {"ical_uid": ["in", uids + app_uids]}, fields=fields, order_by="creation asc"):
            by_uid.setdefault(row["ical_uid"], row)
    return by_id, by_uid, {u: by_uid[u] for u in app_uids if u in by_uid}


def apply_page(
    services: Services, connection: Mapping[str, Any], events: list[RemoteEvent], calendar_id: Optional[str] = None
) -> dict[str, int]:
    """Log, update or cancel the meetings of one page of changes. Returns counts."""
    counts = {"logged": 0, "updated": 0, "cancelled": 0, "skipped": 0}
    if not events:
        return counts
    user = connection["user"]
    own = {user, connection.get("account") or ""}
    contacts_by_email = match_contacts(services, (a for e in events if not e.cancelled for a in e.attendees), own)
    matched_contacts = set(contacts_by_email.values())
    links = crm_links(services, set(contacts_by_email), matched_contacts)
    by_id, by_uid, by_app_uid = _existing(services, events)
    connected_on: Optional[datetime] = connection.get("connected_on")

    for event in events:
        existing = by_id.get(event.id) or (by_uid.get(event.ical_uid) if event.ical_uid else None) or by_app_uid.get(
            f"{event.id}{APP_UID_DOMAIN}"
        )
        if existing and (existing.get("source") != "Calendar" or existing.get("host") != user):
            counts["skipped"] += 1  # the app's own event, or logged from a teammate's calendar
            continue
        if event.cancelled:
            if existing and existing.get("status") != "Cancelled":
                _cancel(services, existing)
                existing["status"] = "Cancelled"
                counts["cancelled"] += 1
            continue
        emails = [a for a in event.attendees if a in contacts_by_email]
        contacts = list(dict.fromkeys(contacts_by_email[a] for a in emails))
        participants = [("Contact", c) for c in contacts] + [link for c in contacts for link in links.get(c, [])]
        if existing:
            _update(services, existing, event, emails, contacts, participants)
            counts["updated"] += 1
            continue
        if not contacts or event.start is None or event.end is None:
            counts["skipped"] += 1
            continue
        # Providers stamp `created` to the second (or millisecond): compare to the second.
        if connected_on is None or event.created is None or event.created < connected_on.replace(microsecond=0):
            counts["skipped"] += 1  # from before the connection: never imported
            continue
        row = _log(services, connection, event, emails, contacts, participants, calendar_id)
        by_id[event.id] = row
        if event.ical_uid:
            by_uid[event.ical_uid] = row
        counts["logged"] += 1
    return counts


def _booking_values(event: RemoteEvent, emails: list[str], contacts: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "start": event.start,
        "end": event.end,
        "duration": max(0, int((event.end - event.start).total_seconds() // 60)),
        "status": "Confirmed",
        "subject": event.summary or "Meeting",
        "description": event.description or "",
    }
    if contacts:
        values.update(contact=contacts[0], email=emails[0])
    return values


def _log(services: Services, connection: Mapping[str, Any], event: RemoteEvent, emails, contacts, participants,
         calendar_id: Optional[str] = None) -> Doc:
    booking = {
        "host": connection["user"],
        "source": "Calendar",
        "provider": connection.get("provider"),
        "provider_event_id": event.id,
        # Where the event lives: a change made from the CRM record goes back to it.
        "calendar_connection": connection.get("name") if calendar_id else None,
        "calendar_id": calendar_id,
        "ical_uid": event.ical_uid,
        **_booking_values(event, emails, contacts),
    }
    # The Event first, so the Booking is inserted with its link: no UPDATE per logged meeting.
    booking["event"] = timeline.log_meeting(services, booking, event.summary or "Meeting", event.description or "", participants)
    return services.store.insert(BOOKING, _known(services, booking))


def _update(services: Services, existing: Doc, event: RemoteEvent, emails, contacts, participants) -> None:
    values = _booking_values(event, emails, contacts)
    if not contacts:
        values["contact"] = None
    services.store.update(BOOKING, existing["name"], _known(services, values))
    if existing.get("event"):
        timeline.update_meeting(
            services, existing["event"],
            {"subject": event.summary or "Meeting", "description": event.description or "",
             "starts_on": event.start, "ends_on": event.end, "status": "Open"},
            participants,
        )


def _cancel(services: Services, existing: Doc) -> None:
    services.store.update(BOOKING, existing["name"], {"status": "Cancelled", "cancel_reason": "Cancelled in the calendar"})
    if existing.get("event"):
        timeline.cancel_meeting(services, existing["event"])


def _known(services: Services, values: Mapping[str, Any]) -> dict[str, Any]:
    """Only the Booking fields this schema has (subject/description are recent)."""
    meta = getattr(services.store, "meta", None)
    if meta is None:
        return dict(values)
    try:
        fields = set(meta(BOOKING).columns())
    except Exception:  # noqa: BLE001 - a store without metadata: send everything
        return dict(values)
    return {k: v for k, v in values.items() if k in fields or k in ("name",)}
