"""Booking jobs: idempotent, retried by the host's job runner."""

from __future__ import annotations

from .. import conferencing
from ..connections.registry import event_calendar, user_calendars
from ..ports import Services
from .service import BOOKING, LINK, fill_tokens


def sync_calendar_event(services: Services, booking: str) -> None:
    """Bring the host's default calendar in line with the booking: create, move or cancel,
    with the link's video conferencing (conferencing/: Meet, Teams, Zoom).

    Safe to run twice: creation is keyed by the booking's iCalendar UID, the provider
    event id is saved once known, and a Zoom meeting's id before the calendar is written.
    A booking moved to another host (round robin) has its event and Zoom meeting removed
    here; its successor makes its own on the new host's calendar.
    """
    doc = services.store.get(BOOKING, booking)
    if not doc:
        return
    default = None
    if doc.get("provider_event_id") and doc.get("calendar_id"):
        # The event stays where it was written, whatever the default calendar is now.
        default = event_calendar(services, doc["host"], doc.get("calendar_connection"), doc["calendar_id"])
        if default is None:  # that calendar was disconnected or removed: the event with it
            gone = {"provider_event_id": None, "calendar_connection": None, "calendar_id": None}
            services.store.update(BOOKING, booking, gone)
            doc = {**doc, **gone}
    if default is None:
        default = user_calendars(services, doc["host"]).default
    if not default:
        if doc["status"] == "Cancelled" or _moved_to_another_host(services, doc):
            conferencing.cancel(services, doc)  # the Zoom meeting goes with the booking
            return
        link = services.store.get(LINK, doc["meeting_link"]) or {}
        values: dict = {"calendar_error": "No default calendar to write to"}
        if doc["status"] == "Confirmed":
            # No event to carry a Meet / Teams link; Zoom needs none: the emails carry it.
            plan = conferencing.prepare(services, doc, link, None, moving=bool(doc.get("video_meeting_id")))
            values.update(conferencing.settle(plan, None))
            if plan.transient:
                services.store.update(BOOKING, booking, values)
                raise plan.transient
        services.store.update(BOOKING, booking, values)
        return
    connection, provider, calendar_id = default
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
        # A same-host reschedule hands the event and Zoom meeting on to the new booking.
        if doc["status"] == "Cancelled" or _moved_to_another_host(services, doc):
            if doc.get("provider_event_id"):
                provider.cancel_event(calendar_id, doc["provider_event_id"])
            conferencing.cancel(services, doc)  # the Zoom meeting goes with the booking
        return
    link = services.store.get(LINK, doc["meeting_link"]) or {}
    moving = bool(doc.get("provider_event_id"))
    # A moved booking's Zoom meeting moves too, even when the first calendar write failed
    # (no event to move yet, but the meeting it carried over is at the old time).
    plan = conferencing.prepare(services, doc, link, connection.get("provider"),
                                moving=moving or bool(doc.get("rescheduled_from")))
    subject_template = link.get("invitation_subject") or f"{link.get('title')} with {{{{ first_name }}}} {{{{ last_name }}}}"
    own = bool(doc.get("subject"))  # scheduled from a record: the booking carries its own texts
    location, description = conferencing.calendar_texts(
        plan,
        (doc.get("location") or "") if own else (link.get("location") or ""),
        (doc.get("description") or "") if own else fill_tokens(link.get("invitation_description") or "", doc),
    )
    event = {
        "uid": doc["ical_uid"],
        "summary": doc["subject"] if own else fill_tokens(subject_template, doc),
        "description": description,
        "location": location,
        "start": doc["start"],
        "end": doc["end"],
        "attendees": [doc["email"]] + [u for u in (doc.get("other_hosts") or "").splitlines() if u],
        "sequence": int(doc.get("sequence") or 0),
        "online_meeting": plan.online_meeting,  # Meet / Teams link, where the link asks for one
    }
    if moving:
        written = provider.update_event(calendar_id, doc["provider_event_id"], event)
        values = {}
    else:
        written = provider.create_event(calendar_id, event)
        values = {"provider": connection.get("provider"), "provider_event_id": written["id"],
                  "calendar_connection": connection.get("name"), "calendar_id": calendar_id}
    if plan.provider and plan.provider != conferencing.ZOOM and doc.get("video_url") and not (written or {}).get("join_url"):
        written = {**(written or {}), "join_url": doc["video_url"], "conference_id": doc.get("video_meeting_id")}
    values.update(conferencing.settle(plan, written))
    values["calendar_error"] = plan.problem[:1000] if plan.problem else None
    if values != {"calendar_error": None} or doc.get("calendar_error"):
        services.store.update(BOOKING, booking, values)
    if plan.transient:
        raise plan.transient  # the event is written without the link; the retry adds it


def _moved_to_another_host(services: Services, doc) -> bool:
    """A Rescheduled booking whose successor went to another host (round robin)."""
    if doc["status"] != "Rescheduled":
        return False
    successor = services.store.get_value(BOOKING, {"rescheduled_from": doc["name"]}, "host")
    return bool(successor) and successor != doc["host"]
