"""Helpers the provider tests share: New York times, a month's get_slots payload, every
listed calendar checked, and the offered starts as a set."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")


def at(day, hour, minute=0):
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY)


def month(kit, **extra):
    monday = kit.next_monday()
    return {"link": "hana-30", "start": monday.isoformat(), "end": (monday + timedelta(days=27)).isoformat(),
            "timezone": "America/New_York", **extra}


def check_all(services, connection):
    """The user ticks every listed calendar for availability."""
    rows = [dict(row, check_availability=1) for row in connection["calendars"]]
    services.store.update("Calendar Connection", connection["name"], {"calendars": rows})
    return services.store.get("Calendar Connection", connection["name"])


def starts(answer):
    return {datetime.fromisoformat(slot["start"]).astimezone(timezone.utc) for slot in answer["slots"]}
