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


def validate_hosts(link: Mapping[str, Any]) -> None:
    """The hosts table of a team link: no host twice, no negative weight, and a Round
    Robin link with hosts needs one of positive weight (weight 0 = only when no one else
    is free). Raises InvalidRule naming `hosts`."""
    from .errors import InvalidRule

    seen: set[str] = set()
    weights = []
    for idx, row in enumerate(_rows(link, "hosts"), start=1):
        user = row.get("user")
        if user in seen:
            raise InvalidRule("hosts", f"row {idx}: {user} is listed twice")
        seen.add(user)
        weight = row.get("weight")
        if weight in (None, ""):
            weight = 1
        try:
            weight = int(weight)
        except (TypeError, ValueError):
            raise InvalidRule("hosts", f"row {idx}: weight must be a whole number") from None
        if weight < 0:
            raise InvalidRule("hosts", f"row {idx}: weight must be 0 or more")
        weights.append(weight)
    if link.get("meeting_type") == "Round Robin" and weights and not any(weights):
        raise InvalidRule("hosts", "at least one host needs a weight above 0 (weight 0 hosts only take meetings no one else is free for)")
