"""The iCalendar invitation, generated and parsed back with icalendar: RFC 5546 REQUEST
and CANCEL, one UID across a booking's life, SEQUENCE raised on each change, the booked
instant in UTC, ORGANIZER and ATTENDEEs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from icalendar import Calendar

from meetings_addon.notifications import ics
from meetings_addon.notifications.meeting import load

from .conftest import GUEST, HOST, token_of

UTC = timezone.utc


def only_event(calendar: Calendar):
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return events[0]


def params(address) -> dict:
    return {key.upper(): str(value) for key, value in address.params.items()}


def booking_doc(services, name: str) -> dict:
    return services.store.get("Booking", name)


def test_request_has_what_calendars_need(scene):
    scene.host()
    scene.link(location="Zoom, room 4; floor 2", invitation_description="Agenda for {{ first_name }}:\nintro, demo")
    start = scene.at(10)
    answer = scene.book(start)
    doc = booking_doc(scene.services, answer["booking"])
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    raw = ics.invitation(load(scene.services, doc), now=now, manage_url="https://example.test/meetings/manage/t0ken")
    assert raw.startswith(b"BEGIN:VCALENDAR\r\n") and raw.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b""), "every line ends with CRLF"
    assert all(len(line) <= 75 for line in raw.split(b"\r\n")), "lines are folded at 75 octets"

    calendar = Calendar.from_ical(raw)
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["CALSCALE"]) == "GREGORIAN"
    assert str(calendar["PRODID"]) == ics.PRODID
    event = only_event(calendar)
    assert str(event["UID"]) == doc["ical_uid"]
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTAMP") == now
    assert event.decoded("DTSTART") == start and event.decoded("DTSTART").utcoffset() == timedelta(0)
    assert event.decoded("DTEND") == start + timedelta(minutes=30)
    assert b"DTSTART:" + start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ").encode() in raw
    assert str(event["SUMMARY"]) == "Intro call with Vera Visitor"  # the link's invitation subject tokens
    assert str(event["LOCATION"]) == "Zoom, room 4; floor 2"  # escaped in the file, intact when read back
    description = str(event["DESCRIPTION"])
    assert description.startswith("Agenda for Vera:\nintro, demo")
    assert "https://example.test/meetings/manage/t0ken" in description
    assert str(event["STATUS"]) == "CONFIRMED"

    organizer = event["ORGANIZER"]
    assert str(organizer) == f"mailto:{HOST}" and params(organizer)["CN"] == "Hana Host"
    attendees = event.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees]
    assert [str(a) for a in attendees] == [f"mailto:{GUEST}"]
    expected = {"CN": "Vera Visitor", "RSVP": "TRUE", "PARTSTAT": "NEEDS-ACTION", "ROLE": "REQ-PARTICIPANT"}
    assert params(attendees[0]).items() >= expected.items()


def test_group_meeting_lists_the_other_hosts_as_attendees(scene):
    scene.host()
    scene.host("sam@team.example", "Europe/Lisbon", "Sam Second")
    scene.link("team-30", meeting_type="Group", hosts=[{"user": HOST}, {"user": "sam@team.example"}])
    answer = scene.book(scene.at(11), slug="team-30")
    calendar = Calendar.from_ical(ics.invitation(load(scene.services, booking_doc(scene.services, answer["booking"])),
                                                 now=datetime.now(UTC)))
    event = only_event(calendar)
    attendees = {str(a): params(a) for a in event.get("ATTENDEE")}
    assert attendees[f"mailto:{GUEST}"]["PARTSTAT"] == "NEEDS-ACTION"
    assert attendees["mailto:sam@team.example"]["CN"] == "Sam Second"
    assert attendees["mailto:sam@team.example"]["PARTSTAT"] == "ACCEPTED"
    assert str(event["ORGANIZER"]) == f"mailto:{HOST}"


def test_uid_is_stable_and_sequence_rises_from_confirm_to_reschedule_to_cancel(scene):
    """The invitations the invitee receives, in order: REQUEST, REQUEST, CANCEL."""
    scene.host()
    scene.link()
    first, moved = scene.at(10), scene.at(14, days=1)
    answer = scene.book(first)
    token = token_of(answer)
    uid = booking_doc(scene.services, answer["booking"])["ical_uid"]
    scene.reschedule(token, moved)
    scene.cancel(token, "Something came up")

    invitations = [email.invitation() for email in scene.sent_to(GUEST)]
    assert len(invitations) == 3 and all(invitations)
    methods = [str(c["METHOD"]) for c in invitations]
    events = [only_event(c) for c in invitations]
    assert methods == ["REQUEST", "REQUEST", "CANCEL"]
    assert {str(e["UID"]) for e in events} == {uid}
    sequences = [int(e["SEQUENCE"]) for e in events]
    assert sequences == sorted(sequences) and len(set(sequences)) == 3, sequences
    assert [e.decoded("DTSTART") for e in events] == [first, moved, moved]
    assert [str(e["STATUS"]) for e in events] == ["CONFIRMED", "CONFIRMED", "CANCELLED"]
    cancel = events[2]
    assert str(cancel["ORGANIZER"]) == f"mailto:{HOST}" and str(cancel["ATTENDEE"]) == f"mailto:{GUEST}"


def test_the_attachment_is_a_text_calendar_with_its_method(scene):
    scene.host()
    scene.link()
    token = token_of(scene.book(scene.at(10)))
    scene.cancel(token)
    kinds = [[(name, kind) for name, kind, _ in email.attachments] for email in scene.sent_to(GUEST)]
    assert kinds == [[("invite.ics", "text/calendar; method=REQUEST")], [("invite.ics", "text/calendar; method=CANCEL")]]
    # Outlook reads the invitation from a text/calendar alternative of the body as well.
    message = scene.sent_to(GUEST)[0].message
    alternatives = [part for part in message.walk() if part.get_content_type() == "text/calendar" and not part.get_filename()]
    assert len(alternatives) == 1 and alternatives[0].get_param("method") == "REQUEST"
