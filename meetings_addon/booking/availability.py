"""Host schedules for the engine: live busy times from every checked calendar, plus the
bookings already in the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Mapping, Optional, Sequence

from ..connections.registry import user_calendars
from ..errors import CalendarUnavailable
from ..ports import Services
from ..scheduling import ExistingBooking, HostSchedule

# Existing bookings carry buffers of up to a day; fetch that much around the range.
PAD = timedelta(days=2)
BLOCKING = ("Confirmed",)


@dataclass
class Schedules:
    hosts: list[HostSchedule]
    failing: list[str] = field(default_factory=list)  # calendars that could not be read

    @property
    def mode(self) -> str:
        return "request" if self.failing else "book"


def link_hosts(link: Mapping[str, Any]) -> list[str]:
    if link.get("meeting_type") in ("Round Robin", "Group"):
        users = [row["user"] for row in link.get("hosts") or [] if row.get("user")]
        if users:
            return list(dict.fromkeys(users))
    return [link["host"]]


def booking_rows(services: Services, start: datetime, end: datetime, *, for_update: bool = False) -> list[dict[str, Any]]:
    """Blocking bookings that may matter for meetings in [start, end)."""
    return services.store.list(
        "Booking",
        filters={"status": ["in", list(BLOCKING)], "start": ["<", end + PAD], "end": [">", start - PAD]},
        fields=("name", "host", "other_hosts", "meeting_link", "start", "end", "buffer_before", "buffer_after"),
        for_update=for_update,
    )


def bookings_by_host(
    rows: list[dict[str, Any]], users: Sequence[str], link: Optional[str], exclude: Optional[str] = None
) -> dict[str, list[ExistingBooking]]:
    """Each user's bookings; only those of `link` count toward its daily cap."""
    found: dict[str, list[ExistingBooking]] = {user: [] for user in users}
    for row in rows:
        if row["name"] == exclude:
            continue
        members = [row.get("host")] + [u for u in (row.get("other_hosts") or "").splitlines() if u]
        for user in members:
            if user in found:
                found[user].append(
                    ExistingBooking(
                        row["start"],
                        row["end"],
                        int(row.get("buffer_before") or 0),
                        int(row.get("buffer_after") or 0),
                        counts_toward_cap=row.get("meeting_link") == link,
                    )
                )
    return found


def schedules(
    services: Services,
    link: Mapping[str, Any],
    users: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    exclude: Optional[str] = None,
) -> Schedules:
    """Every host's busy times in [start - PAD, end + PAD), read live from the calendars.

    With `exclude` (a booking being moved), that booking's own time is not busy: its
    event sits in its hosts' calendars, and must not stop it moving onto an overlapping time.
    """
    rows = booking_rows(services, start, end)
    bookings = bookings_by_host(rows, users, link.get("name"), exclude)
    moving = [row for row in rows if row["name"] == exclude]
    result = Schedules(hosts=[])
    for user in users:
        calendars = user_calendars(services, user)
        busy: list[tuple[datetime, datetime]] = []
        result.failing.extend(calendars.failing)
        for connection, provider, calendar_ids in calendars.sources:
            if not calendar_ids:
                continue
            try:
                for intervals in provider.busy(calendar_ids, start - PAD, end + PAD).values():
                    busy.extend(intervals)
            except CalendarUnavailable as error:
                result.failing.append(f"{connection.get('provider')}: {error.message}")
        for row in moving:
            if user in [row.get("host")] + (row.get("other_hosts") or "").splitlines():
                busy = _without(busy, row["start"], row["end"])
        result.hosts.append(HostSchedule(user, busy=busy, bookings=bookings[user]))
    return result


def _without(busy: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The busy intervals minus [start, end)."""
    kept = []
    for b0, b1 in busy:
        if b1 <= start or b0 >= end:
            kept.append((b0, b1))
            continue
        if b0 < start:
            kept.append((b0, start))
        if b1 > end:
            kept.append((end, b1))
    return kept
