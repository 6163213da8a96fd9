"""A calendar that cannot be read: mark it, tell its owner once, and recover.

While any checked calendar of a link's hosts is failing, the booking page is in request
mode (booking/availability.py reads `status`), so nothing a visitor sends is lost.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from ..booking import slot_cache
from ..ports import Services

CONNECTION = "Calendar Connection"


def mark_failing(services: Services, connection: Mapping[str, Any], error: str, calendar_id: Optional[str] = None) -> None:
    """Record the error on the connection (or on one of its calendars)."""
    name = connection.get("name")
    if not name:
        return
    doc = services.store.get(CONNECTION, name) or {}
    if calendar_id:
        calendars = [dict(row) for row in doc.get("calendars") or []]
        for row in calendars:
            if row.get("calendar_id") == calendar_id:
                row.update(status="Failing", error=error[:1000])
        services.store.update(CONNECTION, name, {"calendars": calendars})
    else:
        services.store.update(CONNECTION, name, {"status": "Error", "error": error[:1000]})
    slot_cache.invalidate(services)


def mark_ok(services: Services, connection: Mapping[str, Any]) -> None:
    """Reconnected or repaired: booking comes back at once."""
    name = connection.get("name")
    if not name:
        return
    doc = services.store.get(CONNECTION, name) or {}
    calendars = [dict(row, status="OK", error=None) for row in doc.get("calendars") or []]
    services.store.update(CONNECTION, name, {"status": "Connected", "error": None, "calendars": calendars})
    slot_cache.invalidate(services)
