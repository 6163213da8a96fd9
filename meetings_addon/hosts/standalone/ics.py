"""Import an iCalendar (.ics) file into a user's Local calendar.

Recurring events are expanded (icalendar + recurring-ical-events) from 30 days ago to a
year ahead, RECURRENCE-ID overrides and EXDATEs included. TRANSP:TRANSPARENT events are
kept but do not block; STATUS:CANCELLED events are skipped (and an occurrence imported
earlier is marked cancelled). All-day events block midnight to midnight in the user's
time zone (User.time_zone, UTC when unset); floating times are read in that zone too.

Importing the same file again updates what it imported before instead of duplicating
it: an occurrence is keyed by its UID and, for recurring events, its RECURRENCE-ID.
"""

from __future__ import annotations

from ...booking import slot_cache

import hashlib
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Optional, Union
from zoneinfo import ZoneInfo

from ...errors import InvalidInput, NotFound
from ...ports import Services
from ...scheduling import all_day, load_zone

DOCTYPE = "Local Calendar Event"
PAST = timedelta(days=30)
AHEAD = timedelta(days=365)
MAX_BYTES = 20 * 1024 * 1024


def import_ics(services: Services, user_email: str, path: Union[str, Path]) -> int:
    """Load the events of the .ics file at `path` into the user's Local calendar.

    Returns how many event occurrences were imported (inserted or updated)."""
    path = Path(path)
    if not services.store.get_value("User", {"name": user_email}, "name"):
        raise NotFound(f"User {user_email} does not exist (create it with `meetings user add {user_email}`)")
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InvalidInput("file", f"{path} is larger than {MAX_BYTES // (1024 * 1024)} MB")
        data = path.read_bytes()
    except OSError as error:
        raise InvalidInput("file", f"cannot read {path}: {error.strerror or error}") from None
    return import_ics_data(services, user_email, data)


def import_ics_data(services: Services, user_email: str, data: Union[bytes, str]) -> int:
    import icalendar
    import recurring_ical_events

    user = services.store.get("User", user_email)
    if not user:
        raise NotFound(f"User {user_email} does not exist (create it with `meetings user add {user_email}`)")
    zone = load_zone(user.get("time_zone") or "UTC", "time_zone")
    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)  # a file may hold several
    except Exception as error:  # noqa: BLE001 - the parser raises ValueError and others
        raise InvalidInput("file", f"not an iCalendar file ({error})") from None
    if not calendars and (data.strip() if isinstance(data, (bytes, str)) else data):
        raise InvalidInput("file", "not an iCalendar file (no VCALENDAR in it)")
    now = services.clock.now()
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    cancelled: set[tuple[str, str]] = set()
    for cal in calendars:
        cal = _standard(cal)
        recurring = _recurring_uids(cal)
        try:
            occurrences = recurring_ical_events.of(cal, skip_bad_series=True).between(now - PAST, now + AHEAD)
        except Exception as error:  # noqa: BLE001 - a malformed rule or date in the file
            raise InvalidInput("file", f"cannot expand the events ({error})") from None
        for event in occurrences:
            row = _row(event, zone, recurring)
            if row is None:
                continue
            key = (row["uid"], row["recurrence_id"] or "")
            if str(event.get("STATUS", "")).upper() == "CANCELLED":
                cancelled.add(key)
                rows.pop(key, None)
                continue
            if key not in cancelled:
                rows[key] = row
    count = _save(services, user_email, rows, cancelled)
    slot_cache.invalidate(services)  # the calendar changed under any cached month view
    return count


def _standard(cal):
    """Calendars exported by Google carry X-WR-TIMEZONE for their floating times."""
    try:
        import x_wr_timezone

        return x_wr_timezone.to_standard(cal)
    except Exception:  # noqa: BLE001 - without the helper the calendar is used as it is
        return cal


def _recurring_uids(cal) -> set[str]:
    found = set()
    for component in cal.walk("VEVENT"):
        if component.get("RRULE") or component.get("RDATE") or component.get("RECURRENCE-ID"):
            found.add(str(component.get("UID", "")))
    return found


def _instant(value: Any, zone: ZoneInfo) -> datetime:
    if value.tzinfo is None:  # floating: the user's wall clock
        value = value.replace(tzinfo=zone)
    return value.astimezone(timezone.utc)


def _stamp(value: Any, zone: ZoneInfo) -> str:
    if isinstance(value, datetime):
        return _instant(value, zone).strftime("%Y%m%dT%H%M%SZ")
    return value.strftime("%Y%m%d")


def _text(event, name: str, limit: int) -> str:
    value = event.get(name)
    return str(value)[:limit] if value is not None else ""


def _row(event, zone: ZoneInfo, recurring: set[str]) -> Optional[dict[str, Any]]:
    start_prop = event.get("DTSTART")
    if start_prop is None:
        return None
    start = start_prop.dt
    end_prop = event.get("DTEND")
    end = end_prop.dt if end_prop is not None else None
    if end is None and event.get("DURATION") is not None:
        end = start + event.get("DURATION").dt
    is_all_day = isinstance(start, date) and not isinstance(start, datetime)
    if is_all_day:
        last = end if isinstance(end, date) and not isinstance(end, datetime) and end > start else start + timedelta(days=1)
        begin, finish = all_day(start, last, zone)
    else:
        begin = _instant(start, zone)
        finish = _instant(end, zone) if isinstance(end, datetime) else begin
        if finish < begin:
            finish = begin
    uid = str(event.get("UID") or "").strip()
    if not uid:  # no UID: one made of what identifies the event, stable across imports
        seed = f"{_text(event, 'SUMMARY', 500)}|{_stamp(start, zone)}"
        uid = "import-" + hashlib.sha256(seed.encode()).hexdigest()[:24]
    recurrence_id = None
    if uid in recurring:
        rid = event.get("RECURRENCE-ID")
        recurrence_id = _stamp(rid.dt if rid is not None else start, zone)
    return {
        "uid": uid[:140],
        "recurrence_id": recurrence_id,
        "summary": _text(event, "SUMMARY", 140),
        "location": _text(event, "LOCATION", 140),
        "description": _text(event, "DESCRIPTION", 5000),
        "start": begin,
        "end": finish,
        "all_day": 1 if is_all_day else 0,
        "transparent": 1 if str(event.get("TRANSP", "")).upper() == "TRANSPARENT" else 0,
        "status": "Tentative" if str(event.get("STATUS", "")).upper() == "TENTATIVE" else "Confirmed",
        "source": "Import",
    }


def _save(services: Services, user: str, rows: dict, cancelled: Iterable[tuple[str, str]]) -> int:
    store = services.store
    with store.atomic():
        existing = {
            (row["uid"], row.get("recurrence_id") or ""): row["name"]
            for row in store.list(DOCTYPE, {"user": user, "source": "Import"}, fields=("name", "uid", "recurrence_id"))
        }
        for key in cancelled:
            if key in existing:
                store.update(DOCTYPE, existing[key], {"status": "Cancelled"})
        for key, row in rows.items():
            if key in existing:
                store.update(DOCTYPE, existing[key], row)
            else:
                store.insert(DOCTYPE, {"user": user, **row, "owner": user})
    return len(rows)
