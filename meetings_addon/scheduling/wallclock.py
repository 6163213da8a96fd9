"""Wall-clock times to instants, exactly, across DST transitions.

The rule used everywhere: a wall-clock time on a date means *the first instant at which
the local clock reads that time or later*. So

- an ordinary time is its one instant;
- a time repeated by a fall-back transition is its first occurrence;
- a time skipped by a spring-forward transition is the transition instant (the clock
  jumps past it there).

It is monotonic — a later wall time never maps to an earlier instant — so a wall-clock
window [09:00, 17:00) always maps to one contiguous, non-negative UTC interval and
windows never overlap after conversion. Instants are integer seconds since the epoch.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
DAY = 86400


def first_instant(local: datetime, zone: ZoneInfo) -> int:
    """Epoch seconds of the first instant whose wall-clock time in `zone` is >= `local`."""
    instant = int(local.replace(tzinfo=zone, fold=0).timestamp())
    if datetime.fromtimestamp(instant, zone).replace(tzinfo=None) == local:
        return instant
    # `local` falls in a gap. fold=0 read it with the offset from before the jump (an
    # instant after the transition), fold=1 with the offset after it (one before); the
    # transition lies between and is found by bisection on whole seconds.
    before = int(local.replace(tzinfo=zone, fold=1).timestamp())
    after = instant
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= local:
            after = middle
        else:
            before = middle
    return after


def day_start(day: date, zone: ZoneInfo) -> int:
    """Epoch seconds at which `day` begins in `zone` (its first instant)."""
    return first_instant(datetime(day.year, day.month, day.day), zone)


def at(day: date, seconds: int, zone: ZoneInfo) -> int:
    """Epoch seconds of wall-clock `seconds` after midnight on `day` (86400 = next midnight)."""
    local = datetime(day.year, day.month, day.day) + timedelta(seconds=seconds)
    return first_instant(local, zone)


def day_of(instant: int, zone: ZoneInfo) -> date:
    """The local day an instant belongs to: the D with day_start(D) <= instant < day_start(D+1)."""
    day = datetime.fromtimestamp(instant, zone).date()
    # Only differs from the plain local date inside a repeated (fall-back) stretch that
    # crosses midnight; adjust rather than assume.
    while instant < day_start(day, zone):
        day -= timedelta(days=1)
    while instant >= day_start(day + timedelta(days=1), zone):
        day += timedelta(days=1)
    return day


def to_epoch(value: datetime, field: str) -> int:
    """Aware datetime to epoch seconds; a naive one is refused (it has no instant)."""
    if value.tzinfo is None or value.utcoffset() is None:
        from ..errors import InvalidInput

        raise InvalidInput(field, f"{value.isoformat()} has no time zone; give an aware datetime")
    return int(value.timestamp())


def from_epoch(instant: int) -> datetime:
    return datetime.fromtimestamp(instant, UTC)


def parse_clock(value: object, field: str, *, is_end: bool = False) -> int:
    """'HH:MM[:SS]' or a datetime.time/timedelta to seconds after midnight.

    An end of '24:00' (or of 00:00, which Frappe's Time field stores for midnight) means
    the end of the day.
    """
    from ..errors import InvalidRule

    seconds: int | None = None
    if isinstance(value, time):
        seconds = value.hour * 3600 + value.minute * 60 + value.second
    elif isinstance(value, timedelta):  # Frappe returns Time fields as timedelta
        seconds = int(value.total_seconds())
    elif isinstance(value, str):
        parts = value.strip().split(":")
        if 2 <= len(parts) <= 3 and all(p.isdigit() and len(p) <= 2 for p in parts):
            hours, minutes = int(parts[0]), int(parts[1])
            secs = int(parts[2]) if len(parts) == 3 else 0
            if minutes < 60 and secs < 60 and (hours < 24 or (hours == 24 and minutes == secs == 0)):
                seconds = hours * 3600 + minutes * 60 + secs
    if seconds is None or not 0 <= seconds <= DAY:
        raise InvalidRule(field, f"{value!r} is not a time of day (HH:MM or HH:MM:SS)")
    if is_end and seconds == 0:
        return DAY
    if not is_end and seconds == DAY:
        raise InvalidRule(field, "a window cannot start at 24:00")
    return seconds


def all_day(first: date, end: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """An all-day (or multi-day) event from `first` up to, not including, `end`, in `zone`."""
    return from_epoch(day_start(first, zone)), from_epoch(day_start(end, zone))
