"""Scheduling a meeting from a record (a Contact, a CRM Lead, a CRM Deal) by a team member.

Decisions (docs/ARCHITECTURE.md, "Scheduling from a record"):
- The hours are the user's own Meeting Link's (the one given, else their default link,
  else their first link): its weekly hours, date overrides, time zone, start increment and
  buffers, read by the same engine against THEIR calendars, live. The user picks any
  duration (5 to 480 minutes); a link's visitor-facing limits do not apply to them:
  no minimum notice (only the past is refused), no daily cap, and a rolling window of
  RECORD_WEEKS weeks whatever the link's window; starts every RECORD_INCREMENT minutes
  unless the link sets its own increment. A user with no link is told to create
  one (their hours are what the engine needs).
- The Booking has source CRM, the link as `meeting_link`, its own subject (tokens
  {{ first_name }}, {{ last_name }}, {{ company }} filled from the record), description and
  location, `reference_doctype`/`reference_name` = the record, and the Contact of the
  record's email (a Contact itself; a CRM Lead's email, found or created; a CRM Deal's
  primary contact). Its Event (category Meeting) has the Contact and the record as
  participants.
- With a connected calendar, the event goes on the user's default calendar with the
  contact as attendee (booking/jobs.sync_calendar_event): the provider sends the
  invitation. Later moves, edits and cancellations re-run that job (Google patch / Graph
  PATCH / CalDAV PUT, or delete) and the guest also gets our "rescheduled" / "cancelled"
  email (same iCalendar UID, higher SEQUENCE). With only the Local calendar, the meeting
  is logged on the record only: no calendar write, no email; the answer says so.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Mapping, Optional

from ..connections.registry import user_calendars
from ..errors import InvalidBooking, NotFound, SlotUnavailable
from ..ports import Services
from ..scheduling import ONE_ON_ONE, HostSchedule, compute_slots, load_zone, visitor_range
from . import inputs, slot_cache, timeline
from .availability import booking_rows, bookings_by_host
from .service import BOOKING, LINK, MAX_DAYS, SECOND, _check_start, _reserve, _slots, fill_tokens, queue_emails

RECORD_DOCTYPES = ("Contact", "CRM Lead", "CRM Deal")
MIN_DURATION, MAX_DURATION = 5, 480
RECORD_WEEKS = 12
RECORD_INCREMENT = 15  # minutes between offered starts when the link sets no increment
DEFAULT_SUBJECT = "Meeting with {{ first_name }} {{ last_name }}"
MAX_SUBJECT = 140
MAX_DESCRIPTION = 5000
NOT_CONNECTED = "No calendar is connected: the meeting is logged on the record only and no invitation was sent."


# --- the record ---------------------------------------------------------------------------


def record_person(services: Services, doctype: Any, name: Any, *, create_contact: bool = True) -> dict[str, Any]:
    """{first_name, last_name, company, email, contact} of a Contact, CRM Lead or CRM Deal."""
    if doctype not in RECORD_DOCTYPES:
        raise InvalidBooking("reference_doctype", f"must be one of {', '.join(RECORD_DOCTYPES)}")
    if not isinstance(name, str) or not name.strip():
        raise InvalidBooking("reference_name", "is required")
    doc = services.store.get(doctype, name)
    if not doc:
        raise NotFound(f"{doctype} {name} does not exist")
    if doctype == "Contact":
        return _from_contact(doc)
    if doctype == "CRM Lead":
        email = (doc.get("email") or "").strip().lower()
        if not email:
            raise InvalidBooking("email", "this lead has no email address to invite")
        contact = timeline.find_contact(services, email)
        if contact is None and create_contact:
            contact = timeline.contact_for(services, email, doc.get("first_name") or "", doc.get("last_name") or "")
        return {
            "first_name": doc.get("first_name") or "",
            "last_name": doc.get("last_name") or "",
            "company": doc.get("organization") or "",
            "email": email,
            "contact": contact,
        }
    # CRM Deal: its primary contact (else its first, else its `contact` field)
    rows = [row for row in doc.get("contacts") or [] if row.get("contact")]
    rows.sort(key=lambda row: 0 if row.get("is_primary") else 1)
    contact_name = rows[0]["contact"] if rows else doc.get("contact")
    contact = services.store.get("Contact", contact_name) if contact_name else None
    if not contact:
        raise InvalidBooking("contact", "this deal has no contact to invite: add one first")
    person = _from_contact(contact)
    person["company"] = doc.get("organization_name") or doc.get("organization") or person["company"]
    return person


def _from_contact(doc: Mapping[str, Any]) -> dict[str, Any]:
    emails = sorted(doc.get("email_ids") or [], key=lambda row: 0 if row.get("is_primary") else 1)
    email = (doc.get("email_id") or (emails[0].get("email_id") if emails else "") or "").strip().lower()
    if not email:
        raise InvalidBooking("email", "this contact has no email address to invite")
    return {
        "first_name": doc.get("first_name") or "",
        "last_name": doc.get("last_name") or "",
        "company": doc.get("company_name") or "",
        "email": email,
        "contact": doc["name"],
    }


# --- the user's hours ---------------------------------------------------------------------


def user_link(services: Services, user: str, link: Optional[str] = None) -> dict[str, Any]:
    """The Meeting Link whose hours apply: the one given (the user must host it), else the
    user's default link, else their first."""
    if link:
        doc = services.store.get(LINK, link)
        if not doc:
            raise InvalidBooking("link", f"no meeting link {link!r}")
        hosts = {doc.get("host")} | {row.get("user") for row in doc.get("hosts") or []}
        if user not in hosts:
            raise InvalidBooking("link", "you are not a host of this meeting link")
        return doc
    rows = services.store.list(LINK, {"host": user}, fields=("name", "is_default"), order_by="creation asc")
    if not rows:
        raise InvalidBooking("link", "create a meeting link first: its hours are the times you can be booked")
    chosen = next((row for row in rows if row.get("is_default")), rows[0])
    return services.store.get(LINK, chosen["name"])


def _rules_link(link: Mapping[str, Any], user: str, duration: int) -> dict[str, Any]:
    """The link's hours for the user alone, without its limits for visitors."""
    return {
        **link,
        "host": user,
        "meeting_type": ONE_ON_ONE,
        "durations": str(duration),
        "start_increment": int(link.get("start_increment") or RECORD_INCREMENT),
        "minimum_notice": 0,
        "max_bookings_per_day": 0,
        "window_type": "Rolling",
        "rolling_weeks": RECORD_WEEKS,
    }


def _duration(payload: Mapping[str, Any]) -> int:
    value = payload.get("duration")
    if value in (None, ""):
        return 30
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InvalidBooking("duration", f"{value!r} is not a number of minutes") from None
    if not MIN_DURATION <= number <= MAX_DURATION:
        raise InvalidBooking("duration", f"must be {MIN_DURATION} to {MAX_DURATION} minutes")
    return number


def connected(services: Services, user: str) -> Optional[str]:
    """The provider of the user's default calendar, None when only the Local one."""
    calendars = user_calendars(services, user)
    if not calendars.default:
        return None
    provider = calendars.default[0].get("provider")
    return None if provider in (None, "Local") else provider


# --- use-cases ----------------------------------------------------------------------------


def free_slots_for_user(
    services: Services, user: str, start: Any, end: Any, duration: Any = None, timezone: Any = None, link: Any = None
) -> dict[str, Any]:
    """The user's free starts between two dates (inclusive), in `timezone`, for the dialog."""
    payload = {"start": start, "end": end, "duration": duration, "timezone": timezone or "UTC"}
    zone_name = inputs.timezone_name(payload)
    first, last = inputs.day(payload, "start"), inputs.day(payload, "end")
    if last < first:
        raise InvalidBooking("end", f"{last} is before start {first}")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidBooking("end", f"ask for at most {MAX_DAYS} days at a time")
    minutes = _duration(payload)
    doc = user_link(services, user, link)
    rules = _rules_link(doc, user, minutes)
    range_start, range_end = visitor_range(first, last, zone_name)
    found, mode = _slots(services, rules, range_start, range_end, minutes)
    zone = load_zone(zone_name)
    provider = connected(services, user)
    return {
        "link": doc["name"],
        "timezone": zone_name,
        "duration": minutes,
        "mode": mode,
        "connected": bool(provider),
        "calendar": provider or "Local",
        "message": "" if provider else NOT_CONNECTED,
        "slots": [{"start": s.start.astimezone(zone).isoformat(), "end": s.end.astimezone(zone).isoformat()} for s in found],
    }


def _texts(payload: Mapping[str, Any], person: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    texts: dict[str, Any] = {}
    if not partial or payload.get("subject") not in (None, ""):
        template = inputs.text(payload, "subject", required=False, limit=MAX_SUBJECT) or DEFAULT_SUBJECT
        texts["subject"] = fill_tokens(template, person)[:MAX_SUBJECT] or fill_tokens(DEFAULT_SUBJECT, person)
    if not partial or payload.get("description") is not None:
        texts["description"] = inputs.text(payload, "description", required=False, limit=MAX_DESCRIPTION, plain=False)
    if not partial or payload.get("location") is not None:
        texts["location"] = inputs.text(payload, "location", required=False, limit=MAX_SUBJECT)
    return texts


def schedule_from_record(services: Services, user: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Book a meeting of `user` with the record's contact at a free start of theirs."""
    doctype, name = payload.get("reference_doctype"), payload.get("reference_name")
    record_person(services, doctype, name, create_contact=False)  # every check before any write
    duration = _duration(payload)
    start = inputs.instant(payload, "start")
    link = user_link(services, user, payload.get("link"))
    rules = _rules_link(link, user, duration)
    zone_name = inputs.timezone_name(payload) if payload.get("timezone") else _user_zone(services, user, link)
    slot, _mode = _check_start(services, rules, start, duration)
    provider = connected(services, user)
    with services.store.atomic():
        person = record_person(services, doctype, name)
        texts = _texts(payload, person)
        fields = {
            "meeting_link": link["name"],
            "status": "Confirmed",
            "source": "CRM",
            "first_name": person["first_name"],
            "last_name": person["last_name"],
            "email": person["email"],
            "contact": person["contact"],
            "reference_doctype": doctype,
            "reference_name": name,
            "timezone": zone_name,
            "buffer_before": int(link.get("buffer_before") or 0),
            "buffer_after": int(link.get("buffer_after") or 0),
            "ical_uid": f"{uuid.uuid4().hex}@meetings-addon",
            "sequence": 0,
            **texts,
        }
        booking = _reserve(services, rules, slot, duration, fields, log=False)
        event = timeline.log_meeting(services, booking, texts["subject"], texts["description"])
        services.store.update(BOOKING, booking["name"], {"event": event})
        booking["event"] = event
        _after(services, booking, provider, None)
    return _answer(booking, provider)


def _user_zone(services: Services, user: str, link: Mapping[str, Any]) -> str:
    row = services.store.get("User", user) or {}
    return row.get("time_zone") or link.get("timezone") or "UTC"


def _answer(booking: Mapping[str, Any], provider: Optional[str]) -> dict[str, Any]:
    zone = load_zone(booking.get("timezone") or "UTC")
    return {
        "booking": booking["name"],
        "event": booking.get("event"),
        "status": booking["status"],
        "subject": booking.get("subject"),
        "start": booking["start"].astimezone(zone).isoformat(),
        "end": booking["end"].astimezone(zone).isoformat(),
        "contact": booking.get("contact"),
        "invited": bool(provider) and booking["status"] == "Confirmed",
        "calendar": provider or "Local",
        "message": "" if provider else NOT_CONNECTED,
    }


def _after(services: Services, booking: Mapping[str, Any], provider: Optional[str], change: Optional[str]) -> None:
    """After the commit: the calendar write (the provider invites) and, for a change, the
    guest's email. Nothing leaves the process without a connected calendar."""
    slot_cache.invalidate(services)
    if not provider:
        return
    services.jobs.enqueue(
        "meetings_addon.booking.jobs.sync_calendar_event",
        job_id=f"calendar:{booking['name']}:{int(booking.get('sequence') or 0)}",
        booking=booking["name"],
    )
    if change:
        queue_emails(services, booking, change)


def _own_booking(services: Services, user: str, booking: Any) -> dict[str, Any]:
    doc = services.store.get(BOOKING, booking) if isinstance(booking, str) and booking else None
    if not doc:
        raise NotFound("This meeting does not exist.")
    if user != doc.get("host") and user not in (doc.get("other_hosts") or "").splitlines():
        raise InvalidBooking("booking", "only the meeting's host can change it")
    if doc["status"] != "Confirmed":
        raise InvalidBooking("booking", f"this meeting is {doc['status'].lower()}")
    if doc["end"] <= services.clock.now():
        raise InvalidBooking("booking", "this meeting is over")
    return doc


def update_from_record(services: Services, user: str, booking: Any, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Move the meeting (`start`) and/or change its `description` (also `subject`,
    `location`); the calendar event follows and the guest is told."""
    doc = _own_booking(services, user, booking)
    texts = _texts(payload, doc, partial=True)
    values: dict[str, Any] = dict(texts)
    start: Optional[datetime] = None
    duration = int(doc.get("duration") or (doc["end"] - doc["start"]).total_seconds() // 60)
    link = services.store.get(LINK, doc["meeting_link"]) or {"name": doc["meeting_link"]}
    rules = _rules_link(link, doc["host"], duration)
    if payload.get("start") not in (None, ""):
        start = inputs.instant(payload, "start")
        if start != doc["start"]:
            _check_start(services, rules, start, duration, exclude=doc["name"])
        else:
            start = None
    if start is None and not values:
        raise InvalidBooking("start", "nothing to change: give a new start or description")
    provider = connected(services, doc["host"])
    with services.store.atomic():
        if start is not None:
            services.store.lock("User", [doc["host"]])
            fresh = bookings_by_host(
                booking_rows(services, start, start + timedelta(minutes=duration), for_update=True), [doc["host"]], doc["meeting_link"], doc["name"]
            )
            still = compute_slots(
                _rules(rules), [HostSchedule(doc["host"], bookings=fresh[doc["host"]])], now=services.clock.now(),
                range_start=start, range_end=start + SECOND, duration=duration, meeting_type=ONE_ON_ONE,
            )
            if not still:
                raise SlotUnavailable("Sorry, that time was just taken. Please choose another one.")
            values.update(start=still[0].start, end=still[0].end)
        services.store.lock(BOOKING, [doc["name"]])
        current = services.store.get(BOOKING, doc["name"])
        if not current or current["status"] != "Confirmed":
            raise InvalidBooking("booking", "this meeting was changed meanwhile; open it again")
        values["sequence"] = int(current.get("sequence") or 0) + 1
        services.store.update(BOOKING, doc["name"], values)
        current.update(values)
        if current.get("event"):
            event_values = {}
            if "start" in values:
                event_values.update(starts_on=values["start"], ends_on=values["end"])
            if "subject" in values:
                event_values["subject"] = values["subject"]
            if "description" in values:
                event_values["description"] = values["description"]
            services.store.update("Event", current["event"], event_values)
        _after(services, current, provider, "rescheduled")
    return _answer(current, provider)


def _rules(link: Mapping[str, Any]):
    from ..links import rules_from_link

    return rules_from_link(link)


def cancel_from_record(services: Services, user: str, booking: Any, payload: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """Cancel the meeting: the calendar event is deleted (the provider tells the guest) and
    the guest gets the cancellation email; the timeline Event is marked Cancelled."""
    doc = _own_booking(services, user, booking)
    reason = inputs.text(payload or {}, "reason", required=False, limit=inputs.MAX_REASON, plain=False)
    provider = connected(services, doc["host"])
    with services.store.atomic():
        services.store.lock(BOOKING, [doc["name"]])
        current = services.store.get(BOOKING, doc["name"])
        if not current or current["status"] != "Confirmed":
            raise InvalidBooking("booking", "this meeting was changed meanwhile; open it again")
        values = {"status": "Cancelled", "cancel_reason": reason, "sequence": int(current.get("sequence") or 0) + 1}
        services.store.update(BOOKING, doc["name"], values)
        current.update(values)
        if current.get("event"):
            timeline.cancel_meeting(services, current["event"])
        _after(services, current, provider, "cancelled")
    return {"booking": current["name"], "status": "Cancelled", "calendar": provider or "Local",
            "message": "" if provider else NOT_CONNECTED}


def meetings_of_record(services: Services, doctype: Any, name: Any) -> list[dict[str, Any]]:
    """The record's meetings scheduled from it (newest first), for the dialog's list."""
    if doctype not in RECORD_DOCTYPES or not isinstance(name, str):
        raise InvalidBooking("reference_doctype", f"must be one of {', '.join(RECORD_DOCTYPES)}")
    rows = services.store.list(
        BOOKING,
        {"reference_doctype": doctype, "reference_name": name},
        fields=("name", "status", "subject", "start", "end", "host", "timezone", "event"),
        order_by="start desc",
        limit=50,
    )
    return [
        {**row, "start": row["start"].isoformat(), "end": row["end"].isoformat()} for row in rows
    ]
