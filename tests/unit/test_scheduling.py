"""The engine's rules, case by case, in the words a link owner would use."""

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from meetings_addon.errors import InvalidInput, InvalidRule
from meetings_addon.scheduling import (
    GROUP,
    ROUND_ROBIN,
    DateOverride,
    ExistingBooking,
    HostSchedule,
    Rules,
    WeeklyWindow,
    all_day,
    compute_slots,
    group_by_day,
    visitor_range,
)

UTC = timezone.utc
PARIS = ZoneInfo("Europe/Paris")
WEEKDAYS = range(7)


def local(zone, *args):
    return datetime(*args, tzinfo=ZoneInfo(zone) if isinstance(zone, str) else zone)


def rules(zone="Europe/Paris", windows=(("09:00", "12:00"), ("13:00", "17:30")), days=range(5), **extra):
    extra.setdefault("durations", (30,))
    return Rules(
        timezone=zone,
        availability=[WeeklyWindow(day, start, end) for day in days for start, end in windows],
        **extra,
    )


def slots(link, *, now, first, last=None, busy=(), bookings=(), zone=None, **extra):
    """Slots on the link zone's dates first..last."""
    zone = zone or link.timezone
    start, end = visitor_range(first, last or first, zone)
    return compute_slots(
        link, [HostSchedule("host", busy=busy, bookings=bookings)], now=now, range_start=start, range_end=end, **extra
    )


def labels(found, zone="Europe/Paris"):
    return [slot.start.astimezone(ZoneInfo(zone)).strftime("%H:%M") for slot in found]


MONDAY = date(2026, 11, 23)
EARLY = datetime(2026, 11, 20, 8, tzinfo=UTC)


def test_weekly_windows_give_a_grid_from_each_window_start():
    found = slots(rules(), now=EARLY, first=MONDAY)
    assert labels(found) == [
        "09:00", "09:30", "10:00", "10:30", "11:00", "11:30",
        "13:00", "13:30", "14:00", "14:30", "15:00", "15:30", "16:00", "16:30", "17:00",
    ]
    assert all(slot.end - slot.start == timedelta(minutes=30) for slot in found)
    assert all(slot.hosts == ("host",) for slot in found)
    assert slots(rules(), now=EARLY, first=date(2026, 11, 22)) == []  # Sunday: no hours


def test_increment_spaces_start_times_and_meetings_stay_inside_the_window():
    found = slots(rules(windows=(("09:00", "10:30"),), durations=(60,), start_increment=15), now=EARLY, first=MONDAY)
    assert labels(found) == ["09:00", "09:15", "09:30"]


def test_several_durations_are_offered_and_others_refused():
    link = rules(durations=(15, 30, 60))
    assert labels(slots(link, now=EARLY, first=MONDAY, duration=60)) == ["09:00", "10:00", "11:00", "13:00", "14:00", "15:00", "16:00"]
    with pytest.raises(InvalidInput) as error:
        slots(link, now=EARLY, first=MONDAY, duration=45)
    assert error.value.field == "duration"


def test_hubspot_buffer_example_next_meeting_at_14_00():
    booked = ExistingBooking(local(PARIS, 2026, 11, 23, 13), local(PARIS, 2026, 11, 23, 13, 30), 30, 30)
    found = slots(rules(buffer_before=30, buffer_after=30), now=EARLY, first=MONDAY, bookings=[booked])
    afternoon = [label for label in labels(found) if label >= "12:00"]
    assert afternoon[0] == "14:00"
    assert "12:30" not in labels(found)  # outside the window anyway; the morning ends at 11:30
    assert labels(found)[:6] == ["09:00", "09:30", "10:00", "10:30", "11:00", "11:30"]


def test_calendar_busy_time_is_widened_by_the_links_buffers():
    busy = [(local(PARIS, 2026, 11, 23, 10), local(PARIS, 2026, 11, 23, 11))]
    found = labels(slots(rules(buffer_before=15, buffer_after=15, start_increment=15), now=EARLY, first=MONDAY, busy=busy))
    morning = [label for label in found if label < "12:00"]
    # 09:15-09:45 + 15 after ends 10:00: fine; 09:30 would run into the busy hour's buffer.
    assert morning == ["09:00", "09:15", "11:15", "11:30"]


def test_an_existing_booking_keeps_its_own_buffers_clear():
    booked = ExistingBooking(local(PARIS, 2026, 11, 23, 10), local(PARIS, 2026, 11, 23, 10, 30), 0, 45)
    found = labels(slots(rules(start_increment=15), now=EARLY, first=MONDAY, bookings=[booked]))
    assert "10:30" not in found and "11:00" not in found and "11:15" in found
    assert "09:30" in found  # meeting 09:30-10:00 touches the booking, no buffer before it


def test_minimum_notice_and_now():
    now = local(PARIS, 2026, 11, 23, 10, 10)
    found = labels(slots(rules(minimum_notice=60), now=now, first=MONDAY))
    assert found[0] == "11:30"


def test_rolling_window_ends_after_the_given_weeks():
    now = local(PARIS, 2026, 11, 23, 8)
    link = rules(window_type="Rolling", rolling_weeks=1)
    assert slots(link, now=now, first=date(2026, 11, 27))  # Friday, inside
    assert slots(link, now=now, first=date(2026, 11, 30)) == []  # next Monday, outside


def test_custom_range_limits_the_days():
    link = rules(window_type="Custom Range", range_start=date(2026, 12, 1), range_end=date(2026, 12, 2))
    assert slots(link, now=EARLY, first=MONDAY, last=date(2026, 12, 4))[0].start.date() == date(2026, 12, 1)
    days = {slot.start.astimezone(PARIS).date() for slot in slots(link, now=EARLY, first=MONDAY, last=date(2026, 12, 4))}
    assert days == {date(2026, 12, 1), date(2026, 12, 2)}


def test_date_overrides_replace_a_day_or_close_it():
    link = rules(
        date_overrides=[
            DateOverride(MONDAY, "18:00", "19:00"),
            DateOverride(date(2026, 11, 24), unavailable=True),
            DateOverride(date(2026, 11, 29), "10:00", "11:00"),  # a Sunday opened
        ]
    )
    assert labels(slots(link, now=EARLY, first=MONDAY)) == ["18:00", "18:30"]
    assert slots(link, now=EARLY, first=date(2026, 11, 24)) == []
    assert labels(slots(link, now=EARLY, first=date(2026, 11, 29))) == ["10:00", "10:30"]


def test_overlapping_windows_are_merged_not_rejected():
    link = rules(windows=(("09:00", "10:00"), ("09:30", "11:00"), ("11:00", "11:30")))
    assert labels(slots(link, now=EARLY, first=MONDAY)) == ["09:00", "09:30", "10:00", "10:30", "11:00"]


def test_all_day_and_multi_day_busy_block_whole_days():
    busy = [all_day(date(2026, 11, 24), date(2026, 11, 26), PARIS)]
    assert slots(rules(), now=EARLY, first=date(2026, 11, 24), last=date(2026, 11, 25)) != []
    assert slots(rules(), now=EARLY, first=date(2026, 11, 24), last=date(2026, 11, 25), busy=busy) == []
    assert slots(rules(), now=EARLY, first=date(2026, 11, 26), busy=busy) != []


def test_unsorted_overlapping_busy_times():
    day = (2026, 11, 23)
    busy = [
        (local(PARIS, *day, 11), local(PARIS, *day, 11, 30)),
        (local(PARIS, *day, 9), local(PARIS, *day, 10)),
        (local(PARIS, *day, 9, 30), local(PARIS, *day, 10, 30)),
        (local(PARIS, *day, 14), local(PARIS, *day, 14)),  # empty: ignored
    ]
    assert [x for x in labels(slots(rules(), now=EARLY, first=MONDAY, busy=busy)) if x < "12:00"] == ["10:30", "11:30"]


def test_daily_cap_closes_a_day_for_the_host():
    booked = [
        ExistingBooking(local(PARIS, 2026, 11, 23, 9), local(PARIS, 2026, 11, 23, 9, 30)),
        ExistingBooking(local(PARIS, 2026, 11, 23, 15), local(PARIS, 2026, 11, 23, 15, 30)),
        ExistingBooking(local(PARIS, 2026, 11, 24, 15), local(PARIS, 2026, 11, 24, 15, 30), counts_toward_cap=False),
        ExistingBooking(local(PARIS, 2026, 11, 24, 16), local(PARIS, 2026, 11, 24, 16, 30)),
    ]
    link = rules(max_bookings_per_day=2)
    assert slots(link, now=EARLY, first=MONDAY, bookings=booked) == []
    assert slots(link, now=EARLY, first=date(2026, 11, 24), bookings=booked) != []


def test_round_robin_names_the_free_hosts_and_group_needs_everyone():
    link = rules(windows=(("09:00", "10:30"),))
    ann = HostSchedule("ann", busy=[(local(PARIS, 2026, 11, 23, 9), local(PARIS, 2026, 11, 23, 9, 30))])
    bob = HostSchedule("bob", busy=[(local(PARIS, 2026, 11, 23, 10), local(PARIS, 2026, 11, 23, 10, 30))])
    start, end = visitor_range(MONDAY, MONDAY, "Europe/Paris")
    robin = compute_slots(link, [ann, bob], now=EARLY, range_start=start, range_end=end, meeting_type=ROUND_ROBIN)
    assert [(s.start.astimezone(PARIS).strftime("%H:%M"), s.hosts) for s in robin] == [
        ("09:00", ("bob",)),
        ("09:30", ("ann", "bob")),
        ("10:00", ("ann",)),
    ]
    group = compute_slots(link, [ann, bob], now=EARLY, range_start=start, range_end=end, meeting_type=GROUP)
    assert [(s.start.astimezone(PARIS).strftime("%H:%M"), s.hosts) for s in group] == [("09:30", ("ann", "bob"))]


# --- Time zones -----------------------------------------------------------------------


def test_paris_spring_forward_window_holds_only_existing_instants():
    # 2026-03-29: 02:00 CET jumps to 03:00 CEST. 01:30-03:30 is one real hour.
    link = rules(windows=(("01:30", "03:30"),), days=WEEKDAYS, durations=(15,))
    found = slots(link, now=datetime(2026, 3, 20, tzinfo=UTC), first=date(2026, 3, 29))
    assert [s.start.astimezone(PARIS).strftime("%H:%M%z") for s in found] == [
        "01:30+0100", "01:45+0100", "03:00+0200", "03:15+0200",
    ]
    assert found[-1].end - found[0].start == timedelta(hours=1)


def test_paris_fall_back_window_every_instant_once():
    # 2026-10-25: 03:00 CEST goes back to 02:00 CET; 01:00-04:00 lasts four real hours.
    link = rules(windows=(("01:00", "04:00"),), days=WEEKDAYS, durations=(60,))
    found = slots(link, now=datetime(2026, 10, 1, tzinfo=UTC), first=date(2026, 10, 25))
    assert [s.start.astimezone(PARIS).strftime("%H:%M%z") for s in found] == [
        "01:00+0200", "02:00+0200", "02:00+0100", "03:00+0100",
    ]
    assert len({s.start for s in found}) == len(found) == 4


def test_new_york_spring_forward_and_a_window_starting_in_the_gap():
    link = rules("America/New_York", windows=(("02:30", "04:00"),), days=WEEKDAYS)
    found = slots(link, now=datetime(2026, 3, 1, tzinfo=UTC), first=date(2026, 3, 8))
    assert labels(found, "America/New_York") == ["03:00", "03:30"]


def test_lord_howe_half_hour_shift():
    # 2026-10-04 02:00 +10:30 -> 02:30 +11:00 (a 30-minute spring-forward).
    zone = ZoneInfo("Australia/Lord_Howe")
    link = rules("Australia/Lord_Howe", windows=(("01:30", "03:00"),), days=WEEKDAYS, rolling_weeks=8)
    found = slots(link, now=datetime(2026, 9, 1, tzinfo=UTC), first=date(2026, 10, 4))
    assert [s.start.astimezone(zone).strftime("%H:%M%z") for s in found] == ["01:30+1030", "02:30+1100"]
    # 2026-04-05 02:00 +11:00 -> 01:30 +10:30: 01:00-03:00 holds 2.5 real hours.
    link = rules("Australia/Lord_Howe", windows=(("01:00", "03:00"),), days=WEEKDAYS, rolling_weeks=8)
    found = slots(link, now=datetime(2026, 3, 1, tzinfo=UTC), first=date(2026, 4, 5))
    assert [s.start.astimezone(zone).strftime("%H:%M%z") for s in found] == [
        "01:00+1100", "01:30+1100", "01:30+1030", "02:00+1030", "02:30+1030",
    ]


def test_kolkata_half_hour_offset_without_dst():
    link = rules("Asia/Kolkata", windows=(("09:30", "11:00"),))
    found = slots(link, now=EARLY, first=MONDAY)
    assert [s.start.strftime("%H:%M") for s in found] == ["04:00", "04:30", "05:00"]  # UTC


def test_chatham_quarter_hour_offset_and_its_dst():
    zone = ZoneInfo("Pacific/Chatham")
    link = rules("Pacific/Chatham", windows=(("02:00", "04:30"),), days=WEEKDAYS, durations=(30,))
    # 2026-09-27 02:45 +12:45 -> 03:45 +13:45.
    found = slots(link, now=datetime(2026, 9, 1, tzinfo=UTC), first=date(2026, 9, 27))
    # The window holds 45 + 45 real minutes; the grid steps in elapsed time, so the
    # third start, 02:00 + 60 min, is 04:00+13:45 (03:00+12:45 never shows on a clock).
    assert [s.start.astimezone(zone).strftime("%H:%M%z") for s in found] == [
        "02:00+1245", "02:30+1245", "04:00+1345",
    ]
    assert found[0].start == datetime(2026, 9, 26, 13, 15, tzinfo=UTC)


def test_visitor_sees_the_same_instants_in_their_zone_and_days():
    link = rules(windows=(("09:00", "10:00"),))
    found = slots(link, now=EARLY, first=MONDAY, last=date(2026, 11, 24))
    tokyo = group_by_day(found, "Asia/Tokyo")
    assert list(tokyo) == [MONDAY, date(2026, 11, 24)]
    assert [(s.strftime("%H:%M%z")) for s, _ in tokyo[MONDAY]] == ["17:00+0900", "17:30+0900"]
    assert sorted(s for day in tokyo.values() for s, _ in day) == [slot.start for slot in found]
    # A visitor in Honolulu sees Monday morning Paris as Sunday evening.
    honolulu = group_by_day(found, "Pacific/Honolulu")
    assert list(honolulu) == [date(2026, 11, 22), MONDAY]


def test_range_is_the_visitors_days():
    link = rules(windows=(("00:00", "24:00"),), days=WEEKDAYS, durations=(60,))
    start, end = visitor_range(MONDAY, MONDAY, "America/New_York")
    found = compute_slots(link, [HostSchedule("host")], now=EARLY, range_start=start, range_end=end)
    assert len(found) == 24
    assert found[0].start == datetime(2026, 11, 23, 5, tzinfo=UTC)


# --- Bad rules name their field ------------------------------------------------------


@pytest.mark.parametrize(
    "change, field",
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": "../../etc/passwd"}, "timezone"),
        ({"durations": (0,)}, "durations"),
        ({"durations": (-30,)}, "durations"),
        ({"durations": ()}, "durations"),
        ({"durations": ("half an hour",)}, "durations"),
        ({"durations": (100000,)}, "durations"),
        ({"buffer_before": -5}, "buffer_before"),
        ({"buffer_after": -1}, "buffer_after"),
        ({"minimum_notice": -60}, "minimum_notice"),
        ({"start_increment": -15}, "start_increment"),
        ({"max_bookings_per_day": -1}, "max_bookings_per_day"),
        ({"window_type": "Forever"}, "window_type"),
        ({"window_type": "Rolling", "rolling_weeks": 0}, "rolling_weeks"),
        ({"window_type": "Custom Range", "range_start": date(2026, 1, 1), "range_end": date(2026, 3, 31)}, "range_end"),
        ({"window_type": "Custom Range", "range_start": date(2026, 3, 1), "range_end": date(2026, 2, 1)}, "range_end"),
        ({"window_type": "Custom Range", "range_end": date(2026, 2, 1)}, "range_start"),
        ({"availability": [WeeklyWindow("Monday", "10:00", "09:00")]}, "availability"),
        ({"availability": [WeeklyWindow("Monday", "10:00", "10:00")]}, "availability"),
        ({"availability": [WeeklyWindow("Funday", "10:00", "11:00")]}, "availability"),
        ({"availability": [WeeklyWindow(0, "25:00", "26:00")]}, "availability"),
        ({"availability": [WeeklyWindow(0, "9h", "10h")]}, "availability"),
        ({"date_overrides": [DateOverride(MONDAY, "12:00", "11:00")]}, "date_overrides"),
        ({"date_overrides": [DateOverride(MONDAY, "12:00", None)]}, "date_overrides"),
        ({"date_overrides": [DateOverride(MONDAY, unavailable=True), DateOverride(MONDAY, "09:00", "10:00")]}, "date_overrides"),
    ],
)
def test_bad_rules_raise_an_error_naming_the_field(change, field):
    base = rules().__dict__ | change
    with pytest.raises(InvalidRule) as error:
        slots(Rules(**base), now=EARLY, first=MONDAY)
    assert error.value.field == field
    assert field in str(error.value)


def test_custom_range_of_exactly_ten_weeks_is_allowed():
    link = rules(window_type="Custom Range", range_start=date(2026, 12, 1), range_end=date(2027, 2, 8))
    assert slots(link, now=EARLY, first=date(2026, 12, 1))


def test_naive_datetimes_are_refused():
    with pytest.raises(InvalidInput) as error:
        slots(rules(), now=EARLY, first=MONDAY, busy=[(datetime(2026, 11, 23, 9), datetime(2026, 11, 23, 10))])
    assert error.value.field == "busy"
    with pytest.raises(InvalidInput) as error:
        slots(rules(), now=datetime(2026, 11, 23), first=MONDAY)
    assert error.value.field == "now"


def test_one_on_one_needs_exactly_one_host():
    start, end = visitor_range(MONDAY, MONDAY, "UTC")
    with pytest.raises(InvalidInput) as error:
        compute_slots(rules(), [HostSchedule("a"), HostSchedule("b")], now=EARLY, range_start=start, range_end=end)
    assert error.value.field == "hosts"
