"""Booking jobs: idempotent, retried by the host's job runner."""

from __future__ import annotations

from ..connections.registry import user_calendars
from ..ports import Services
from .service import BOOKING, LINK, fill_tokens


def sync_calendar_event(services: Services, booking: str) -> None:
    """Bring the host's default calendar in line with the booking: create, move or cancel.

    Safe to run twice: creation is keyed by the booking's iCalendar UID, and the
    provider event id is saved once known.
    """
    doc = services.store.get(BOOKING, booking)
    if not doc:
        return
    calendars = user_calendars(services, doc["host"])
    if not calendars.default:
        services.store.update(BOOKING, booking, {"calendar_error": "No default calendar to write to"})
        return
    connection, provider, calendar_id = calendars.default
    try:
        _sync(services, doc, connection, provider, calendar_id)
    except Exception as error:
        # Visible on the booking until a later attempt succeeds; the job runner retries
        # (at least error.retry_after seconds later when the provider asked for that).
        services.store.update(BOOKING, booking, {"calendar_error": str(getattr(error, "message", None) or error)[:1000]})
        raise


def _sync(services: Services, doc, connection, provider, calendar_id: str) -> None:
    booking = doc["name"]
    if doc["status"] in ("Cancelled", "Rescheduled"):
        if doc.get("provider_event_id") and doc["status"] == "Cancelled":
            provider.cancel_event(calendar_id, doc["provider_event_id"])
        return
    link = services.store.get(LINK, doc["meeting_link"]) or {}
    subject_template = link.get("invitation_subject") or f"{link.get('title')} with {{{{ first_name }}}} {{{{ last_name }}}}"
    own = bool(doc.get("subject"))  # scheduled from a record: the booking carries its own texts
    event = {
        "uid": doc["ical_uid"],
        "summary": doc["subject"] if own else fill_tokens(subject_template, doc),
        "description": (doc.get("description") or "") if own else fill_tokens(link.get("invitation_description") or "", doc),
        "location": (doc.get("location") or "") if own else (link.get("location") or ""),
        "start": doc["start"],
        "end": doc["end"],
        "attendees": [doc["email"]] + [u for u in (doc.get("other_hosts") or "").splitlines() if u],
        "sequence": int(doc.get("sequence") or 0),
        "online_meeting": bool(link.get("online_meeting")),  # Meet / Teams link, where the link asks for one
    }
    if doc.get("provider_event_id"):
        provider.update_event(calendar_id, doc["provider_event_id"], event)
        if doc.get("calendar_error"):
            services.store.update(BOOKING, booking, {"calendar_error": None})
    else:
        created = provider.create_event(calendar_id, event)
        services.store.update(
            BOOKING, booking, {"provider": connection.get("provider"), "provider_event_id": created["id"], "calendar_error": None}
        )
