"""Which start times can a visitor book? Rules and busy times in, slots out.

Definitions (docs/ARCHITECTURE.md, "Scheduling"):
- A day's windows are its weekly windows, or its date override, merged, and read as
  wall-clock in the rules' zone (see wallclock.first_instant). Start times step by the
  increment from the beginning of each of a day's windows; a meeting must lie inside the
  union of all windows (it may run on into the next day's adjacent window).
- A calendar busy interval blocks every meeting whose time widened by the link's buffers
  (before, after) overlaps it. An existing booking blocks the same way, and also keeps its
  own buffers clear of any new meeting.
- A start is offered when it is at or after now + minimum notice, inside the asked range,
  and the whole meeting is inside the booking window (rolling weeks from today, or the
  custom date range); a host whose day has reached the cap is not free that day.
- One-on-one: its host is free. Round robin: any host is free (the slot names those
  that are). Group: every host is free.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil, floor
from datetime import date, datetime, timedelta
from typing import NamedTuple, Sequence

from ..errors import InvalidInput
from .intervals import Interval, merge, subtract, union
from .rules import CUSTOM_RANGE, CompiledRules, Rules, compile_rules
from .wallclock import UTC, at, day_of, day_start, to_epoch

ONE_ON_ONE = "One-on-one"
ROUND_ROBIN = "Round Robin"
GROUP = "Group"
MEETING_TYPES = (ONE_ON_ONE, ROUND_ROBIN, GROUP)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_DAY = timedelta(days=1)


class Slot(NamedTuple):
    start: datetime  # aware, UTC
    end: datetime
    hosts: tuple[str, ...]  # the hosts free for it, in the order given


@dataclass(frozen=True)
class ExistingBooking:
    start: datetime
    end: datetime
    buffer_before: int = 0  # minutes, the buffers of the link it was booked on
    buffer_after: int = 0
    counts_toward_cap: bool = True  # booked through this link


@dataclass(frozen=True)
class HostSchedule:
    host: str
    busy: Sequence[tuple[datetime, datetime]] = ()
    bookings: Sequence[ExistingBooking] = ()


def compute_slots(
    rules: Rules | CompiledRules,
    hosts: Sequence[HostSchedule],
    *,
    now: datetime,
    range_start: datetime,
    range_end: datetime,
    duration: int | None = None,
    meeting_type: str = ONE_ON_ONE,
) -> list[Slot]:
    """Bookable slots starting in [range_start, range_end), ascending.

    `duration` is in minutes and must be one of the rules' durations (default: the first).
    """
    compiled = compile_rules(rules)
    zone = compiled.zone
    length = _duration(compiled, duration)
    step = compiled.start_increment or length
    if meeting_type not in MEETING_TYPES:
        raise InvalidInput("meeting_type", f"must be one of {', '.join(MEETING_TYPES)}")
    if not hosts:
        raise InvalidInput("hosts", "at least one host is required")
    if meeting_type == ONE_ON_ONE and len(hosts) != 1:
        raise InvalidInput("hosts", "a one-on-one link has exactly one host")

    now_s = to_epoch(now, "now")
    horizon_start, horizon_end = booking_window(compiled, now_s)
    lowest = max(to_epoch(range_start, "range_start"), now_s + compiled.minimum_notice, horizon_start)
    beyond = min(to_epoch(range_end, "range_end"), horizon_end - length + 1)  # starts < beyond
    if lowest >= beyond:
        return []

    first_day = day_of(lowest, zone)
    last_day = day_of(beyond - 1, zone)
    days = _days(first_day, last_day)
    windows = [(day, [(at(day, a, zone), at(day, b, zone)) for a, b in compiled.windows_on(day)]) for day in days]
    # A meeting may run on into the next days' windows: include them in the cover.
    tail = _days(last_day + _ONE_DAY, day_of(beyond - 1 + length, zone))  # a 23-hour day counts too
    cover = merge(
        [w for _, day_windows in windows for w in day_windows]
        + [(at(day, a, zone), at(day, b, zone)) for day in tail for a, b in compiled.windows_on(day)]
    )

    per_host: list[tuple[str, list[int]]] = []
    for schedule in hosts:
        blocked = _blocked(compiled, schedule)
        free = subtract(cover, blocked)
        full = _full_days(compiled, schedule, zone)
        per_host.append((schedule.host, _starts(windows, free, full, lowest, beyond, length, step)))

    if meeting_type == ONE_ON_ONE:
        host, starts = per_host[0]
        return _slots(starts, length, [(host,)] * len(starts))
    if meeting_type == GROUP:
        everyone = tuple(host for host, _ in per_host)
        common = sorted(set(per_host[0][1]).intersection(*(starts for _, starts in per_host[1:])))
        return _slots(common, length, [everyone] * len(common))
    free_hosts: dict[int, list[str]] = {}
    for host, starts in per_host:
        for s in starts:
            found = free_hosts.get(s)
            if found is None:
                free_hosts[s] = [host]
            else:
                found.append(host)
    ordered = sorted(free_hosts)
    return _slots(ordered, length, [tuple(free_hosts[s]) for s in ordered])


def booking_window(compiled: CompiledRules, now_s: int) -> tuple[int, int]:
    """[first, end) instants a meeting must lie within: rolling weeks or the custom range."""
    zone = compiled.zone
    if compiled.window_type == CUSTOM_RANGE:
        return day_start(compiled.range_start, zone), day_start(compiled.range_end + _ONE_DAY, zone)
    today = day_of(now_s, zone)
    return day_start(today, zone), day_start(today + timedelta(weeks=compiled.rolling_weeks), zone)


def _duration(compiled: CompiledRules, duration: int | None) -> int:
    if duration is None:
        return compiled.durations[0]
    if isinstance(duration, bool) or not isinstance(duration, int) or duration * 60 not in compiled.durations:
        offered = ", ".join(str(d // 60) for d in compiled.durations)
        raise InvalidInput("duration", f"{duration!r} minutes is not offered (choose {offered})")
    return duration * 60


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _blocked(compiled: CompiledRules, schedule: HostSchedule) -> list[Interval]:
    before, after = compiled.buffer_before, compiled.buffer_after
    busy = schedule.busy
    starts = [start.timestamp() for start, _ in busy]
    ends = [end.timestamp() for _, end in busy]
    if None in {start.tzinfo for start, _ in busy} or None in {end.tzinfo for _, end in busy}:
        naive = next(value for pair in busy for value in pair if value.tzinfo is None)
        to_epoch(naive, "busy")  # raises, naming the field
    if any(end <= start for start, end in zip(starts, ends)):  # empty or inverted: ignore
        kept = [(start, end) for start, end in zip(starts, ends) if end > start]
        starts, ends = [start for start, _ in kept], [end for _, end in kept]
    # Widening by the link's buffers commutes with the union, so widen the (fewer)
    # merged spans; whole seconds, rounded outwards.
    spans = [(floor(start) - after, ceil(end) + before) for start, end in union(starts, ends)]
    for booking in schedule.bookings:
        spans.append(
            (
                to_epoch(booking.start, "bookings") - max(after, booking.buffer_before * 60),
                to_epoch(booking.end, "bookings") + max(before, booking.buffer_after * 60),
            )
        )
    return merge(spans)


def _full_days(compiled: CompiledRules, schedule: HostSchedule, zone) -> set[date]:
    cap = compiled.max_bookings_per_day
    if not cap:
        return set()
    counts: dict[date, int] = {}
    for booking in schedule.bookings:
        if booking.counts_toward_cap:
            day = day_of(to_epoch(booking.start, "bookings"), zone)
            counts[day] = counts.get(day, 0) + 1
    return {day for day, count in counts.items() if count >= cap}


def _starts(windows, free, full_days, lowest, beyond, length, step) -> list[int]:
    """Grid starts, anchored at each window's beginning, whose meeting fits a free span."""
    starts: list[int] = []
    j = 0
    n = len(free)
    for day, day_windows in windows:
        if day in full_days:
            continue
        for anchor, close in day_windows:
            low = anchor if anchor > lowest else lowest
            high = close if close < beyond else beyond
            if low >= high:
                continue
            while j < n and free[j][1] - length < low:
                j += 1
            k = j
            while k < n and free[k][0] < high:
                free_start, free_end = free[k]
                first = low if low > free_start else free_start
                stop = free_end - length + 1
                if stop > high:
                    stop = high
                if first < stop:
                    first = anchor + -((anchor - first) // step) * step  # round up onto the grid
                    starts.extend(range(first, stop, step))
                k += 1
    return starts


def _slots(starts: list[int], length: int, hosts: list[tuple[str, ...]]) -> list[Slot]:
    # The hot loop of a month view: tuple.__new__ skips NamedTuple's Python-level __new__.
    span = timedelta(seconds=length)
    new = tuple.__new__
    begins = [_EPOCH + timedelta(seconds=s) for s in starts]
    return [new(Slot, (b, b + span, who)) for b, who in zip(begins, hosts)]
