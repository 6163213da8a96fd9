"""A Meeting Link record (a Frappe doc's as_dict() or a standalone row) as engine rules."""

from __future__ import annotations

from typing import Any, Mapping

from .scheduling import DateOverride, Rules, WeeklyWindow, compile_rules


def _rows(link: Mapping[str, Any], table: str) -> list[Mapping[str, Any]]:
    return list(link.get(table) or [])


def rules_from_link(link: Mapping[str, Any]) -> Rules:
    return Rules(
        timezone=link.get("timezone"),
        availability=[
            WeeklyWindow(row.get("weekday"), row.get("start_time"), row.get("end_time"))
            for row in _rows(link, "availability")
        ],
        durations=link.get("durations") or "",
        date_overrides=[
            DateOverride(row.get("date"), row.get("start_time"), row.get("end_time"), bool(row.get("unavailable")))
            for row in _rows(link, "date_overrides")
        ],
        start_increment=link.get("start_increment") or 0,
        buffer_before=link.get("buffer_before") or 0,
        buffer_after=link.get("buffer_after") or 0,
        minimum_notice=link.get("minimum_notice") or 0,
        window_type=link.get("window_type") or "Rolling",
        rolling_weeks=link.get("rolling_weeks") if link.get("rolling_weeks") not in (None, "") else 4,
        range_start=link.get("range_start"),
        range_end=link.get("range_end"),
        max_bookings_per_day=link.get("max_bookings_per_day") or 0,
    )


def validate_link_rules(link: Mapping[str, Any]) -> None:
    """Raise InvalidRule naming the Meeting Link field that is wrong."""
    compile_rules(rules_from_link(link))
