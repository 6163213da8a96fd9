"""A meeting link's scheduling rules, and their validation.

Field names are the Meeting Link's (CONTRACT.md), so an error names the field a user
edits. `compile_rules` validates once and turns the rules into plain numbers the slot
computation uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Sequence, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import InvalidRule
from .intervals import merge
from .wallclock import parse_clock

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ROLLING = "Rolling"
CUSTOM_RANGE = "Custom Range"
MAX_CUSTOM_RANGE_DAYS = 70  # ten weeks, as HubSpot
MAX_ROLLING_WEEKS = 52
MAX_MINUTES = 24 * 60  # longest duration, increment or buffer
MAX_NOTICE_MINUTES = 365 * 24 * 60

@dataclass(frozen=True)
class WeeklyWindow:
    """One wall-clock window on a weekday: 0 or "Monday" .. 6 or "Sunday"."""

    weekday: Union[int, str]
    start_time: object
    end_time: object


@dataclass(frozen=True)
class DateOverride:
    """A date with its own window (several rows make several windows), or unavailable."""

    date: date
    start_time: object = None
    end_time: object = None
    unavailable: bool = False


@dataclass(frozen=True)
class Rules:
    timezone: str
    availability: Sequence[WeeklyWindow]
    durations: Sequence[int] = (30,)
    date_overrides: Sequence[DateOverride] = ()
    start_increment: int = 0
    buffer_before: int = 0
    buffer_after: int = 0
    minimum_notice: int = 0
    window_type: str = ROLLING
    rolling_weeks: int = 4
    range_start: date | None = None
    range_end: date | None = None
    max_bookings_per_day: int = 0


@dataclass(frozen=True)
class CompiledRules:
    """Validated rules in seconds; windows are (start, end) seconds after local midnight."""

    zone: ZoneInfo
    weekly: tuple[tuple[tuple[int, int], ...], ...]  # index 0 = Monday
    overrides: dict[date, tuple[tuple[int, int], ...]] = field(hash=False)
    durations: tuple[int, ...]
    start_increment: int  # 0 = the meeting's duration
    buffer_before: int
    buffer_after: int
    minimum_notice: int
    window_type: str
    rolling_weeks: int
    range_start: date | None
    range_end: date | None
    max_bookings_per_day: int

    def windows_on(self, day: date) -> tuple[tuple[int, int], ...]:
        found = self.overrides.get(day)
        return found if found is not None else self.weekly[day.weekday()]


def _whole(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            if isinstance(value, bool) or value is None or float(value) != int(float(value)):
                raise ValueError
            value = int(float(value))
        except (TypeError, ValueError):
            raise InvalidRule(name, f"{value!r} is not a whole number") from None
    if not low <= value <= high:
        raise InvalidRule(name, f"must be between {low} and {high}, not {value}")
    return value


def load_zone(name: object, field_name: str = "timezone") -> ZoneInfo:
    if not isinstance(name, str) or not name.strip():
        raise InvalidRule(field_name, "an IANA time zone such as Europe/Paris is required")
    try:
        return _zone(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidRule(field_name, f"{name!r} is not a known IANA time zone") from None


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _weekday(value: object, row: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    if isinstance(value, str) and value.strip().capitalize() in WEEKDAYS:
        return WEEKDAYS.index(value.strip().capitalize())
    raise InvalidRule("availability", f"row {row}: weekday {value!r} is not Monday..Sunday")


def _window(start: object, end: object, field_name: str, row: int, label: str) -> tuple[int, int]:
    begins = parse_clock(start, field_name)
    ends = parse_clock(end, field_name, is_end=True)
    if ends <= begins:
        raise InvalidRule(field_name, f"row {row} ({label}): end_time {end} is not after start_time {start}")
    return begins, ends


def _as_date(value: object, name: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InvalidRule(name, f"{value!r} is not a date (YYYY-MM-DD)")


def compile_rules(rules: Rules) -> CompiledRules:
    """Validate `rules`; raise InvalidRule naming the first bad field."""
    if isinstance(rules, CompiledRules):
        return rules
    zone = load_zone(rules.timezone)

    weekly: list[list[tuple[int, int]]] = [[] for _ in WEEKDAYS]
    for row, window in enumerate(rules.availability or (), start=1):
        day = _weekday(window.weekday, row)
        weekly[day].append(_window(window.start_time, window.end_time, "availability", row, WEEKDAYS[day]))

    by_date: dict[date, list[tuple[int, int]]] = {}
    closed: set[date] = set()
    for row, override in enumerate(rules.date_overrides or (), start=1):
        day = _as_date(override.date, "date_overrides")
        if override.unavailable:
            # Hours left on an unavailable row are ignored, as a form keeps them.
            closed.add(day)
            by_date.setdefault(day, [])
            continue
        if override.start_time in (None, "") or override.end_time in (None, ""):
            raise InvalidRule("date_overrides", f"row {row} ({day}): give start_time and end_time, or mark it unavailable")
        by_date.setdefault(day, []).append(_window(override.start_time, override.end_time, "date_overrides", row, str(day)))
    for day in closed:
        if by_date[day]:
            raise InvalidRule("date_overrides", f"{day} is marked unavailable and also has hours; keep one")

    durations = rules.durations
    if isinstance(durations, str):
        durations = [part for part in durations.replace(" ", "").split(",") if part]
    if isinstance(durations, int):
        durations = [durations]
    if not durations:
        raise InvalidRule("durations", "at least one duration in minutes is required")
    minutes = sorted({_whole(value, "durations", 1, MAX_MINUTES) for value in durations})

    window_type = rules.window_type or ROLLING
    if window_type not in (ROLLING, CUSTOM_RANGE):
        raise InvalidRule("window_type", f"must be {ROLLING!r} or {CUSTOM_RANGE!r}, not {window_type!r}")
    rolling_weeks = rules.rolling_weeks
    range_start = range_end = None
    if window_type == ROLLING:
        rolling_weeks = _whole(rolling_weeks, "rolling_weeks", 1, MAX_ROLLING_WEEKS)
    else:
        if rules.range_start in (None, ""):
            raise InvalidRule("range_start", "a custom range needs a first date")
        if rules.range_end in (None, ""):
            raise InvalidRule("range_end", "a custom range needs a last date")
        range_start = _as_date(rules.range_start, "range_start")
        range_end = _as_date(rules.range_end, "range_end")
        if range_end < range_start:
            raise InvalidRule("range_end", f"{range_end} is before range_start {range_start}")
        days = (range_end - range_start).days + 1
        if days > MAX_CUSTOM_RANGE_DAYS:
            raise InvalidRule("range_end", f"a custom range covers at most 10 weeks (70 days), not {days}")
        rolling_weeks = 0

    return CompiledRules(
        zone=zone,
        weekly=tuple(tuple(merge(windows)) for windows in weekly),
        overrides={day: tuple(merge(windows)) for day, windows in by_date.items()},
        durations=tuple(m * 60 for m in minutes),
        start_increment=_whole(rules.start_increment or 0, "start_increment", 0, MAX_MINUTES) * 60,
        buffer_before=_whole(rules.buffer_before or 0, "buffer_before", 0, MAX_MINUTES) * 60,
        buffer_after=_whole(rules.buffer_after or 0, "buffer_after", 0, MAX_MINUTES) * 60,
        minimum_notice=_whole(rules.minimum_notice or 0, "minimum_notice", 0, MAX_NOTICE_MINUTES) * 60,
        window_type=window_type,
        rolling_weeks=rolling_weeks,
        range_start=range_start,
        range_end=range_end,
        max_bookings_per_day=_whole(rules.max_bookings_per_day or 0, "max_bookings_per_day", 0, 1000),
    )


def validate_rules(rules: Rules) -> None:
    """Raise InvalidRule naming the field when `rules` cannot be used."""
    compile_rules(rules)

