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


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def first_instant(local: datetime, zone: ZoneInfo) -> int:
    """Epoch seconds of the first instant whose wall-clock time in `zone` is >= `local`."""
    naive = (local.toordinal() - _EPOCH_ORDINAL) * DAY + local.hour * 3600 + local.minute * 60 + local.second
    return _instant(local.year, local.month, local.day, local.hour, local.minute, local.second, naive, zone)


def at(day: date, seconds: int, zone: ZoneInfo) -> int:
    """Epoch seconds of wall-clock `seconds` after midnight on `day` (86400 = next midnight)."""
    if seconds >= DAY:
        day += timedelta(days=seconds // DAY)
        seconds %= DAY
    hour, rest = divmod(seconds, 3600)
    minute, second = divmod(rest, 60)
    naive = (day.toordinal() - _EPOCH_ORDINAL) * DAY + seconds
    return _instant(day.year, day.month, day.day, hour, minute, second, naive, zone)


def day_start(day: date, zone: ZoneInfo) -> int:
    """Epoch seconds at which `day` begins in `zone` (its first instant)."""
    return at(day, 0, zone)


def _instant(year, month, day, hour, minute, second, naive: int, zone: ZoneInfo) -> int:
    # PEP 495: fold=0 reads a wall time with the offset in force before a transition,
    # fold=1 with the one after. After > before only inside a spring-forward gap.
    local = datetime(year, month, day, hour, minute, second)
    before = zone.utcoffset(local)
    after = zone.utcoffset(datetime(year, month, day, hour, minute, second, 0, None, fold=1))
    if after <= before:  # an ordinary time, or a repeated one read at its first occurrence
        return naive - (before.days * DAY + before.seconds)
    # In the gap: the clock jumps past `local` at the transition, which lies between
    # the two readings; find it by bisection on whole seconds.
    low = naive - (after.days * DAY + after.seconds)
    high = naive - (before.days * DAY + before.seconds)
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= local:
            high = middle
        else:
            low = middle
    return high


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
