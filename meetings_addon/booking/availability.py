"""Host schedules for the engine: busy times from every checked calendar, plus the
bookings already in the store.

Busy times are read only where they can matter: from `now` (less PAD) to the end of the
link's booking window (plus PAD); a month view past the window asks no calendar at all.

Two paths (`live`):
- Page views (get_link, get_slots) use a short free/busy cache per calendar
  (services.cache, FREEBUSY_TTL seconds, keyed by the availability epoch, so every
  booking, calendar write and sync drops it at once). A miss asks the provider once for
  all of a connection's uncovered calendars over at least HORIZON days from the first
  uncovered instant, so the page's get_link and the month view it then asks for cost one
  free/busy call per calendar, and a warm cache none. A failure is remembered as long,
  so a dead provider is not asked on every view.
- Booking and rescheduling (live=True) always read the calendars afresh.

A calendar that cannot be read (the provider raises CalendarUnavailable: the adapter has
marked lasting failures on the connection, see connections/health.py) puts the link in
request mode for that view; an adapter may attach `busy` (what the other calendars
answered) to the error. A connection marked Error whose calendars answer again is
marked working at once (health.mark_reachable).

Round robin departs from that: a host with a calendar that cannot be read is busy for
the whole range (never offered, never assigned: their real free/busy is unknown), and
the link stays bookable through the other hosts; only when no host can be read does it
go to request mode. A group needs every host, so one unreachable host means request
mode. For team links the link's owner is told once per failure
(connections/notify.alert_link_owner).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Optional, Sequence

from ..connections import health, notify
from ..connections.registry import user_calendars
from ..errors import CalendarUnavailable, MeetingsError
from ..links import rules_from_link
from ..ports import Services
from ..scheduling import GROUP, ONE_ON_ONE, ROUND_ROBIN, ExistingBooking, HostSchedule, booking_window, compile_rules
from . import slot_cache

# Existing bookings carry buffers of up to a day; fetch that much around the range.
PAD = timedelta(days=2)
BLOCKING = ("Confirmed",)
FREEBUSY_TTL = slot_cache.TTL  # seconds a calendar's busy times are reused by page views
HORIZON = timedelta(days=42)  # a page-view miss reads at least this far: a month view and its pads


@dataclass
class Schedules:
    hosts: list[HostSchedule]
    failing: list[str] = field(default_factory=list)  # calendars that could not be read
    unreachable: list[str] = field(default_factory=list)  # hosts with a calendar that could not be read
    meeting_type: str = ONE_ON_ONE

    @property
    def mode(self) -> str:
        if not self.failing:
            return "book"
        if self.meeting_type == ROUND_ROBIN and len(self.unreachable) < len(self.hosts):
            return "book"  # the hosts that can be read take the meetings
        return "request"


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
    live: bool = False,
) -> Schedules:
    """Every host's busy times in [start - PAD, end + PAD) (within the booking window).

    live: read the calendars now (booking, rescheduling); else page views may use the
    free/busy cache. With `exclude` (a booking being moved), that booking's own time is
    not busy: its event sits in its hosts' calendars, and must not stop it moving onto an
    overlapping time.
    """
    rows = booking_rows(services, start, end)
    bookings = bookings_by_host(rows, users, link.get("name"), exclude)
    moving = [row for row in rows if row["name"] == exclude]
    low, high, reach = _busy_range(services, link, start, end)
    kind = link.get("meeting_type") or ONE_ON_ONE
    result = Schedules(hosts=[], meeting_type=kind)
    failing_hosts: list[str] = []
    for user in users:
        calendars = user_calendars(services, user)
        busy: list[tuple[datetime, datetime]] = []
        failing = list(calendars.failing)
        healed = False
        for connection, provider, calendar_ids in calendars.sources:
            if not calendar_ids or high <= low:
                continue
            try:
                found = _read_busy(services, connection, provider, calendar_ids, low, high, live=live, reach=reach)
            except CalendarUnavailable as error:
                failing.append(f"{connection.get('provider')}: {error.message}")
                found = getattr(error, "busy", None) or {}
            else:
                if connection.get("status") == "Error":
                    health.mark_reachable(services, connection)
                    healed = True
            for intervals in found.values():
                busy.extend(intervals)
        if healed:  # what is still failing, now that a connection answered again
            failing = [f for f in user_calendars(services, user).failing] + [f for f in failing if f not in calendars.failing]
        result.failing.extend(failing)
        if failing:
            failing_hosts.append(user)
        for row in moving:
            if user in [row.get("host")] + (row.get("other_hosts") or "").splitlines():
                busy = _without(busy, row["start"], row["end"])
        result.hosts.append(HostSchedule(user, busy=busy, bookings=bookings[user]))
    result.unreachable = failing_hosts
    if kind == ROUND_ROBIN and failing_hosts and len(failing_hosts) < len(result.hosts):
        # Unknown free/busy is busy: never assign a host we cannot read (a double booking
        # would only show later, in their calendar).
        whole = [(start - PAD, end + PAD)]
        result.hosts = [
            HostSchedule(h.host, busy=whole, bookings=h.bookings) if h.host in failing_hosts else h for h in result.hosts
        ]
    if failing_hosts and kind in (ROUND_ROBIN, GROUP):
        notify.alert_link_owner(services, link, failing_hosts)
    return result


def _busy_range(services: Services, link: Mapping[str, Any], start: datetime, end: datetime) -> tuple[datetime, datetime, datetime]:
    """(low, high, reach): the busy times that can block a slot of [start, end) lie in
    [low, high); none after `reach` can block any slot of the link. Nothing before now
    can be booked, nothing after the booking window; PAD covers buffers (at most a day)
    and meetings that run past a day's end."""
    now = services.clock.now()
    low, high = max(start, now) - PAD, end + PAD
    try:
        _, window_end = booking_window(compile_rules(rules_from_link(link)), int(now.timestamp()))
    except (MeetingsError, ValueError, TypeError, KeyError):
        return low, high, high  # rules that do not compile: the caller reports them
    reach = datetime.fromtimestamp(window_end, tz=timezone.utc) + PAD
    return low, min(high, reach), reach


# --- the free/busy cache of page views ---------------------------------------------------


def _read_busy(services, connection, provider, calendar_ids, start, end, *, live: bool, reach: Optional[datetime] = None):
    cache = services.cache
    if live or cache is None or not connection.get("name") or connection.get("provider") == "Local":
        return provider.busy(calendar_ids, start, end)  # Local: the store itself, always fresh
    epoch = slot_cache.epoch(services)
    failed_key = f"meetings:busy-failed:{epoch}:{connection['name']}"
    failed = cache.get(failed_key)
    if failed:
        raise CalendarUnavailable(failed)
    now = time.time()
    a, b = start.timestamp(), end.timestamp()
    keys = {calendar_id: f"meetings:busy:{epoch}:{connection['name']}:{calendar_id}" for calendar_id in calendar_ids}
    entries: dict[str, list] = {}
    gaps: dict[str, float] = {}
    for calendar_id, key in keys.items():
        chunks = [chunk for chunk in cache.get(key) or [] if now - chunk[0] < FREEBUSY_TTL]
        entries[calendar_id] = chunks
        gap = _first_gap(chunks, a, b)
        if gap is not None:
            gaps[calendar_id] = gap
    if gaps:
        low = min(gaps.values())
        high = max(b, min(low + HORIZON.total_seconds(), reach.timestamp() if reach else b))
        missing = list(gaps)
        try:
            answer = provider.busy(missing, _at(low), _at(high))
        except CalendarUnavailable as error:
            partial = getattr(error, "busy", None)
            if partial is None:  # the whole account failed: do not ask again for a while
                cache.set(f"meetings:busy-failed:{slot_cache.epoch(services)}:{connection['name']}", error.message, FREEBUSY_TTL)
            else:  # some calendars failed (the adapter marked them): the others answered
                error.busy = {**{c: _from_chunks(entries[c], a, b) for c in calendar_ids if c not in gaps}, **partial}
            raise
        fetched = time.time()
        for calendar_id in missing:
            intervals = [(s.timestamp(), e.timestamp()) for s, e in answer.get(calendar_id) or []]
            entries[calendar_id] = entries[calendar_id] + [(fetched, low, high, intervals)]
            cache.set(keys[calendar_id], entries[calendar_id], FREEBUSY_TTL)
    return {calendar_id: _from_chunks(entries[calendar_id], a, b) for calendar_id in calendar_ids}


def _first_gap(chunks: list, a: float, b: float) -> Optional[float]:
    """The first instant of [a, b) that no chunk covers; None when all of it is covered."""
    cursor = a
    for _, c0, c1, _ in sorted(chunks, key=lambda chunk: chunk[1]):
        if c0 > cursor:
            break
        cursor = max(cursor, c1)
        if cursor >= b:
            return None
    return cursor if cursor < b else None


def _from_chunks(chunks: list, a: float, b: float) -> list[tuple[datetime, datetime]]:
    found = {(s, e) for _, c0, c1, intervals in chunks if c0 < b and c1 > a for s, e in intervals if s < b and e > a}
    return [(_at(s), _at(e)) for s, e in sorted(found)]


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


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
