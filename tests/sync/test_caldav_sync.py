"""Calendar sync against real CalDAV servers (Radicale, Xandikos): sync-collection with
its token, the ETag fallback for servers without it, what gets logged, moves, deletions
(404 hrefs), a refused token, and the app's own events coming back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from meetings_addon.booking import service as booking_service
from meetings_addon.calendars import caldav as adapter
from meetings_addon.connections import manage
from meetings_addon.sync.service import sync_calendar
from tests.calendars.caldav_servers import (  # noqa: F401 - fixtures
    add_link, add_user, ics_event, next_monday, radicale, secret_key, site, visitor, xandikos,
)
from tests.sync.support import add_contact, calendar_bookings, soon

UTC = timezone.utc
HOST = "hana@team.example"
GUEST = "gia@client.example"
CONNECTION = "Calendar Connection"


def created_now() -> str:
    return f"CREATED:{datetime.now(UTC) + timedelta(seconds=1):%Y%m%dT%H%M%SZ}"


def meeting(uid, start, end, attendees=(GUEST,), summary=None, extra=""):
    lines = [created_now(), "ORGANIZER:mailto:alice@example.com"]
    lines += [f"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:{a}" for a in attendees]
    if extra:
        lines.append(extra)
    ics = ics_event(uid, start, end, extra="\n".join(lines))
    return ics.replace(f"SUMMARY:{uid}", f"SUMMARY:{summary}") if summary else ics


class Everything(set):
    def __contains__(self, item):
        return True


@pytest.fixture(params=["radicale", "xandikos", "etags"])
def world(request, site):
    """(services, server, connection, calendar id, contact): a fresh calendar, the only one
    of the connection; `etags` is Radicale read as a server without sync-collection."""
    kind = request.param
    server = request.getfixturevalue("xandikos" if kind == "xandikos" else "radicale")
    if kind == "etags":
        request.getfixturevalue("monkeypatch").setattr(adapter, "_NO_SYNC", Everything())
    add_user(site, HOST)
    calendar_id = server.make_calendar("Work")
    connection = manage.add_caldav(site, HOST, {"caldav_url": server.url, "caldav_username": "alice",
                                                "caldav_password": server.users.get("alice") or "none"})
    rows = [dict(row, is_default=1, check_availability=1)
            for row in site.store.get(CONNECTION, connection["name"])["calendars"] if row["calendar_id"] == calendar_id]
    assert rows, "the new calendar is listed"
    site.store.update(CONNECTION, connection["name"], {"calendars": rows})
    contact = add_contact(site, GUEST)
    return site, server, site.store.get(CONNECTION, connection["name"]), calendar_id, contact, kind


def run(services, connection, calendar_id):
    return sync_calendar(services, connection["name"], calendar_id)


def delete(server, calendar_id, uid):
    response = server.client().delete(f"{server.url.rstrip('/')}{calendar_id}{uid}.ics")
    assert response.status in (200, 204), response.status


def test_first_sync_logs_meetings_with_contacts_then_nothing_twice(world):
    services, server, connection, cal, contact, kind = world
    start, end = soon()
    server.put_event(cal, meeting("demo-1", start, end, summary="Demo with Gia"))
    server.put_event(cal, meeting("focus-1", start + timedelta(hours=2), end + timedelta(hours=2), attendees=()))
    server.put_event(cal, meeting("unknown-1", start, end, attendees=("stranger@else.example",)))

    result = run(services, connection, cal)

    assert result.ran and result.full and result.counts["logged"] == 1
    [booking] = calendar_bookings(services)
    assert booking["status"] == "Confirmed" and booking["contact"] == contact and booking["host"] == HOST
    assert booking["ical_uid"] == "demo-1" and booking["provider_event_id"] == "demo-1.ics"
    assert booking["start"] == start and booking["end"] == end and booking["email"] == GUEST
    timeline = services.store.get("Event", booking["event"])
    assert timeline["subject"] == "Demo with Gia"
    assert [(p["reference_doctype"], p["reference_docname"]) for p in timeline["event_participants"]] == [("Contact", contact)]
    row = services.store.get(CONNECTION, connection["name"])["calendars"][0]
    assert row["sync_token"].startswith("etag:" if kind == "etags" else "sync:")

    again = run(services, connection, cal)
    assert not again.full and again.counts == {"logged": 0, "updated": 0, "cancelled": 0, "skipped": 0}
    assert len(calendar_bookings(services)) == 1


def test_moved_event_updates_booking_and_event(world):
    services, server, connection, cal, _, _ = world
    start, end = soon()
    server.put_event(cal, meeting("demo-2", start, end, summary="Demo"))
    run(services, connection, cal)
    later = (start + timedelta(hours=3), end + timedelta(hours=3))
    server.put_event(cal, meeting("demo-2", *later, summary="Demo (moved)"))
    result = run(services, connection, cal)
    assert result.counts["updated"] == 1
    [booking] = calendar_bookings(services)
    assert (booking["start"], booking["end"]) == later
    timeline = services.store.get("Event", booking["event"])
    assert timeline["starts_on"] == later[0] and timeline["subject"] == "Demo (moved)"


def test_deleted_or_cancelled_event_cancels_booking_and_event(world):
    services, server, connection, cal, _, _ = world
    start, end = soon()
    server.put_event(cal, meeting("gone-1", start, end))
    server.put_event(cal, meeting("off-1", start + timedelta(hours=1), end + timedelta(hours=1)))
    run(services, connection, cal)
    delete(server, cal, "gone-1")  # a 404 href in the next sync-collection
    server.put_event(cal, meeting("off-1", start + timedelta(hours=1), end + timedelta(hours=1), extra="STATUS:CANCELLED"))
    result = run(services, connection, cal)
    assert result.counts["cancelled"] == 2
    bookings = calendar_bookings(services)
    assert [b["status"] for b in bookings] == ["Cancelled", "Cancelled"]
    assert all(services.store.get("Event", b["event"])["status"] == "Cancelled" for b in bookings)


def test_refused_sync_token_resyncs_in_full_without_duplicates(world):
    services, server, connection, cal, _, kind = world
    if kind == "etags":
        pytest.skip("an ETag map is never refused")
    start, end = soon()
    server.put_event(cal, meeting("one-1", start, end))
    run(services, connection, cal)
    server.put_event(cal, meeting("two-1", start + timedelta(days=1), end + timedelta(days=1)))
    rows = [dict(r, sync_token="sync:http://radicale.org/ns/sync/0123456789abcdef" if kind == "radicale" else "sync:999999")
            for r in services.store.get(CONNECTION, connection["name"])["calendars"]]
    services.store.update(CONNECTION, connection["name"], {"calendars": rows})

    result = run(services, connection, cal)

    assert result.full
    bookings = calendar_bookings(services)
    assert sorted(b["ical_uid"] for b in bookings) == ["one-1", "two-1"]
    assert len(services.store.list("Event")) == 2


def test_events_from_before_the_connection_are_ignored(world):
    services, server, connection, cal, _, _ = world
    start, end = soon()
    server.put_event(cal, ics_event("old-1", start, end, extra=f"CREATED:20200101T000000Z\nATTENDEE:mailto:{GUEST}"))
    server.put_event(cal, ics_event("nocreated-1", start, end, extra=f"ATTENDEE:mailto:{GUEST}"))
    run(services, connection, cal)
    assert calendar_bookings(services) == []


def test_the_apps_own_booking_events_are_not_logged_twice(world):
    services, server, connection, cal, _, kind = world
    if kind != "radicale":
        pytest.skip("once is enough")
    services.store.update("User", HOST, {"time_zone": "UTC"})
    add_link(services, "hana-30", HOST, timezone="UTC")
    monday = next_monday()
    slots = booking_service.get_slots(services, {"link": "hana-30", "start": monday.isoformat(),
                                                 "end": (monday + timedelta(days=6)).isoformat(), "timezone": "UTC"})
    booking_service.book(services, {"link": "hana-30", "start": slots["slots"][0]["start"], "duration": 30,
                                   **visitor(email=GUEST)})
    services.jobs.drain(20)
    assert any("@meetings-addon" in text for text in server.events(cal))  # the app wrote it
    events_before = len(services.store.list("Event"))
    result = run(services, connection, cal)
    assert result.counts["logged"] == 0 and result.counts["skipped"] >= 1
    assert calendar_bookings(services) == [] and len(services.store.list("Event")) == events_before


def test_recurring_master_is_one_event_at_its_first_occurrence():
    start = datetime(2031, 3, 4, 14, tzinfo=UTC)
    ics = ics_event("weekly-1", start, start + timedelta(hours=1),
                    extra=f"RRULE:FREQ=WEEKLY;COUNT=5\nCREATED:20310101T000000Z\nATTENDEE;CUTYPE=ROOM:mailto:room@x.example\n"
                          f"ATTENDEE:mailto:Gia@Client.example")
    moved = ("BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:20310311T140000Z\r\n"
             "DTSTART:20310311T160000Z\r\nDTEND:20310311T170000Z\r\nEND:VEVENT\r\n")
    event = adapter.remote_event(ics.replace("END:VCALENDAR", moved + "END:VCALENDAR"), "weekly-1.ics")
    assert (event.start, event.end) == (start, start + timedelta(hours=1))
    assert event.attendees == ["gia@client.example"] and event.ical_uid == "weekly-1"
    assert event.created == datetime(2031, 1, 1, tzinfo=UTC) and event.status == "confirmed"
