"""A calendar that cannot be read: mark it, tell its owner once, and recover.

While any checked calendar of a link's hosts is failing, the booking page is in request
mode (booking/availability.py reads `status`), so nothing a visitor sends is lost.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from ..booking import slot_cache
from ..ports import Services

CONNECTION = "Calendar Connection"


def mark_failing(services: Services, connection: Mapping[str, Any], error: str, calendar_id: Optional[str] = None) -> bool:
    """Record the error on the connection (or on one of its calendars).

    Idempotent: marking what is already marked only refreshes the message, and only a
    change of state drops the cached views. Returns True when the state changed."""
    name = connection.get("name")
    if not name:
        return False
    doc = services.store.get(CONNECTION, name)
    if not doc:
        return False
    message = (error or "")[:1000]
    if calendar_id:
        calendars = [dict(row) for row in doc.get("calendars") or []]
        changed = touched = False
        for row in calendars:
            if row.get("calendar_id") == calendar_id and (row.get("status") != "Failing" or row.get("error") != message):
                changed = changed or row.get("status") != "Failing"
                touched = True
                row.update(status="Failing", error=message)
        if touched:
            services.store.update(CONNECTION, name, {"calendars": calendars})
    else:
        changed = doc.get("status") != "Error"
        if changed or doc.get("error") != message:
            services.store.update(CONNECTION, name, {"status": "Error", "error": message})
    if changed:
        if not doc.get("failing_since"):  # a new failure: team links' owners are told again
            services.store.update(CONNECTION, name, {"failing_since": services.clock.now()})
        slot_cache.invalidate(services)
        from . import notify  # late: notify builds on this module

        # Queued in the transaction that records the failure, whatever noticed it (a page
        # view of another link, a sync, a booking): the owners hear of it without waiting
        # for a view of their own link.
        notify.alert_team_link_owners(services, doc.get("user"))
    return changed


def mark_ok(services: Services, connection: Mapping[str, Any]) -> None:
    """Reconnected or repaired: booking comes back at once (and a new failure will be
    told to the owner again)."""
    name = connection.get("name")
    if not name:
        return
    doc = services.store.get(CONNECTION, name) or {}
    calendars = [dict(row, status="OK", error=None) for row in doc.get("calendars") or []]
    services.store.update(
        CONNECTION, name, {"status": "Connected", "error": None, "failure_notified_on": None, "failing_since": None, "calendars": calendars}
    )
    slot_cache.invalidate(services)


def mark_reachable(services: Services, connection: Mapping[str, Any]) -> None:
    """The account answered again (a read succeeded): clear its error, not the calendars
    that failed on their own (a deleted calendar stays failing until it is removed)."""
    name = connection.get("name")
    if not name or connection.get("status") != "Error":
        return
    doc = services.store.get(CONNECTION, name)
    if not doc or doc.get("status") != "Error":
        return
    values: dict[str, Any] = {"status": "Connected", "error": None}
    if not any(row.get("status") == "Failing" for row in doc.get("calendars") or []):
        values["failure_notified_on"] = None
        values["failing_since"] = None
    services.store.update(CONNECTION, name, values)
    slot_cache.invalidate(services)
