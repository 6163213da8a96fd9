"""Calendar sync against the Microsoft Graph emulator (calendarView/delta): what gets
logged on the timeline, moves, deletions (@removed), an expired delta token, and the
app's own events coming back."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest

from meetings_addon.booking import service as booking_service
from meetings_addon.booking.jobs import sync_calendar_event
from meetings_addon.calendars.microsoft import remote_event
from meetings_addon.connections import microsoft_oauth
from meetings_addon.sync.service import sync_calendar
from tests.sync.support import add_contact, calendar_bookings, soon

HOST = "host@team.example"
GUEST = "gia@client.example"
DELTA = r"/calendarView/delta$"


def connect(services, microsoft, kit):
    microsoft.add_mailbox(HOST, calendars=0)
    kit.add_host(services)
    url = microsoft_oauth.start(services, HOST)
    return microsoft_oauth.callback(services, kit.consent(url, os.environ["MEETINGS_CA_BUNDLE"]))


@pytest.fixture
def world(services, microsoft, kit):
    connection = connect(services, microsoft, kit)
    contact = add_contact(services, GUEST)
    return services, microsoft, connection, contact, microsoft.mailboxes[HOST].default.id


def run(services, connection, calendar_id, **kwargs):
    return sync_calendar(services, connection["name"], calendar_id, **kwargs)


def test_first_sync_logs_meetings_with_contacts_then_nothing_twice(world):
    services, microsoft, connection, contact, cal = world
    start, end = soon()
    event = microsoft.add_event(HOST, cal, start, end, subject="Demo with Gia", attendees=[GUEST], description="Agenda")
    microsoft.add_event(HOST, cal, start + timedelta(hours=2), end + timedelta(hours=2), subject="Focus time")
    microsoft.add_event(HOST, cal, start, end, subject="Unknown", attendees=["stranger@else.example"])

    result = run(services, connection, cal, page_size=2)  # two pages: @odata.nextLink followed

    assert result.ran and result.full and result.pages == 2 and result.counts["logged"] == 1
    [booking] = calendar_bookings(services)
    assert booking["status"] == "Confirmed" and booking["host"] == HOST and booking["contact"] == contact
    assert booking["provider_event_id"] == event["id"] and booking["ical_uid"] == event["iCalUId"]
    assert booking["start"] == start and booking["end"] == end and booking["email"] == GUEST
    timeline = services.store.get("Event", booking["event"])
    assert timeline["event_category"] == "Meeting" and timeline["subject"] == "Demo with Gia"
    assert timeline["description"] == "Agenda"
    assert [(p["reference_doctype"], p["reference_docname"]) for p in timeline["event_participants"]] == [("Contact", contact)]
    row = services.store.get("Calendar Connection", connection["name"])["calendars"][0]
    assert "$deltatoken=" in row["sync_token"] and not row["sync_page_token"] and not row["sync_lease_until"]
    first = microsoft.matching("GET", DELTA)[0]
    assert first.query.get("startDateTime") and first.query.get("endDateTime")
    assert "odata.maxpagesize=2" in first.headers["prefer"]

    again = run(services, connection, cal)
    assert not again.full and again.counts == {"logged": 0, "updated": 0, "cancelled": 0, "skipped": 0}
    assert microsoft.matching("GET", DELTA)[-1].query.get("$deltatoken")
    assert len(calendar_bookings(services)) == 1


def test_moved_retitled_event_updates_booking_and_event(world):
    services, microsoft, connection, _, cal = world
    start, end = soon()
    event = microsoft.add_event(HOST, cal, start, end, subject="Demo", attendees=[GUEST])
    run(services, connection, cal)
    microsoft.change_event(HOST, cal, event["id"], start=start + timedelta(hours=3), end=end + timedelta(hours=3),
                           subject="Demo (moved)", body={"contentType": "text", "content": "New agenda"})
    result = run(services, connection, cal)
    assert result.counts["updated"] == 1
    [booking] = calendar_bookings(services)
    assert booking["start"] == start + timedelta(hours=3) and booking["end"] == end + timedelta(hours=3)
    timeline = services.store.get("Event", booking["event"])
    assert timeline["starts_on"] == start + timedelta(hours=3) and timeline["subject"] == "Demo (moved)"
    assert timeline["description"] == "New agenda"


def test_removed_event_cancels_booking_and_event(world):
    services, microsoft, connection, _, cal = world
    start, end = soon()
    event = microsoft.add_event(HOST, cal, start, end, attendees=[GUEST])
    run(services, connection, cal)
    microsoft.remove_event(HOST, cal, event["id"])
    result = run(services, connection, cal)
    assert result.counts["cancelled"] == 1
    [booking] = calendar_bookings(services)
    assert booking["status"] == "Cancelled"
    assert services.store.get("Event", booking["event"])["status"] == "Cancelled"


def test_cancelled_in_outlook_cancels_too(world):
    services, microsoft, connection, _, cal = world
    start, end = soon()
    event = microsoft.add_event(HOST, cal, start, end, attendees=[GUEST])
    run(services, connection, cal)
    microsoft.change_event(HOST, cal, event["id"], isCancelled=True)
    assert run(services, connection, cal).counts["cancelled"] == 1
    assert calendar_bookings(services)[0]["status"] == "Cancelled"


def test_expired_delta_token_resyncs_in_full_without_duplicates(world):
    services, microsoft, connection, _, cal = world
    start, end = soon()
    microsoft.add_event(HOST, cal, start, end, attendees=[GUEST])
    run(services, connection, cal)
    microsoft.add_event(HOST, cal, start + timedelta(days=1), end + timedelta(days=1), attendees=[GUEST])
    microsoft.expire_delta_tokens()

    result = run(services, connection, cal)

    assert result.full
    bookings = calendar_bookings(services)
    assert len(bookings) == 2 and len({b["provider_event_id"] for b in bookings}) == 2
    assert len(services.store.list("Event")) == 2
    requests = microsoft.matching("GET", DELTA)
    assert requests[-1].query.get("startDateTime")  # started over from the window


def test_events_from_before_the_connection_are_ignored(world):
    services, microsoft, connection, _, cal = world
    start, end = soon()
    microsoft.add_event(HOST, cal, start, end, attendees=[GUEST], created=connection["connected_on"] - timedelta(days=3))
    run(services, connection, cal)
    assert calendar_bookings(services) == []


def test_the_apps_own_booking_events_are_not_logged_twice(world, kit):
    services, microsoft, connection, contact, cal = world
    kit.add_link(services)
    slots = booking_service.get_slots(services, {"link": "hana-30", "start": kit.next_monday().isoformat(),
                                                 "end": (kit.next_monday() + timedelta(days=6)).isoformat(),
                                                 "timezone": "UTC"})
    booked = booking_service.book(services, {"link": "hana-30", "start": slots["slots"][0]["start"], "duration": 30,
                                            **kit.visitor(email=GUEST)})
    services.jobs.drain(10)
    name = booked.get("name") or booked.get("booking")
    doc = services.store.get("Booking", name) if name else services.store.list("Booking", fields=("*",))[0]
    if not doc.get("provider_event_id"):
        sync_calendar_event(services, doc["name"])
    assert microsoft.events(HOST, cal)  # the app wrote its event to Outlook
    events_before = len(services.store.list("Event"))
    result = run(services, connection, cal)
    assert result.counts["logged"] == 0 and result.counts["skipped"] >= 1
    assert calendar_bookings(services) == [] and len(services.store.list("Event")) == events_before


def test_remote_event_mapping():
    item = {
        "id": "AAMk1", "iCalUId": "0400ABC", "subject": "Plan", "showAs": "tentative", "isCancelled": False,
        "body": {"contentType": "html", "content": "<p>x</p>"}, "bodyPreview": "x",
        "start": {"dateTime": "2031-03-03T10:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2031-03-03T10:30:00.0000000", "timeZone": "UTC"},
        "createdDateTime": "2031-03-01T08:00:00.1234567Z",
        "organizer": {"emailAddress": {"address": "Host@Team.example"}},
        "attendees": [{"type": "required", "emailAddress": {"address": "Gia@Client.example"}},
                      {"type": "resource", "emailAddress": {"address": "room@team.example"}}],
    }
    event = remote_event(item)
    assert event.status == "tentative" and event.description == "x" and event.ical_uid == "0400ABC"
    assert event.attendees == ["gia@client.example"] and event.organizer == "host@team.example"
    assert event.created == datetime(2031, 3, 1, 8, 0, 0, 123456, tzinfo=timezone.utc)
    assert event.start == datetime(2031, 3, 3, 10, tzinfo=timezone.utc)
    removed = remote_event({"id": "AAMk2", "@removed": {"reason": "deleted"}})
    assert removed.cancelled and removed.id == "AAMk2"
