"""The visitor's view: the same instants, labelled and grouped in the visitor's zone."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Iterable

from .rules import load_zone
from .slots import Slot
from .wallclock import from_epoch, day_start


def visitor_range(first: date, last: date, timezone: str) -> tuple[datetime, datetime]:
    """Instants [start, end) covering the visitor's dates `first`..`last` inclusive."""
    zone = load_zone(timezone)
    return from_epoch(day_start(first, zone)), from_epoch(day_start(last + timedelta(days=1), zone))


def in_zone(slot: Slot, timezone: str) -> tuple[datetime, datetime]:
    zone = load_zone(timezone)
    return slot.start.astimezone(zone), slot.end.astimezone(zone)


def group_by_day(slots: Iterable[Slot], timezone: str) -> dict[date, list[tuple[datetime, datetime]]]:
    """Slots relabelled in the visitor's zone, grouped by the visitor's date of their start."""
    zone = load_zone(timezone)
    days: dict[date, list[tuple[datetime, datetime]]] = {}
    for slot in slots:
        start = slot.start.astimezone(zone)
        days.setdefault(start.date(), []).append((start, slot.end.astimezone(zone)))
    return days
