"""Importing .ics files into a user's Local calendar: expansion, time zones, transparency,
cancellations and idempotent re-imports."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from meetings_addon.calendars.local import LocalCalendar
from meetings_addon.errors import InvalidInput, NotFound
from meetings_addon.hosts.standalone.ics import import_ics, import_ics_data

UTC = timezone.utc


def ics(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n".replace("\n", "\r\n").replace("\r\r", "\r") for e in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n"


def stamp(day, hhmm: str = "") -> str:
    return day.strftime("%Y%m%d") + (f"T{hhmm}00" if hhmm else "")


def rows(services, user="tokyo@team.example"):
    return services.store.list(
        "Local Calendar Event", {"user": user}, fields=("uid", "recurrence_id", "summary", "start", "end", "all_day", "transparent", "status"),
        order_by="start asc",
    )


@pytest.fixture
def user(h):
    h.add_host("tokyo@team.example", tz="Asia/Tokyo", name="Tomo Tokyo")
    return "tokyo@team.example"


def test_kinds_of_events(services, user, h):
    monday = h.next_monday()
    tokyo = ZoneInfo("Asia/Tokyo")
    data = ics(
        f"UID:weekly@x\nSUMMARY:Weekly\nDTSTART;TZID=Europe/Paris:{stamp(monday, '1000')}\nDTEND;TZID=Europe/Paris:{stamp(monday, '1100')}\n"
        f"RRULE:FREQ=WEEKLY;COUNT=4\nEXDATE;TZID=Europe/Paris:{stamp(monday + timedelta(days=14), '1000')}",
        f"UID:weekly@x\nRECURRENCE-ID;TZID=Europe/Paris:{stamp(monday + timedelta(days=7), '1000')}\nSUMMARY:Weekly (moved)\n"
        f"DTSTART;TZID=Europe/Paris:{stamp(monday + timedelta(days=8), '1500')}\nDTEND;TZID=Europe/Paris:{stamp(monday + timedelta(days=8), '1600')}",
        f"UID:floating@x\nSUMMARY:Floating\nDTSTART:{stamp(monday, '0900')}\nDTEND:{stamp(monday, '0930')}",
        f"UID:allday@x\nSUMMARY:Holiday\nDTSTART;VALUE=DATE:{stamp(monday + timedelta(days=3))}\nDTEND;VALUE=DATE:{stamp(monday + timedelta(days=4))}",
        f"UID:free@x\nSUMMARY:Free\nTRANSP:TRANSPARENT\nDTSTART:{stamp(monday, '1200')}Z\nDURATION:PT1H",
        f"UID:gone@x\nSUMMARY:Cancelled\nSTATUS:CANCELLED\nDTSTART:{stamp(monday, '1300')}Z\nDTEND:{stamp(monday, '1400')}Z",
        f"UID:far@x\nSUMMARY:Too far\nDTSTART:{stamp(monday + timedelta(days=800), '1300')}Z\nDTEND:{stamp(monday + timedelta(days=800), '1400')}Z",
        f"UID:old@x\nSUMMARY:Long ago\nDTSTART:{stamp(monday - timedelta(days=90), '1300')}Z\nDTEND:{stamp(monday - timedelta(days=90), '1400')}Z",
    )
    assert import_ics_data(services, user, data) == 6
    found = {(r["uid"], r["recurrence_id"]): r for r in rows(services)}
    assert set(r["summary"] for r in found.values()) == {"Weekly", "Weekly (moved)", "Floating", "Holiday", "Free"}
    weekly = sorted((r for r in found.values() if r["uid"] == "weekly@x"), key=lambda r: r["start"])
    assert len(weekly) == 3  # four occurrences, one excluded by EXDATE
    paris = ZoneInfo("Europe/Paris")
    assert weekly[0]["start"] == datetime.combine(monday, datetime.min.time().replace(hour=10), paris).astimezone(UTC)
    assert weekly[1]["summary"] == "Weekly (moved)" and weekly[1]["start"].astimezone(paris).hour == 15
    assert weekly[1]["recurrence_id"] != weekly[0]["recurrence_id"]

    floating = found[("floating@x", None)]
    assert floating["start"] == datetime.combine(monday, datetime.min.time().replace(hour=9), tokyo).astimezone(UTC)
    holiday = found[("allday@x", None)]
    thursday = monday + timedelta(days=3)
    assert holiday["all_day"] == 1
    assert holiday["start"] == datetime.combine(thursday, datetime.min.time(), tokyo).astimezone(UTC)
    assert holiday["end"] - holiday["start"] == timedelta(days=1)
    assert found[("free@x", None)]["transparent"] == 1
    assert found[("free@x", None)]["end"] - found[("free@x", None)]["start"] == timedelta(hours=1)

    busy = LocalCalendar(services.store, user).busy([user], datetime.combine(monday, datetime.min.time(), UTC),
                                                    datetime.combine(monday + timedelta(days=1), datetime.min.time(), UTC))[user]
    starts = sorted(b[0] for b in busy)
    assert floating["start"] in starts and weekly[0]["start"] in starts
    assert found[("free@x", None)]["start"] not in starts  # transparent: does not block


def test_reimport_updates_instead_of_duplicating(services, user, h, tmp_path):
    monday = h.next_monday()
    path = tmp_path / "cal.ics"
    first = ics(
        f"UID:daily@x\nSUMMARY:Daily\nDTSTART:{stamp(monday, '0100')}Z\nDTEND:{stamp(monday, '0130')}Z\nRRULE:FREQ=DAILY;COUNT=5",
        f"UID:single@x\nSUMMARY:Single\nDTSTART:{stamp(monday, '0500')}Z\nDTEND:{stamp(monday, '0600')}Z",
    )
    path.write_text(first)
    assert import_ics(services, user, path) == 6
    assert import_ics(services, user, path) == 6
    assert len(rows(services)) == 6

    # The single event moved and renamed; one daily occurrence cancelled: updated in place.
    second = ics(
        f"UID:daily@x\nSUMMARY:Daily\nDTSTART:{stamp(monday, '0100')}Z\nDTEND:{stamp(monday, '0130')}Z\nRRULE:FREQ=DAILY;COUNT=5",
        f"UID:daily@x\nRECURRENCE-ID:{stamp(monday + timedelta(days=2), '0100')}Z\nSTATUS:CANCELLED\n"
        f"DTSTART:{stamp(monday + timedelta(days=2), '0100')}Z\nDTEND:{stamp(monday + timedelta(days=2), '0130')}Z\nSUMMARY:Daily",
        f"UID:single@x\nSUMMARY:Single (later)\nDTSTART:{stamp(monday, '0700')}Z\nDTEND:{stamp(monday, '0800')}Z",
    )
    path.write_text(second)
    assert import_ics(services, user, path) == 5
    now = rows(services)
    assert len(now) == 6
    assert [r["summary"] for r in now if r["uid"] == "single@x"] == ["Single (later)"]
    assert sum(r["status"] == "Cancelled" for r in now) == 1


def test_bad_files_and_users(services, user, tmp_path):
    with pytest.raises(NotFound):
        import_ics_data(services, "nobody@team.example", ics())
    with pytest.raises(InvalidInput) as error:
        import_ics(services, user, tmp_path / "missing.ics")
    assert error.value.field == "file"
    (tmp_path / "junk.ics").write_text("this is not a calendar")
    with pytest.raises(InvalidInput) as error:
        import_ics(services, user, tmp_path / "junk.ics")
    assert error.value.field == "file"
    assert import_ics_data(services, user, ics()) == 0
