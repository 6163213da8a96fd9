"""The iCalendar invitation of a booking (RFC 5545 objects, RFC 5546 iTIP methods).

- METHOD:REQUEST for a confirmed meeting, first sent and after every reschedule;
  METHOD:CANCEL (STATUS:CANCELLED) once it is cancelled. Every version has the same UID
  (Booking.ical_uid, kept by a reschedule) and SEQUENCE = Booking.sequence, which the
  booking use-cases raise on each change, so a calendar replaces the event it holds
  instead of adding a second one, and ignores an older version arriving late.
- Times are UTC (DTSTART/DTEND with Z): no VTIMEZONE is needed and every calendar shows
  the meeting in its owner's zone. DTSTAMP is the moment the file is made.
- ORGANIZER is the host (CN = their name); the invitee is an ATTENDEE with RSVP=TRUE,
  PARTSTAT=NEEDS-ACTION, ROLE=REQ-PARTICIPANT (RFC 5546 3.2.2); a group meeting's other
  hosts are ATTENDEEs who have accepted.
- A video call's join link (Booking.video_url) is in DESCRIPTION, in LOCATION when the
  meeting has no other place, and in URL; a Meet link also in X-GOOGLE-CONFERENCE and a
  Teams link in X-MICROSOFT-SKYPETEAMSMEETINGURL, which those calendars turn into a
  "Join" button.
- The icalendar library writes CRLF line endings, folds long lines at 75 octets and
  escapes text (commas, semicolons, newlines), which Google Calendar, Outlook and Apple
  Calendar all expect.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from icalendar import Calendar, Event, vCalAddress, vText

from ..booking.service import by_token, manage_url
from ..ports import Services
from .meeting import Meeting, Person, load

PRODID = "-//meetings_addon//Meetings//EN"
FILENAME = "invite.ics"
UTC = timezone.utc


def method_for(meeting: Meeting) -> str:
    return "CANCEL" if meeting.status == "Cancelled" else "REQUEST"


def content_type(method: str) -> str:
    """The MIME type calendars look for (Outlook needs the method parameter)."""
    return f"text/calendar; method={method}"


def _address(person: Person, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    address.params["CN"] = vText(person.name)
    for key, value in params.items():
        address.params[key.replace("_", "-").upper()] = value
    return address


def invitation(meeting: Meeting, *, now: datetime, manage_url: Optional[str] = None, method: Optional[str] = None) -> bytes:
    """The .ics of the meeting as it stands (REQUEST, or CANCEL once cancelled)."""
    method = method or method_for(meeting)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)

    event = Event()
    event.add("uid", meeting.booking.get("ical_uid") or f"{meeting.name}@meetings-addon")
    event.add("sequence", int(meeting.booking.get("sequence") or 0))
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", meeting.start.astimezone(UTC))
    event.add("dtend", meeting.end.astimezone(UTC))
    event.add("summary", meeting.summary)
    description = meeting.description
    join_url = meeting.join_url if method == "REQUEST" else ""
    if join_url and join_url not in description:
        line = meeting.invitee.reader._("Join the video call: {0}", join_url)
        description = f"{description}\n\n{line}" if description else line
    if manage_url and method == "REQUEST":
        line = meeting.invitee.reader._("Reschedule or cancel: {0}", manage_url)
        description = f"{description}\n\n{line}" if description else line
    if description:
        event.add("description", description)
    location = meeting.location or join_url  # calendars show a link in LOCATION as "join"
    if location:
        event.add("location", location)
    if join_url:
        event.add("url", join_url)
        if meeting.video_provider == "Google Meet":
            event.add("x-google-conference", join_url)  # Google Calendar's own join button
        elif meeting.video_provider == "Microsoft Teams":
            event.add("x-microsoft-skypeteamsmeetingurl", join_url)  # Outlook's "Join" button
    event.add("organizer", _address(meeting.host))
    event.add(
        "attendee",
        _address(meeting.invitee, rsvp="TRUE", partstat="NEEDS-ACTION", role="REQ-PARTICIPANT", cutype="INDIVIDUAL"),
    )
    for person in meeting.other_hosts:
        event.add("attendee", _address(person, rsvp="FALSE", partstat="ACCEPTED", role="REQ-PARTICIPANT", cutype="INDIVIDUAL"))
    if method == "CANCEL":
        event.add("status", "CANCELLED")
    else:
        event.add("status", "TENTATIVE" if meeting.status == "Requested" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    return calendar.to_ical()


def calendar_file(services: Services, token: object) -> tuple[str, bytes, str]:
    """The current .ics of the booking a manage token belongs to: (filename, content,
    content type). NotFound (404) for an unknown token."""
    booking = by_token(services, token)
    meeting = load(services, booking)
    method = method_for(meeting)
    link = manage_url(services, str(token), meeting.link) if method == "REQUEST" else None
    content = invitation(meeting, now=services.clock.now(), manage_url=link, method=method)
    return FILENAME, content, content_type(method)
