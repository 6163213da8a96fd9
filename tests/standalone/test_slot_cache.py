"""The month-view cache never shows a time that has been taken or has gone past notice."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from meetings_addon.booking import service
from meetings_addon.hosts.standalone.ics import import_ics_data


class MovingClock:
    def __init__(self, now: datetime):
        self.current = now

    def now(self) -> datetime:
        return self.current


def month(h, **extra):
    monday = h.next_monday()
    return {"link": "hana-30", "start": monday.isoformat(), "end": (monday + timedelta(days=4)).isoformat(),
            "timezone": "America/New_York", **extra}


def test_a_booking_drops_its_slot_from_the_next_view_at_once(services, h):
    h.add_host()
    h.add_link()
    first = service.get_slots(services, month(h))["slots"]
    assert service.get_slots(services, month(h))["slots"] == first  # served again (cached)
    service.book(services, {**h.visitor(), "link": "hana-30", "start": first[0]["start"], "timezone": "America/New_York"})
    after = service.get_slots(services, month(h))["slots"]
    assert first[0] not in after and after == first[1:]


def test_an_imported_calendar_event_blocks_at_once(services, h):
    h.add_host()
    h.add_link()
    first = service.get_slots(services, month(h))["slots"]
    start = datetime.fromisoformat(first[0]["start"]).astimezone(timezone.utc)
    ics = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:dentist@test\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{start + timedelta(hours=1):%Y%m%dT%H%M%SZ}\r\n"
        "SUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    import_ics_data(services, "host@team.example", ics)
    after = service.get_slots(services, month(h))["slots"]
    assert first[0] not in after and first[1] not in after and first[2] in after


def test_minimum_notice_applies_to_the_current_time_not_the_cached_one(services, h):
    h.add_host()
    h.add_link(minimum_notice=60)
    monday = h.next_monday()
    clock = MovingClock(datetime(monday.year, monday.month, monday.day, 13, 0, tzinfo=timezone.utc))  # 08:00 New York
    services.clock = clock
    first = service.get_slots(services, month(h))["slots"]
    clock.current += timedelta(minutes=50)  # within the cache's minute? no: the view is reused within TTL
    later = service.get_slots(services, month(h))["slots"]
    earliest = clock.current + timedelta(minutes=60)
    assert all(datetime.fromisoformat(slot["start"]) >= earliest for slot in later)
    assert later == [s for s in first if datetime.fromisoformat(s["start"]) >= earliest]


def test_a_changed_link_is_never_served_from_an_old_view(services, h):
    h.add_host()
    h.add_link()
    before = service.get_slots(services, month(h))["slots"]
    services.store.update("Meeting Link", "hana-30", {"availability": [
        {"weekday": day, "start_time": "10:00", "end_time": "11:00"}
        for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")
    ]})
    after = service.get_slots(services, month(h))["slots"]
    assert after != before and all("T10:" in s["start"] for s in after)
