"""Property tests: compute_slots against a deliberately simple minute-by-minute reference.

The reference follows docs/ARCHITECTURE.md, "Scheduling: the definitions", literally and
shares no code with the engine (slots.py, wallclock.py, intervals.py):

* every whole minute t of a span around the queried range is scanned; L(t) is the naive
  local wall time in the rules' zone and M(t) the running maximum of L (the clock's
  high-water mark). A wall time D T maps to the first scanned minute with M(t) >= D T
  (rule 1), so t lies inside the wall window [D a, D b) exactly when D a <= M(t) < D b,
  start(D) is the first minute with M(t) >= D 00:00 and the day of t is M(t).date()
  (rule 2);
* each day's windows (overrides, else weekly; merged when overlapping or touching) give
  candidates anchor + k * increment (rules 3, 4), kept when every minute of the meeting is
  inside some window (5), no busy time / booking blocks it (6), notice, range and booking
  window hold (7), the daily cap is not reached (8) and the hosts rule holds (9).

Wall times, durations, buffers, notice, busy times and bookings are whole minutes; UTC
offsets in 2026-2027 are whole minutes too, so checking minute instants is exact.

Each property runs 150 examples; SCHEDULING_PROPERTY_EXAMPLES=2000 runs more.
"""

from __future__ import annotations

import bisect
import itertools
import os
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from meetings_addon import scheduling
from meetings_addon.scheduling import (
    GROUP,
    ONE_ON_ONE,
    ROUND_ROBIN,
    DateOverride,
    ExistingBooking,
    HostSchedule,
    Rules,
    WeeklyWindow,
    all_day,
    compute_slots,
)

UTC = timezone.utc
NAIVE_EPOCH = datetime(1970, 1, 1)
DAY_MIN = 1440
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

SETTINGS = settings(
    max_examples=int(os.environ.get("SCHEDULING_PROPERTY_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------------------
# The test case: plain data, turned into engine inputs by `rules()` / `host_schedules()`.
# --------------------------------------------------------------------------------------


@dataclass
class Booking:
    start: datetime
    end: datetime
    before: int = 0  # minutes, its own link's buffers
    after: int = 0
    counts: bool = True


@dataclass
class Host:
    name: str
    busy: list[tuple[datetime, datetime]] = field(default_factory=list)
    bookings: list[Booking] = field(default_factory=list)


@dataclass
class Case:
    tz: str
    # (weekday 0..6, start minute, end minute 1..1440); minutes after local midnight
    weekly: list[tuple[int, int, int]]
    # (date, start, end) rows, or (date, None, None) for "unavailable"
    overrides: list[tuple[date, int | None, int | None]]
    durations: list[int]
    duration: int | None  # passed to compute_slots; None = the default (smallest)
    increment: int = 0
    before: int = 0
    after: int = 0
    notice: int = 0
    window_type: str = scheduling.ROLLING
    rolling_weeks: int = 2
    custom_start: date | None = None
    custom_end: date | None = None
    cap: int = 0
    meeting_type: str = ONE_ON_ONE
    hosts: list[Host] = field(default_factory=lambda: [Host("h0")])
    now: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    range_start: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    range_end: datetime = datetime(2026, 1, 2, tzinfo=UTC)
    style: int = 0  # how times / weekdays are spelled for the engine (0..3)

    @property
    def length(self) -> int:
        return self.duration if self.duration is not None else min(self.durations)


def _clock(value: int, style: int) -> object:
    """Minutes after midnight as the engine accepts them: 'HH:MM', 'HH:MM:SS', time, timedelta."""
    if value == DAY_MIN:  # the end of the day: "24:00" or Frappe's 00:00
        return ("24:00", "00:00", time(0, 0), timedelta(hours=24))[style % 4]
    h, m = divmod(value, 60)
    return (f"{h:02d}:{m:02d}", f"{h:02d}:{m:02d}:00", time(h, m), timedelta(minutes=value))[style % 4]


def rules(case: Case) -> Rules:
    weekly = [
        WeeklyWindow(
            WEEKDAY_NAMES[day] if case.style % 2 else day,
            _clock(a, case.style),
            _clock(b, case.style),
        )
        for day, a, b in case.weekly
    ]
    overrides = [
        DateOverride(d, unavailable=True)
        if a is None
        else DateOverride(d, _clock(a, case.style), _clock(b, case.style))
        for d, a, b in case.overrides
    ]
    return Rules(
        timezone=case.tz,
        availability=weekly,
        durations=list(case.durations),
        date_overrides=overrides,
        start_increment=case.increment,
        buffer_before=case.before,
        buffer_after=case.after,
        minimum_notice=case.notice,
        window_type=case.window_type,
        rolling_weeks=case.rolling_weeks,
        range_start=case.custom_start,
        range_end=case.custom_end,
        max_bookings_per_day=case.cap,
    )


def host_schedules(case: Case) -> list[HostSchedule]:
    return [
        HostSchedule(
            host.name,
            busy=list(host.busy),
            bookings=[ExistingBooking(b.start, b.end, b.before, b.after, b.counts) for b in host.bookings],
        )
        for host in case.hosts
    ]


def run_engine(case: Case) -> list[scheduling.Slot]:
    return compute_slots(
        rules(case),
        host_schedules(case),
        now=case.now,
        range_start=case.range_start,
        range_end=case.range_end,
        duration=case.duration,
        meeting_type=case.meeting_type,
    )


# --------------------------------------------------------------------------------------
# The reference.
# --------------------------------------------------------------------------------------


def epoch(dt: datetime) -> int:
    assert dt.tzinfo is not None
    return int(dt.timestamp())


def naive_minute(dt: datetime) -> int:
    """A naive wall time as whole minutes after 1970-01-01 00:00 (ordering of wall times)."""
    return (dt - NAIVE_EPOCH) // timedelta(minutes=1)


def naive_day(d: date) -> int:
    return (d - NAIVE_EPOCH.date()).days * DAY_MIN


def wall_date(naive_min: int) -> date:
    return NAIVE_EPOCH.date() + timedelta(days=naive_min // DAY_MIN)


@lru_cache(maxsize=4096)
def wall_of_utc_day(tz: str, utc_day: int) -> tuple[int, ...]:
    """L(t) for the 1440 minutes of one UTC day, as naive wall minutes (cached: shrinking
    re-reads the same days over and over)."""
    zone = ZoneInfo(tz)
    first = utc_day * DAY_MIN
    return tuple(
        naive_minute(datetime.fromtimestamp((first + i) * 60, zone).replace(tzinfo=None)) for i in range(DAY_MIN)
    )


class Clock:
    """Minutes t0 .. t1-1 (UTC minutes since the epoch), with L and its running max M."""

    def __init__(self, tz: str, t0: int, t1: int):
        self.t0, self.t1 = t0, t1
        first_day, last_day = t0 // DAY_MIN, (t1 - 1) // DAY_MIN
        wall = [m for d in range(first_day, last_day + 1) for m in wall_of_utc_day(tz, d)]
        wall = wall[t0 - first_day * DAY_MIN : t1 - first_day * DAY_MIN]
        self.M = list(itertools.accumulate(wall, max))

    def first(self, naive_min: int) -> int:
        """First scanned minute with M >= naive_min (t1 when none)."""
        return self.t0 + bisect.bisect_left(self.M, naive_min)

    def day(self, t_min: int) -> date:
        assert self.t0 <= t_min < self.t1, "instant outside the scanned span"
        return wall_date(self.M[t_min - self.t0])


def start_of(d: date, tz: str) -> int:
    """start(D) in UTC minutes, by its own scan over the two days either side of D."""
    rough = naive_day(d)  # D 00:00 read as UTC; the instant is within a day of it
    clock = Clock(tz, rough - 2 * DAY_MIN, rough + 2 * DAY_MIN)
    return clock.first(naive_day(d))


def day_of(t_sec: int, tz: str) -> date:
    t = t_sec // 60
    return Clock(tz, t - 2 * DAY_MIN, t + 1).day(t)


def merged(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for a, b in sorted(windows):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def day_windows(case: Case, d: date) -> list[tuple[int, int]]:
    rows = [(a, b) for day, a, b in case.overrides if day == d]
    if rows:
        return [] if any(a is None for a, _ in rows) else merged(rows)
    return merged([(a, b) for day, a, b in case.weekly if day == d.weekday()])


def reference(case: Case) -> list[tuple[int, int, tuple[str, ...]]]:
    tz = case.tz
    rs, re_, now = epoch(case.range_start), epoch(case.range_end), epoch(case.now)
    dur = case.length * 60
    inc = case.increment or case.length  # minutes
    before, after = case.before * 60, case.after * 60

    clock = Clock(tz, rs // 60 - 2 * DAY_MIN, -(-re_ // 60) + 2 * DAY_MIN)
    M = clock.M

    # Which scanned minutes lie inside some window (of any day): mark the windows' wall
    # minutes, then look each minute's M up.
    low, high = M[0], M[-1]
    first_day, last_day = wall_date(low), wall_date(high)
    days = [first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1)]
    covered = bytearray(high - low + 1)
    for d in days:
        for a, b in day_windows(case, d):
            lo, hi = max(naive_day(d) + a, low), min(naive_day(d) + b, high + 1)
            for m in range(lo, hi):
                covered[m - low] = 1
    inside = [covered[m - low] for m in M]
    prefix = [0, *itertools.accumulate(inside)]

    # Booking window (rule 7).
    if case.window_type == scheduling.ROLLING:
        today = day_of(now, tz)
        horizon = (start_of(today, tz), start_of(today + timedelta(weeks=case.rolling_weeks), tz))
    else:
        horizon = (start_of(case.custom_start, tz), start_of(case.custom_end + timedelta(days=1), tz))
    horizon = (horizon[0] * 60, horizon[1] * 60)

    def free(host: Host, s: int, e: int) -> bool:
        for b0, b1 in host.busy:
            if s - before < epoch(b1) and e + after > epoch(b0):
                return False
        for k in host.bookings:
            k0, k1, kb, ka = epoch(k.start), epoch(k.end), k.before * 60, k.after * 60
            if s < k1 + ka and e > k0 - kb:
                return False
            if s - before < k1 and e + after > k0:
                return False
        if case.cap:
            today = clock.day(s // 60)
            if sum(1 for k in host.bookings if k.counts and clock.day(epoch(k.start) // 60) == today) >= case.cap:
                return False
        return True

    starts: set[int] = set()
    for d in days[1:]:  # the first day may begin before the scan
        for a, b in day_windows(case, d):
            anchor, end = clock.first(naive_day(d) + a), clock.first(naive_day(d) + b)
            starts.update(range(anchor, end, inc))

    out = []
    for t in sorted(starts):
        s, e = t * 60, t * 60 + dur
        if s < now + case.notice * 60 or not rs <= s < re_:
            continue
        i = t - clock.t0
        if prefix[i + dur // 60] - prefix[i] != dur // 60:  # rule 5
            continue
        if not (horizon[0] <= s and e <= horizon[1]):
            continue
        ok = [h.name for h in case.hosts if free(h, s, e)]
        if case.meeting_type == GROUP:
            if len(ok) != len(case.hosts):
                continue
        elif not ok:
            continue
        out.append((s, e, tuple(ok)))
    return out


def as_tuples(slots) -> list[tuple[int, int, tuple[str, ...]]]:
    out = []
    for slot in slots:
        assert slot.start.utcoffset() == timedelta(0) and slot.end.utcoffset() == timedelta(0), slot
        out.append((epoch(slot.start), epoch(slot.end), tuple(slot.hosts)))
    return out


def show(slots, tz: str) -> list[str]:
    zone = ZoneInfo(tz)
    return [
        f"{datetime.fromtimestamp(s, UTC):%Y-%m-%d %H:%M}Z ({datetime.fromtimestamp(s, zone):%m-%d %H:%M%z})"
        f"-{datetime.fromtimestamp(e, UTC):%H:%M}Z {list(h)}"
        for s, e, h in slots
    ]


def check_against_reference(case: Case) -> list[tuple[int, int, tuple[str, ...]]]:
    got = as_tuples(run_engine(case))
    want = reference(case)
    if got != want:
        missing = [x for x in want if x not in got]
        extra = [x for x in got if x not in want]
        note(f"missing from engine: {show(missing, case.tz)}")
        note(f"extra in engine: {show(extra, case.tz)}")
        if not missing and not extra:
            note(f"order/duplicates differ: {show(got, case.tz)}")
    assert got == want
    return got


# --------------------------------------------------------------------------------------
# Strategies.
# --------------------------------------------------------------------------------------

FIXED_ZONES = [
    "Europe/Paris",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Santiago",
    "UTC",
]


@lru_cache(maxsize=None)
def other_zones() -> list[str]:
    names = []
    for name in sorted(available_timezones()):
        try:
            ZoneInfo(name)
        except Exception:  # pragma: no cover - odd entries in some tz databases
            continue
        names.append(name)
    return names


@lru_cache(maxsize=None)
def transitions(tz: str) -> tuple[tuple[date, ...], tuple[int, ...]]:
    """Local dates in 2026-2027 around which the zone's UTC offset changes, and the wall
    times (minutes after midnight) the clock reads just before and after each change."""
    zone = ZoneInfo(tz)

    def offset(minute: int) -> int:
        return datetime.fromtimestamp(minute * 60, zone).utcoffset() // timedelta(minutes=1)

    days: set[date] = set()
    walls: set[int] = set()
    d = date(2025, 12, 30)
    previous = datetime.combine(d, time(12), zone).utcoffset()
    while d < date(2028, 1, 2):  # day by day, at local noon
        d += timedelta(days=1)
        now_offset = datetime.combine(d, time(12), zone).utcoffset()
        if now_offset == previous:
            continue
        previous = now_offset
        days.update((d - timedelta(days=1), d))
        # the minute the offset changes: between the two noons, searched with a wide margin
        low, high = naive_day(d) + 12 * 60 - 40 * 60, naive_day(d) + 12 * 60 + 14 * 60
        low, high = low - offset(low), high - offset(high)
        while high - low > 1:
            middle = (low + high) // 2
            if offset(middle) == offset(low):
                low = middle
            else:
                high = middle
        for wall in (high + offset(low), high + offset(high)):
            days.add(wall_date(wall))
            walls.add(wall % DAY_MIN)
    return tuple(sorted(days)), tuple(sorted(walls))


def transition_days(tz: str) -> tuple[date, ...]:
    return transitions(tz)[0]


@lru_cache(maxsize=None)
def odd_days(tz: str) -> tuple[date, ...]:
    """The transition days that are not 24 hours long."""
    return tuple(
        d for d in transition_days(tz) if start_of(d + timedelta(days=1), tz) - start_of(d, tz) != DAY_MIN
    )


# The seven named zones, or (two times in nine) any zone of the tz database.
zones = st.sampled_from([*FIXED_ZONES, "*", "*"]).flatmap(
    lambda name: st.sampled_from(other_zones()) if name == "*" else st.just(name)
)


def choice(*options):
    """st.one_of by an explicit branch index. (st.one_of drops branches Hypothesis has
    exhausted, so over a long run the number of branches it draws among can change,
    which Hypothesis then reports as FlakyStrategyDefinition.)"""
    return st.integers(0, len(options) - 1).flatmap(lambda i: options[i])


# Whole minutes, often on a quarter hour so that edges meet exactly.
def minutes(low: int, high: int):
    assert low <= high, (low, high)

    def snap(pair: tuple[bool, int]) -> int:
        quarter, m = pair
        if quarter and low <= m - m % 15:
            return m - m % 15
        return m

    return st.tuples(st.booleans(), st.integers(low, high)).map(snap)


def near_walls(walls: tuple[int, ...], low: int, high: int):
    """Wall times at or next to the zone's transition readings, within [low, high]."""
    near = sorted({w + d for w in walls for d in (-30, -15, -1, 0, 1, 15, 30)} | ({DAY_MIN} if 0 in walls else set()))
    near = [m for m in near if low <= m <= high]
    return st.sampled_from(near) if near else minutes(low, high)


@st.composite
def one_day(draw, nonempty: bool = False, walls: tuple[int, ...] = (), full: bool = False) -> list[tuple[int, int]]:
    """0-3 wall windows of a day, biased to the transition hours, touching or overlapping."""
    if full and draw(st.integers(0, 2)):
        return [(0, DAY_MIN)]
    count = draw(st.integers(1 if nonempty else 0, 3))
    windows: list[tuple[int, int]] = []
    if count and draw(st.booleans()):  # open over midnight: evening to 24:00, 00:00 to morning
        windows += [(draw(minutes(DAY_MIN - 360, DAY_MIN - 1)), DAY_MIN), (0, draw(minutes(1, 360)))]
        count -= 1
    for _ in range(count):
        if windows and windows[-1][1] < DAY_MIN and draw(st.booleans()):
            a = windows[-1][1] - draw(st.sampled_from([0, 0, 15, 30]))  # touching or overlapping
            a = max(a, 0)
        else:
            a = draw(
                choice(st.just(0), minutes(0, 240), minutes(0, DAY_MIN - 1), near_walls(walls, 0, DAY_MIN - 1))
            )
        b = draw(
            choice(
                st.just(DAY_MIN),
                minutes(a + 1, min(DAY_MIN, a + 300)),
                minutes(min(DAY_MIN, a + 120), min(DAY_MIN, a + 600)),
                minutes(a + 1, DAY_MIN),
                near_walls(walls, a + 1, DAY_MIN),
            )
        )
        windows.append((a, b))
    return windows


@st.composite
def cases(draw, long: bool = False) -> Case:
    """A random case; `long` draws meetings of 20-24 hours over mostly all-day windows."""
    tz = draw(zones)
    zone = ZoneInfo(tz)
    days, walls = transitions(tz)
    if long:
        days = odd_days(tz)
    if days and (long or draw(st.integers(0, 3))):
        base = draw(st.sampled_from(days)) + timedelta(days=draw(st.integers(0, 1) if long else st.integers(-2, 1)))
    else:
        base = draw(st.dates(date(2026, 1, 3), date(2027, 12, 25)))

    # The queried range: 1-5 days from about the zone's local midnight, or anywhere; or
    # ending close to the start of the chosen day (so a meeting runs on past the range).
    n_days = draw(st.integers(1, 5))
    shift = draw(choice(st.just(0), minutes(-600, 600)))
    if long or not draw(st.integers(0, 2)):
        base -= timedelta(days=n_days)
        rs_min = start_of(base, tz) + shift
        re_min = start_of(base + timedelta(days=n_days), tz) + draw(choice(st.just(0), minutes(-120, 120)))
        re_min = max(re_min, rs_min + 60)
    else:
        rs_min = start_of(base, tz) + shift
        re_min = rs_min + n_days * DAY_MIN + draw(choice(st.just(0), minutes(-300, 300)))
    range_start = datetime.fromtimestamp(rs_min * 60, UTC)
    range_end = datetime.fromtimestamp(re_min * 60, UTC)

    # now: mostly around the range, sometimes days before it (so the rolling end bites).
    now_min = draw(
        choice(
            st.integers(rs_min - DAY_MIN, re_min),
            st.integers(rs_min - 720, re_min).map(lambda m: m - m % 15),  # notice edges meet the grid
            st.integers(rs_min - 8 * DAY_MIN, rs_min - DAY_MIN),
        )
    )
    now = datetime.fromtimestamp(now_min * 60 + draw(st.sampled_from([0, 0, 1, 30, 59])), UTC)

    # Weekly hours: a shared template or each weekday its own.
    template = draw(one_day(nonempty=True, walls=walls, full=long))
    weekly = []
    for day in range(7):
        pick = draw(st.integers(0, 4))
        windows = template if pick < 3 or long else draw(one_day(walls=walls)) if pick == 3 else []
        weekly.extend((day, a, b) for a, b in windows)

    overrides = []
    span_days = [base + timedelta(days=i) for i in range(-1, n_days + 2)]
    for d in draw(st.lists(st.sampled_from(span_days), max_size=3, unique=True)):
        if draw(st.booleans()):
            overrides.append((d, None, None))
        else:
            overrides.extend((d, a, b) for a, b in draw(one_day(nonempty=True, walls=walls, full=long)))

    if long:
        lengths = choice(st.sampled_from([1439, 1440]), minutes(20 * 60, DAY_MIN), minutes(23 * 60, DAY_MIN))
    else:
        lengths = choice(minutes(5, 60), minutes(5, 180))
    durations = draw(st.lists(lengths, min_size=1, max_size=2, unique=True))
    duration = draw(st.sampled_from(durations))
    if duration == min(durations) and draw(st.booleans()):
        duration = None

    window_type = draw(st.sampled_from([scheduling.ROLLING, scheduling.CUSTOM_RANGE]))
    custom_start = custom_end = None
    if window_type == scheduling.CUSTOM_RANGE:
        custom_start = base + timedelta(days=draw(st.integers(-2, n_days)))
        custom_end = custom_start + timedelta(days=draw(st.integers(n_days if long else 0, n_days + 2)))

    meeting_type = draw(st.sampled_from([ONE_ON_ONE, ROUND_ROBIN, GROUP]))
    n_hosts = 1 if meeting_type == ONE_ON_ONE else draw(st.integers(1, 3))
    names = draw(st.permutations(["ana", "bo", "cy"]))[:n_hosts]  # input order is not name order

    near = st.integers(rs_min - DAY_MIN, re_min + DAY_MIN)  # bookings stay inside the scan

    def at(minute: int) -> datetime:
        return datetime.fromtimestamp(minute * 60, UTC)

    def quarter(minute: int) -> int:
        return minute - minute % 15 if draw(st.booleans()) else minute

    hosts = []
    for i in range(n_hosts):
        busy = []
        for _ in range(draw(st.integers(0, 1 if long else 15))):
            kind = draw(st.integers(0, 11))
            if kind == 0:  # all day (or several), in the rules' zone or another one
                first = base + timedelta(days=draw(st.integers(-2, n_days + 1)))
                other = ZoneInfo(draw(st.sampled_from(FIXED_ZONES))) if draw(st.booleans()) else zone
                busy.append(all_day(first, first + timedelta(days=draw(st.integers(1, 3))), other))
            else:
                b0 = quarter(draw(near))
                if kind == 1:  # multi-day
                    length = draw(st.integers(DAY_MIN, 3 * DAY_MIN))
                else:
                    length = draw(minutes(1, 300))
                busy.append((at(b0), at(b0 + length)))
        bookings = []
        for _ in range(draw(st.integers(0, 1 if long else 5))):
            k0 = quarter(draw(near))
            bookings.append(
                Booking(
                    at(k0),
                    at(k0 + draw(minutes(5, 180))),
                    draw(choice(st.just(0), minutes(0, 60))),
                    draw(choice(st.just(0), minutes(0, 60))),
                    draw(st.booleans()),
                )
            )
        hosts.append(Host(names[i], busy, bookings))

    return Case(
        tz=tz,
        weekly=weekly,
        overrides=overrides,
        durations=durations,
        duration=duration,
        increment=draw(minutes(5, 90) if long else choice(st.just(0), minutes(5, 90))),
        before=draw(choice(st.just(0), minutes(0, 60))),
        after=draw(choice(st.just(0), minutes(0, 60))),
        notice=draw(choice(st.just(0), minutes(0, 600), minutes(0, 120))),
        window_type=window_type,
        rolling_weeks=draw(st.integers(1, 2)),
        custom_start=custom_start,
        custom_end=custom_end,
        cap=draw(st.sampled_from([0, 0, 1, 1, 2, 3])),
        meeting_type=meeting_type,
        hosts=hosts,
        now=now,
        range_start=range_start,
        range_end=range_end,
        style=draw(st.integers(0, 3)),
    )


# --------------------------------------------------------------------------------------
# Explicit cases around transitions.
# --------------------------------------------------------------------------------------


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def simple(tz: str, day: date, windows, *, duration=30, **extra) -> Case:
    """Every weekday the same windows; a range of the three days around `day`."""
    return Case(
        tz=tz,
        weekly=[(wd, a, b) for wd in range(7) for a, b in windows],
        overrides=[],
        durations=[duration],
        duration=None,
        now=utc(day.year, day.month, day.day) - timedelta(days=3),
        range_start=utc(day.year, day.month, day.day) - timedelta(days=1),
        range_end=utc(day.year, day.month, day.day) + timedelta(days=2),
        **extra,
    )


def hm(h: int, m: int = 0) -> int:
    return h * 60 + m


PARIS_SPRING = simple("Europe/Paris", date(2026, 3, 29), [(hm(1, 30), hm(3, 30))])
PARIS_FALL = simple("Europe/Paris", date(2026, 10, 25), [(hm(0), hm(4))], duration=60)
LORD_HOWE_SPRING = simple("Australia/Lord_Howe", date(2026, 10, 4), [(hm(1), hm(4))], increment=20)
LORD_HOWE_FALL = simple("Australia/Lord_Howe", date(2026, 4, 5), [(hm(1), hm(2, 45)), (hm(2, 45), hm(4))])
CHATHAM_SPRING = simple("Pacific/Chatham", date(2026, 9, 27), [(hm(2), hm(5))], duration=45, increment=15)
CHATHAM_FALL = simple("Pacific/Chatham", date(2026, 4, 5), [(hm(2), hm(5))], duration=45)
NEW_YORK_SPRING = Case(
    tz="America/New_York",
    weekly=[(6, hm(0), hm(4)), (5, hm(22), DAY_MIN)],
    overrides=[],
    durations=[60, 90],
    duration=90,
    increment=30,
    before=15,
    after=30,
    meeting_type=ROUND_ROBIN,
    hosts=[
        Host("a", busy=[(utc(2026, 3, 8, 7), utc(2026, 3, 8, 7, 30))]),
        Host("b", bookings=[Booking(utc(2026, 3, 8, 5), utc(2026, 3, 8, 6), 30, 0)]),
    ],
    now=utc(2026, 3, 5),
    range_start=utc(2026, 3, 7),
    range_end=utc(2026, 3, 9),
)
NEW_YORK_FALL = Case(
    tz="America/New_York",
    weekly=[(6, hm(0), hm(1, 30)), (6, hm(1, 30), hm(4))],
    overrides=[(date(2026, 11, 2), None, None), (date(2026, 10, 31), hm(22), DAY_MIN)],
    durations=[30],
    duration=None,
    increment=45,
    cap=2,
    meeting_type=GROUP,
    hosts=[
        Host(
            "b",
            bookings=[
                Booking(utc(2026, 11, 1, 12), utc(2026, 11, 1, 13)),
                Booking(utc(2026, 11, 1, 14), utc(2026, 11, 1, 15), counts=False),
            ],
        ),
        Host("a", busy=[all_day(date(2026, 11, 2), date(2026, 11, 3), ZoneInfo("Asia/Kolkata"))]),
    ],
    now=utc(2026, 11, 1, 4, 40, 30),  # with the notice, nothing before 05:40:30Z
    range_start=utc(2026, 10, 31),
    range_end=utc(2026, 11, 3),
    notice=60,
)
SANTIAGO_MIDNIGHT = Case(  # the range ends at start(2026-09-06) = 01:00 -03 = 04:00Z
    tz="America/Santiago",
    weekly=[(day, a, b) for day in range(7) for a, b in ((hm(22), DAY_MIN), (hm(0), hm(2)))],
    overrides=[],
    durations=[60],
    duration=None,
    increment=30,  # 23:30 -04 runs on into Sunday's 00:00-02:00 window (04:00Z-05:00Z)
    now=utc(2026, 9, 3),
    range_start=utc(2026, 9, 5),
    range_end=utc(2026, 9, 6, 4),
)
BUFFERS = Case(  # the booking blocks meetings overlapping [12:30, 13:40); the busy time starts in (14:00, 15:30)
    tz="UTC",
    weekly=[(day, hm(9), hm(17)) for day in range(7)],
    overrides=[],
    durations=[30],
    duration=None,
    increment=15,
    before=10,
    after=30,
    hosts=[
        Host(
            "ana",
            busy=[(utc(2026, 6, 2, 15), utc(2026, 6, 2, 15, 20))],
            bookings=[Booking(utc(2026, 6, 2, 13), utc(2026, 6, 2, 13, 30), before=5, after=0)],
        )
    ],
    now=utc(2026, 6, 1),
    range_start=utc(2026, 6, 2),
    range_end=utc(2026, 6, 3),
)
DAILY_CAP = Case(  # one counting booking fills Tuesday; Wednesday's does not count
    tz="Asia/Kolkata",
    weekly=[(day, hm(9), hm(12)) for day in range(7)],
    overrides=[],
    durations=[30],
    duration=None,
    cap=1,
    meeting_type=ROUND_ROBIN,
    hosts=[
        Host("cy", bookings=[Booking(utc(2026, 6, 2, 5), utc(2026, 6, 2, 5, 30))]),
        Host("ana", bookings=[Booking(utc(2026, 6, 3, 5), utc(2026, 6, 3, 5, 30), counts=False)]),
    ],
    now=utc(2026, 6, 1),
    range_start=utc(2026, 6, 1, 18, 30),
    range_end=utc(2026, 6, 3, 18, 30),
)
ROLLING_END = Case(  # one rolling week from Monday 1 June: nothing may end after Monday 8 June 00:00
    tz="UTC",
    weekly=[(day, a, b) for day in range(7) for a, b in ((hm(22), DAY_MIN), (hm(0), hm(2)))],
    overrides=[],
    durations=[60],
    duration=None,
    increment=30,
    rolling_weeks=1,
    now=utc(2026, 6, 1, 10),
    range_start=utc(2026, 6, 6),
    range_end=utc(2026, 6, 10),
)
PARIS_GAP = simple(  # 02:30 does not exist on 29 March: that window begins at 03:00 CEST
    "Europe/Paris", date(2026, 3, 29), [(hm(1), hm(2, 15)), (hm(2, 30), hm(4))], duration=20, increment=25
)
SANTIAGO_SPRING = simple(  # 2026-09-06 00:00 does not exist: the day starts at 01:00
    "America/Santiago",
    date(2026, 9, 6),
    [(hm(0), hm(1, 30)), (hm(23), DAY_MIN)],
    window_type=scheduling.CUSTOM_RANGE,
    custom_start=date(2026, 9, 6),
    custom_end=date(2026, 9, 6),
)
SANTIAGO = simple(
    "America/Santiago",
    date(2026, 4, 5),
    [(hm(0), hm(2)), (hm(22), DAY_MIN)],
    duration=60,
    increment=30,
    window_type=scheduling.CUSTOM_RANGE,
    custom_start=date(2026, 4, 4),
    custom_end=date(2026, 4, 5),
)
EXAMPLES = [
    PARIS_SPRING,
    PARIS_FALL,
    LORD_HOWE_SPRING,
    LORD_HOWE_FALL,
    CHATHAM_SPRING,
    CHATHAM_FALL,
    NEW_YORK_SPRING,
    NEW_YORK_FALL,
    SANTIAGO,
    PARIS_GAP,
    SANTIAGO_SPRING,
    SANTIAGO_MIDNIGHT,
    BUFFERS,
    DAILY_CAP,
    ROLLING_END,
]

# A 23 h 59 min meeting may run from Saturday 23:10 through the 23-hour spring-forward
# Sunday into Monday 00:09 when every day is open all day (rule 5: the union of all windows).
PARIS_LONG = Case(
    tz="Europe/Paris",
    weekly=[(day, 0, DAY_MIN) for day in range(7)],
    overrides=[],
    durations=[1439],
    duration=None,
    increment=10,
    now=utc(2026, 3, 27),
    range_start=utc(2026, 3, 28, 22),
    range_end=utc(2026, 3, 28, 23),
)


def with_examples(test):
    for case in reversed(EXAMPLES):
        test = example(case=case)(test)
    return test


# --------------------------------------------------------------------------------------
# The reference itself, on hand-computed cases.
# --------------------------------------------------------------------------------------


def starts(slots) -> list[datetime]:
    return [datetime.fromtimestamp(s, UTC) for s, _, _ in slots]


def test_reference_paris_spring_forward_keeps_only_existing_instants():
    # 01:30 CET = 00:30Z; 02:00-03:00 does not exist; 03:30 CEST = 01:30Z: one real hour.
    got = [s for s in starts(reference(PARIS_SPRING)) if utc(2026, 3, 28, 12) < s < utc(2026, 3, 29, 12)]
    assert got == [utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 0)]


def test_reference_paris_fall_back_holds_every_instant_once():
    # 00:00 CEST = 22:00Z the day before; 04:00 CET = 03:00Z: five real hours.
    got = [s for s in starts(reference(PARIS_FALL)) if utc(2026, 10, 24, 12) < s < utc(2026, 10, 25, 12)]
    assert got == [utc(2026, 10, 24, 22) + timedelta(hours=i) for i in range(5)]


def test_reference_chatham_spring_forward():
    # +12:45 -> +13:45 at 02:45 local (13:00Z on 26 Sep): 02:00 = 13:15Z, 05:00 +13:45 = 15:15Z.
    got = [s for s in starts(reference(CHATHAM_SPRING)) if utc(2026, 9, 26, 6) < s < utc(2026, 9, 27)]
    assert got[0] == utc(2026, 9, 26, 13, 15)
    assert got[-1] == utc(2026, 9, 26, 14, 30)  # the last 45 minutes ending at 15:15Z


def test_reference_buffers_and_cap():
    # Rule 6: the 13:00-13:30 booking (its own 5 min before) with our 10/30 min buffers
    # blocks meetings overlapping [12:30, 13:40); busy 15:00-15:20 blocks starts in (14:00, 15:30).
    got = [s for s in starts(reference(BUFFERS)) if utc(2026, 6, 2, 12) <= s <= utc(2026, 6, 2, 15, 45)]
    assert got == [utc(2026, 6, 2, h, m) for h, m in ((12, 0), (13, 45), (14, 0), (15, 30), (15, 45))]
    # Rule 8: cy's one counting booking fills Tuesday for cy only.
    assert {hosts for s, _, hosts in reference(DAILY_CAP) if s < epoch(utc(2026, 6, 2, 18, 30))} == {("ana",)}
    # Rule 7: one rolling week from Monday 1 June ends at Monday 8 June 00:00.
    assert max(e for _, e, _ in reference(ROLLING_END)) == epoch(utc(2026, 6, 8))


# --------------------------------------------------------------------------------------
# The properties.
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", EXAMPLES, ids=lambda c: f"{c.tz}-{c.range_start:%Y-%m-%d}")
def test_transition_examples_match_reference(case):
    check_against_reference(case)


@SETTINGS
@with_examples
@given(case=cases())
def test_slots_match_minute_by_minute_reference(case: Case):
    check_against_reference(case)


def test_long_meeting_runs_through_a_short_day():
    # Windows open all day every day; 2026-03-29 (Paris) has 23 hours. A 1439-minute
    # meeting starting Saturday 23:10 (22:10Z) ends Monday 00:09 CEST (22:09Z), inside
    # Monday's window, so starts 22:00Z .. 22:50Z every 10 minutes are offered.
    want = [utc(2026, 3, 28, 22, m) for m in range(0, 60, 10)]
    assert starts(reference(PARIS_LONG)) == want
    check_against_reference(PARIS_LONG)


@SETTINGS
@example(case=PARIS_LONG)
@given(case=cases(long=True))
def test_long_meetings_match_reference(case: Case):
    """Durations of 20-24 hours (the rules allow up to 1440 minutes) over all-day windows."""
    check_against_reference(case)


@SETTINGS
@given(case=cases(), visitor=choice(st.sampled_from(FIXED_ZONES), st.sampled_from(other_zones())))
def test_visitor_relabelling_keeps_instants(case: Case, visitor: str):
    slots = run_engine(case)
    grouped = scheduling.group_by_day(slots, visitor)
    zone = ZoneInfo(visitor)

    flattened = [pair for day in grouped.values() for pair in day]
    assert sorted(epoch(s) for s, _ in flattened) == sorted(epoch(slot.start) for slot in slots)
    assert sorted((epoch(s), epoch(e)) for s, e in flattened) == sorted(
        (epoch(slot.start), epoch(slot.end)) for slot in slots
    )
    for day, pairs in grouped.items():
        for start, end in pairs:
            for moment in (start, end):
                # labelled with the visitor's offset at that instant
                expected = datetime.fromtimestamp(epoch(moment), zone)
                assert moment.utcoffset() == expected.utcoffset()
                assert moment.replace(tzinfo=None) == expected.replace(tzinfo=None)
            assert start.date() == day == datetime.fromtimestamp(epoch(start), zone).date()
    # each day's list keeps the engine's (ascending) order
    for pairs in grouped.values():
        assert [epoch(s) for s, _ in pairs] == sorted(epoch(s) for s, _ in pairs)
