"""The CalDAV adapter against real servers: Radicale (started per module, htpasswd auth)
and Xandikos. Calendars listed, busy times both ways (free-busy-query and expanded
events) with recurrences, transparent, cancelled and declined events, writes keyed by
the booking's UID, and the errors that name what to fix."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from meetings_addon.calendars import caldav as adapter
from meetings_addon.calendars.caldav import CalDAVCalendar, busy_from_ics, parse_freebusy
from meetings_addon.errors import CalendarUnavailable
from tests.calendars.caldav_servers import ics_event, radicale, xandikos  # noqa: F401 - fixtures
from zoneinfo import ZoneInfo

UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")
MONDAY = datetime(2031, 3, 3, tzinfo=UTC)  # a Monday, well in the future
WEEK = (MONDAY, MONDAY + timedelta(days=7))


def account(server, user="alice", **kwargs) -> CalDAVCalendar:
    return CalDAVCalendar(server.url, user, server.users.get(user, ""), zone="Europe/Paris",
                          account=f"{user}@example.com", **kwargs)


@pytest.fixture
def events_only(monkeypatch):
    """Busy times from the events, as for a server that refuses free-busy-query."""

    class Everything(set):
        def __contains__(self, item):
            return True

    monkeypatch.setattr(adapter, "_NO_FREEBUSY", Everything())


def seed(server, calendar_id: str) -> None:
    """Monday 09:00-10:00 busy; a transparent and a cancelled event; a weekly recurring
    event (Tuesdays 14:00 UTC) with one occurrence moved and one removed; an invitation
    Alice declined; an all-day event on Thursday (Paris day)."""
    put = lambda ics: server.put_event(calendar_id, ics)  # noqa: E731
    put(ics_event("busy-1", MONDAY + timedelta(hours=9), MONDAY + timedelta(hours=10)))
    put(ics_event("transparent-1", MONDAY + timedelta(hours=11), MONDAY + timedelta(hours=12), extra="TRANSP:TRANSPARENT"))
    put(ics_event("cancelled-1", MONDAY + timedelta(hours=13), MONDAY + timedelta(hours=14), extra="STATUS:CANCELLED"))
    put(ics_event("declined-1", MONDAY + timedelta(hours=15), MONDAY + timedelta(hours=16),
                  extra="ORGANIZER:mailto:boss@example.com\nATTENDEE;PARTSTAT=DECLINED:mailto:alice@example.com"))
    tuesday = MONDAY + timedelta(days=1, hours=14)
    recurring = ics_event("weekly-1", tuesday - timedelta(days=14), tuesday - timedelta(days=14) + timedelta(hours=1),
                          extra=f"RRULE:FREQ=WEEKLY;COUNT=10\nEXDATE:{tuesday + timedelta(days=7):%Y%m%dT%H%M%SZ}")
    moved = (
        "BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20260101T000000Z\r\n"
        f"RECURRENCE-ID:{tuesday:%Y%m%dT%H%M%SZ}\r\nDTSTART:{tuesday + timedelta(hours=2):%Y%m%dT%H%M%SZ}\r\n"
        f"DTEND:{tuesday + timedelta(hours=3):%Y%m%dT%H%M%SZ}\r\nSUMMARY:moved\r\nEND:VEVENT\r\n"
    )
    put(recurring.replace("END:VCALENDAR", moved + "END:VCALENDAR"))
    put(ics_event("allday-1", MONDAY, MONDAY, all_day=(MONDAY + timedelta(days=3)).date()))


def expected(declined_blocks: bool, all_day_zone=PARIS) -> list[tuple[datetime, datetime]]:
    tuesday = MONDAY + timedelta(days=1, hours=14)
    thursday = datetime.combine((MONDAY + timedelta(days=3)).date(), datetime.min.time(), all_day_zone)
    found = [
        (MONDAY + timedelta(hours=9), MONDAY + timedelta(hours=10)),
        (tuesday + timedelta(hours=2), tuesday + timedelta(hours=3)),  # the moved occurrence only
        (thursday.astimezone(UTC), (thursday + timedelta(days=1)).astimezone(UTC)),
    ]
    if declined_blocks:
        found.append((MONDAY + timedelta(hours=15), MONDAY + timedelta(hours=16)))
    return sorted(found)


# --- calendars -----------------------------------------------------------------------------


def test_lists_the_event_calendars_of_the_account(radicale):
    work = radicale.make_calendar("Work")
    home = radicale.make_calendar("Home")
    tasks = radicale.make_calendar("Tasks", tasks_only=True)
    listed = {row["calendar_id"]: row for row in account(radicale).list_calendars()}
    assert work in listed and home in listed and tasks not in listed  # a task list holds no meetings
    assert listed[work]["calendar_name"] == "Work" and listed[work]["access_role"] in ("owner", "writer")
    assert sum(row["is_default"] for row in listed.values()) == 1
    assert all(calendar_id.startswith("/alice/") for calendar_id in listed)  # never another user's


def test_a_wrong_password_names_caldav_password(radicale):
    with pytest.raises(CalendarUnavailable) as refused:
        CalDAVCalendar(radicale.url, "alice", "not-the-password").list_calendars()
    assert refused.value.field == "caldav_password" and "401" in refused.value.message
    assert refused.value.transient is False


def test_no_server_there_names_caldav_url():
    with pytest.raises(CalendarUnavailable) as refused:
        CalDAVCalendar("http://127.0.0.1:9/", "alice", "x", timeout=3).list_calendars()
    assert refused.value.field == "caldav_url" and refused.value.transient is True
    with pytest.raises(CalendarUnavailable) as plain:
        CalDAVCalendar("http://dav.example.com/", "alice", "x")
    assert plain.value.field == "caldav_url" and "https" in plain.value.message


# --- busy times ------------------------------------------------------------------------------------


def test_busy_by_free_busy_query(radicale):
    calendar_id = radicale.make_calendar("Busy FB")
    seed(radicale, calendar_id)
    found = account(radicale).busy([calendar_id], *WEEK)
    # The server's free-busy: transparent and cancelled never block; it counts declined
    # invitations (Radicale does not look at PARTSTAT) and reads all-day events in its own
    # zone (UTC for Radicale), where the events path uses the user's.
    assert found[calendar_id] == expected(declined_blocks=True, all_day_zone=UTC)


def test_busy_from_expanded_events(radicale, events_only):
    calendar_id = radicale.make_calendar("Busy events")
    seed(radicale, calendar_id)
    found = account(radicale).busy([calendar_id], *WEEK)
    assert found[calendar_id] == expected(declined_blocks=False)


def test_busy_is_clipped_to_the_range_and_read_for_several_calendars(radicale):
    first, second = radicale.make_calendar("One"), radicale.make_calendar("Two")
    radicale.put_event(first, ics_event("long-1", MONDAY - timedelta(hours=2), MONDAY + timedelta(hours=2)))
    radicale.put_event(second, ics_event("late-1", MONDAY + timedelta(days=6, hours=23), MONDAY + timedelta(days=8)))
    found = account(radicale).busy([first, second], *WEEK)
    assert found == {first: [(MONDAY, MONDAY + timedelta(hours=2))],
                     second: [(MONDAY + timedelta(days=6, hours=23), WEEK[1])]}


def test_a_deleted_calendar_fails_alone(radicale):
    kept, deleted = radicale.make_calendar("Kept"), radicale.make_calendar("Deleted")
    radicale.put_event(kept, ics_event("kept-1", MONDAY + timedelta(hours=9), MONDAY + timedelta(hours=10)))
    radicale.delete_calendar(deleted)
    with pytest.raises(CalendarUnavailable) as failed:
        account(radicale).busy([kept, deleted], *WEEK)
    assert list(failed.value.calendars) == [deleted] and "404" in failed.value.calendars[deleted]
    assert failed.value.busy == {kept: [(MONDAY + timedelta(hours=9), MONDAY + timedelta(hours=10))]}


def test_xandikos_both_ways(xandikos, monkeypatch):
    calendar_id = xandikos.make_calendar("Work")
    seed(xandikos, calendar_id)
    reader = CalDAVCalendar(xandikos.url, "user", "", zone="Europe/Paris", account="alice@example.com")
    assert calendar_id in {row["calendar_id"] for row in reader.list_calendars()}
    by_report = reader.busy([calendar_id], *WEEK)[calendar_id]
    monkeypatch.setattr(adapter, "_NO_FREEBUSY", {reader._absolute(calendar_id)})
    by_events = reader.busy([calendar_id], *WEEK)[calendar_id]
    assert by_events == expected(declined_blocks=False)
    # The server's own report: all-day in its zone (UTC), the declined invitation maybe.
    assert by_report in (expected(declined_blocks=True, all_day_zone=UTC), expected(declined_blocks=False, all_day_zone=UTC))


# --- both shapes of a free-busy answer ---------------------------------------------------------------


def test_parses_freebusy_lines_with_types_and_durations():
    start, end = WEEK
    data = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VFREEBUSY\r\n"
        "DTSTART:20310303T000000Z\r\nDTEND:20310310T000000Z\r\n"
        "FREEBUSY;FBTYPE=BUSY:20310303T090000Z/20310303T100000Z,20310304T090000Z/PT30M\r\n"
        "FREEBUSY;FBTYPE=FREE:20310305T090000Z/20310305T100000Z\r\n"
        "FREEBUSY;FBTYPE=BUSY-TENTATIVE:20310306T090000Z/20310306T100000Z\r\n"
        "FREEBUSY:20310302T230000Z/20310303T010000Z\r\n"
        "END:VFREEBUSY\r\nEND:VCALENDAR\r\n"
    )
    assert parse_freebusy(data, start, end, PARIS) == [
        (MONDAY, MONDAY + timedelta(hours=1)),  # clipped to the range
        (MONDAY + timedelta(hours=9), MONDAY + timedelta(hours=10)),
        (MONDAY + timedelta(days=1, hours=9), MONDAY + timedelta(days=1, hours=9, minutes=30)),
        (MONDAY + timedelta(days=3, hours=9), MONDAY + timedelta(days=3, hours=10)),
    ]


def test_parses_one_vfreebusy_per_interval_as_earlier_radicale_answers():
    start, end = WEEK
    block = lambda a, b, fbtype: (  # noqa: E731
        f"BEGIN:VFREEBUSY\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{a}\r\nDTEND:{b}\r\nFBTYPE:{fbtype}\r\nEND:VFREEBUSY\r\n"
    )
    data = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n"
            + block("20310303T090000Z", "20310303T100000Z", "BUSY")
            + block("20310303T130000Z", "20310303T140000Z", "FREE")  # a cancelled event
            + block("20310304T100000", "20310304T110000", "BUSY-TENTATIVE")  # floating: the user's zone
            + "END:VCALENDAR\r\n")
    assert parse_freebusy(data, start, end, PARIS) == [
        (MONDAY + timedelta(hours=9), MONDAY + timedelta(hours=10)),
        (MONDAY + timedelta(days=1, hours=9), MONDAY + timedelta(days=1, hours=10)),
    ]
    # Nothing busy: earlier Radicale answers no VFREEBUSY; the standard one spans the range.
    assert parse_freebusy("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nEND:VCALENDAR\r\n", start, end, PARIS) == []
    empty = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VFREEBUSY\r\nDTSTART:20310303T000000Z\r\n"
             "DTEND:20310310T000000Z\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n")
    assert parse_freebusy(empty, start, end, PARIS) == []
    assert parse_freebusy("<html>no</html>", start, end, PARIS) is None  # not free/busy: read the events


def test_floating_and_all_day_events_are_read_in_the_users_zone():
    data = ics_event("f", MONDAY, MONDAY).replace("DTSTART:20310303T000000Z", "DTSTART:20310303T100000") \
        .replace("DTEND:20310303T000000Z", "DTEND:20310303T110000")
    assert busy_from_ics(data, *WEEK, PARIS) == [(MONDAY + timedelta(hours=9), MONDAY + timedelta(hours=10))]


# --- writes ----------------------------------------------------------------------------------------


def event(uid: str, hour: int = 9, sequence: int = 0) -> dict:
    return {"uid": uid, "summary": "Intro call with Vera Visitor", "description": "Agenda", "location": "Video",
            "start": MONDAY + timedelta(hours=hour), "end": MONDAY + timedelta(hours=hour, minutes=30),
            "attendees": ["vera@client.example"], "sequence": sequence}


def test_create_update_cancel_are_idempotent(radicale):
    calendar_id = radicale.make_calendar("Bookings")
    writer = account(radicale)
    first = writer.create_event(calendar_id, event("b1@meetings-addon"))
    again = writer.create_event(calendar_id, event("b1@meetings-addon"))  # a retried job
    assert first == again and first["uid"] == "b1@meetings-addon"
    stored = [text.replace("\n ", "") for text in radicale.events(calendar_id)]  # unfolded
    assert len(stored) == 1
    assert "UID:b1@meetings-addon" in stored[0] and "ATTENDEE" in stored[0] and "mailto:vera@client.example" in stored[0]
    assert "ORGANIZER:mailto:alice@example.com" in stored[0]
    assert writer.busy([calendar_id], *WEEK)[calendar_id] == [(MONDAY + timedelta(hours=9), MONDAY + timedelta(hours=9, minutes=30))]

    writer.update_event(calendar_id, first["id"], event("b1@meetings-addon", hour=11, sequence=1))
    writer.update_event(calendar_id, first["id"], event("b1@meetings-addon", hour=11, sequence=1))
    stored = radicale.events(calendar_id)
    assert len(stored) == 1 and "SEQUENCE:1" in stored[0]
    assert writer.busy([calendar_id], *WEEK)[calendar_id] == [(MONDAY + timedelta(hours=11), MONDAY + timedelta(hours=11, minutes=30))]

    writer.cancel_event(calendar_id, first["id"])
    writer.cancel_event(calendar_id, first["id"])  # already gone: fine
    assert radicale.events(calendar_id) == [] and writer.busy([calendar_id], *WEEK)[calendar_id] == []


def test_an_event_filed_elsewhere_under_the_uid_is_updated_not_doubled(radicale):
    calendar_id = radicale.make_calendar("Imported")
    radicale.put_event(calendar_id, ics_event("elsewhere-1", MONDAY, MONDAY + timedelta(hours=1)).replace(
        "UID:elsewhere-1", "UID:b2@meetings-addon"))  # stored at elsewhere-1.ics
    made = account(radicale).create_event(calendar_id, event("b2@meetings-addon"))
    stored = radicale.events(calendar_id)
    # Radicale replaces the other resource (a server that refuses with no-uid-conflict gets
    # the event it has updated in place): one event either way, and its id.
    assert len(stored) == 1 and "Intro call" in stored[0]
    assert made["id"] in ("b2%40meetings-addon.ics", "elsewhere-1.ics")


def test_writing_to_a_deleted_calendar_says_so(radicale):
    calendar_id = radicale.make_calendar("Soon gone")
    radicale.delete_calendar(calendar_id)
    with pytest.raises(CalendarUnavailable) as failed:
        account(radicale).create_event(calendar_id, event("b3@meetings-addon"))
    assert calendar_id in failed.value.calendars


def test_xandikos_refuses_a_second_resource_for_a_uid_and_the_first_is_updated(xandikos):
    calendar_id = xandikos.make_calendar("Imported")
    xandikos.put_event(calendar_id, ics_event("elsewhere-2", MONDAY, MONDAY + timedelta(hours=1)).replace(
        "UID:elsewhere-2", "UID:b4@meetings-addon"))  # stored at elsewhere-2.ics
    writer = CalDAVCalendar(xandikos.url, "user", "", zone="Europe/Paris")
    made = writer.create_event(calendar_id, event("b4@meetings-addon"))
    again = writer.create_event(calendar_id, event("b4@meetings-addon"))
    stored = xandikos.events(calendar_id)
    assert len(stored) == 1 and "Intro call" in stored[0]
    assert made == again


def test_a_server_refusing_a_second_resource_for_the_uid_gets_the_first_updated():
    """RFC 4791 no-uid-conflict (Radicale and Xandikos replace instead; Cyrus, SabreDAV
    refuse): the event filed under the UID is found and updated in place, not doubled."""
    from lxml import etree

    calendar = "https://dav.example.com/cal/work/"
    existing = calendar + "imported-7.ics"

    class Answer:
        def __init__(self, status, tree=None):
            self.status, self.tree = status, tree

    class Client:
        puts: list = []

        def put(self, href, body, headers):
            self.puts.append(href)
            return Answer(409 if href != existing else 204)

        def report(self, url, body, depth):
            assert "b5@meetings-addon" in body
            tree = etree.fromstring(
                b'<d:multistatus xmlns:d="DAV:"><d:response><d:href>/cal/work/imported-7.ics</d:href>'
                b'<d:propstat><d:prop><d:getetag>"1"</d:getetag></d:prop><d:status>HTTP/1.1 200 OK</d:status>'
                b'</d:propstat></d:response></d:multistatus>')
            return Answer(207, tree)

    writer = CalDAVCalendar("https://dav.example.com/", "alice", "pw")
    writer._client = Client()
    made = writer.create_event("/cal/work/", event("b5@meetings-addon"))
    assert made == {"id": "imported-7.ics", "uid": "b5@meetings-addon"}
    assert Client.puts == [calendar + "b5%40meetings-addon.ics", existing]
